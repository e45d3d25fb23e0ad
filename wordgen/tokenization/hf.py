"""Hugging Face tokenizers: any tokenizer.json (`HFTokenizer`) and byte-level BPE (`BPETokenizer`).

The only module in wordgen that imports Hugging Face ``tokenizers`` (the package is
named ``tokenization`` because a local ``tokenizers`` module would shadow it).

Deliberately not done: downloads (a tokenizer.json comes from a local file), the
post-processor's special tokens ([CLS], [SEP], <s>...), truncation and padding --
wordgen feeds the ids to a language model as one long stream.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Iterator, Sequence

import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from wordgen import _io
from wordgen.errors import TokenizerError
from wordgen.tokenization.base import EMPTY_TEXT, UNK, Tokenizer, check_text, existing_file, has_text, training_texts


class HFTokenizer(Tokenizer):
    """Any Hugging Face ``tokenizer.json`` (BPE, WordPiece, Unigram, WordLevel...).

    "Training" an hf tokenizer means loading its file: ``hf:PATH`` ignores the texts.
    Encoding never adds the post-processor's special tokens ([CLS], [SEP], <s>...), and
    truncation and padding are switched off, because wordgen feeds the ids to a language
    model as one long stream; a file that asked for them is saved back without them.
    Decoding keeps special tokens, so an unknown piece shows as the model's unk token.
    The round trip is only as exact as the wrapped tokenizer (WordPiece lower-cases and
    strips accents, for instance).
    """

    kind = "hf"
    spec_shorthand = "path"  # "hf:/some/tokenizer.json"

    def __init__(self, hf_tokenizer: tokenizers.Tokenizer):
        self._hf = hf_tokenizer
        self._hf.no_truncation()
        self._hf.no_padding()
        model = json.loads(self._hf.to_str()).get("model", {})
        # BPE, WordPiece and WordLevel name their unk token; Unigram stores its id.
        if model.get("unk_token") is not None:
            self._unk_id = self._hf.token_to_id(model["unk_token"])
        elif isinstance(model.get("unk_id"), int):
            self._unk_id = model["unk_id"]
        else:
            self._unk_id = None

    @property
    def hf_tokenizer(self) -> tokenizers.Tokenizer:
        """The wrapped `tokenizers.Tokenizer`, for anything this class does not expose."""
        return self._hf

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "HFTokenizer":
        """Load a Hugging Face tokenizer.json from a local path."""
        path = existing_file(path)
        try:
            hf = tokenizers.Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception for every parse error
            raise TokenizerError(
                f"{str(path)!r} is not a valid Hugging Face tokenizer.json: {_io.first_line(e)}"
            ) from None
        return cls(hf)

    @classmethod
    def train_from_texts(cls, texts: Iterable[str], path: str | os.PathLike | None = None) -> "HFTokenizer":
        if path is None or path == "":
            raise TokenizerError("the hf tokenizer needs a file: use 'hf:/path/to/tokenizer.json'")
        return cls.from_file(path)

    @classmethod
    def from_dict(cls, d: dict) -> "HFTokenizer":
        if not isinstance(d, dict) or "model" not in d:
            raise TokenizerError("not a Hugging Face tokenizer: the JSON has no 'model' entry")
        try:
            hf = tokenizers.Tokenizer.from_str(json.dumps(d))
        except Exception as e:
            raise TokenizerError(f"damaged Hugging Face tokenizer: {_io.first_line(e)}") from None
        return cls(hf)

    def to_dict(self) -> dict:
        # Exactly Hugging Face's JSON (it rejects extra top-level keys), so a saved file
        # opens with tokenizers.Tokenizer.from_file as well as with load_tokenizer.
        return json.loads(self._hf.to_str())

    def encode(self, text: str) -> list[int]:
        return self._hf.encode(check_text(text), add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        texts = [check_text(t) for t in texts]
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets, which a
        # batch never needs (only unk_pieces reads them); the ids are the same.
        encode = getattr(self._hf, "encode_batch_fast", self._hf.encode_batch)
        return [e.ids for e in encode(texts, add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        # skip_special_tokens=False: "<unk>" in the input encodes to the special token,
        # and skipping it on the way back would drop text (and hide unknown pieces).
        return self._hf.decode(self._check_ids(ids), skip_special_tokens=False)

    def unk_pieces(self, text: str) -> list[str]:
        # Hugging Face keeps each token's character offsets into the original text
        # (tracked through its normaliser), so they cut out what each unk token hides.
        if self._unk_id is None:
            return []
        encoding = self._hf.encode(check_text(text), add_special_tokens=False)
        return [text[a:b] for i, (a, b) in zip(encoding.ids, encoding.offsets) if i == self._unk_id]

    @property
    def vocab_size(self) -> int:
        return self._hf.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, i: int) -> str:
        token = self._hf.id_to_token(self._check_ids([i])[0])
        if token is None:  # a hole in a hand-edited vocabulary
            raise TokenizerError(f"token id {i} has no token in this tokenizer")
        return token

    def token_to_id(self, token: str) -> int | None:
        return self._hf.token_to_id(token)

    @property
    def special_tokens(self) -> list[str]:
        added = self._hf.get_added_tokens_decoder()
        return [added[i].content for i in sorted(added) if added[i].special]

    @property
    def unk_id(self) -> int | None:
        return self._unk_id


class BPETokenizer(HFTokenizer):
    """Byte-level BPE trained with Hugging Face ``tokenizers`` (the GPT-2 recipe).

    Text is cut GPT-2 style (ByteLevel pre-tokenizer, no prefix space) and every byte is
    in the initial alphabet, so nothing is ever unknown: ``decode(encode(s)) == s`` for
    any string. The vocabulary is the 256 byte symbols, ``<unk>`` (id 0, kept so every
    tokenizer has one; only the literal text "<unk>" produces it) and the learned merges,
    `vocab_size` in all when the training text has enough distinct pairs to merge.
    A prefix of the ids can end inside a multi-byte character, which decodes as "�".
    """

    kind = "bpe"
    spec_shorthand = "vocab_size"  # "bpe:8000"
    _MIN_VOCAB = 256 + 1 + 1  # byte alphabet + <unk> + at least one merge

    @classmethod
    def train_from_texts(cls, texts: Iterable[str], vocab_size: int = 2000) -> "BPETokenizer":
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < cls._MIN_VOCAB:
            raise TokenizerError(
                f"bpe vocab_size must be a whole number >= {cls._MIN_VOCAB} "
                f"(256 bytes + <unk> + at least one merge), got {vocab_size!r}"
            )
        hf = tokenizers.Tokenizer(models.BPE(unk_token=UNK))
        # The ByteLevel decoder undoes the pre-tokenizer's byte-to-symbol mapping
        # (spaces become "Ġ"); without it decoded text loses its spaces.
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[UNK],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,  # the library never prints; only the CLI and tasks do
        )
        any_text = False

        def stream() -> Iterator[str]:
            # Check the texts as they stream into the Rust trainer rather than holding
            # the corpus in a list first.
            nonlocal any_text
            for text in training_texts(texts):
                any_text = any_text or has_text(text)
                yield text

        hf.train_from_iterator(stream(), trainer=trainer)
        if not any_text:
            raise TokenizerError(EMPTY_TEXT)
        return cls(hf)

    @classmethod
    def looks_like_wordgen_bpe(cls, d: dict) -> bool:
        """Whether a Hugging Face JSON dict has exactly the pipeline `train_from_texts` builds.

        The saved file must stay pure Hugging Face JSON, so there is no room for a
        "made by wordgen" marker; the recipe itself is the marker.
        """
        model, pre, dec = d.get("model") or {}, d.get("pre_tokenizer") or {}, d.get("decoder") or {}
        return (
            model.get("type") == "BPE"
            and model.get("unk_token") == UNK
            and pre.get("type") == "ByteLevel"
            and pre.get("add_prefix_space") is False
            and dec.get("type") == "ByteLevel"
            and d.get("normalizer") is None
            and d.get("post_processor") is None
            and [t.get("content") for t in d.get("added_tokens") or []] == [UNK]
        )
