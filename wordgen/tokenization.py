"""Tokenizers: text <-> token ids, one interface for characters, words, BPE and any tokenizer.json.

What it does
------------
* `Tokenizer` is the interface every part of wordgen codes against: `train_from_texts`,
  `encode` / `encode_batch`, `decode`, the vocabulary (`vocab_size`, `id_to_token`,
  `token_to_id`, `special_tokens`, `unk_id`) and persistence (`to_dict` / `from_dict`,
  `save`, `load_tokenizer`).
* Four built-in kinds, picked by a short spec string (`parse_tokenizer_spec`):

  ==========  ===================  ==============================================
  spec        class                vocabulary
  ==========  ===================  ==============================================
  ``char``    `CharTokenizer`      ``<unk>`` + every character seen in training
  ``word``    `WordTokenizer`      ``<unk>``, ``\\n`` + the most frequent words
  ``bpe:N``   `BPETokenizer`       byte-level BPE of size N (Hugging Face)
  ``hf:PATH`` `HFTokenizer`        whatever the tokenizer.json at PATH holds
  ==========  ===================  ==============================================

* `register_tokenizer` plugs in a student's own class under a new spec name.
* `save` writes one JSON file. Char and word tokenizers use a small versioned format
  (``{"wordgen_tokenizer": "word", "version": 1, ...}``); BPE and hf tokenizers write the
  Hugging Face ``tokenizer.json`` itself, so ``tokenizers.Tokenizer.from_file`` opens it.

What it deliberately does not do
--------------------------------
* No normalisation (lower-casing, Unicode NFC, ...): case and spelling are part of the
  text the model learns. A wrapped Hugging Face tokenizer keeps its own normaliser.
* No beginning/end-of-text or padding tokens: the language model reads one long stream
  (see `wordgen.data`), so the only special token wordgen itself adds is ``<unk>``.
  For the same reason a wrapped tokenizer.json never adds its post-processor's tokens
  (``[CLS]``/``[SEP]``) and has its truncation and padding turned off.
* No printing, no progress bars, no downloads: a tokenizer.json comes from a local file.

This is the only module in wordgen that imports Hugging Face ``tokenizers``; it is named
``tokenization`` because a local ``tokenizers.py`` would shadow that package.
"""

from __future__ import annotations

import abc
import importlib.metadata
import inspect
import json
import operator
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from wordgen.errors import TokenizerError

__all__ = [
    "UNK",
    "Tokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "HFTokenizer",
    "BPETokenizer",
    "register_tokenizer",
    "available_tokenizers",
    "parse_tokenizer_spec",
    "train_tokenizer",
    "load_tokenizer",
    "tokenizer_from_dict",
]

UNK = "<unk>"

# Version of wordgen's own JSON format (char and word tokenizers). Bump it when the
# layout changes and teach `from_dict` to read the old one (minbpe's "minbpe v1" idea).
FORMAT_VERSION = 1

_EMPTY_TEXT = "cannot train a tokenizer on empty text (the training texts are empty or only whitespace)"


def _one_line(message: object) -> str:
    # Errors from Rust (tokenizers) or json can span lines; a student reads the first.
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(message).__name__


def _training_texts(texts: Iterable[str]) -> Iterator[str]:
    """Yield the training texts one by one, refusing anything that is not a string.

    A generator, so a corpus larger than memory streams through; one plain string is
    accepted as a one-text corpus (iterating it would give characters, which silently
    breaks every word into letters).
    """
    if isinstance(texts, str):
        texts = [texts]
    try:
        iterator = iter(texts)
    except TypeError:
        raise TokenizerError(
            f"training texts must be an iterable of strings, got {type(texts).__name__}"
        ) from None
    for text in iterator:
        if not isinstance(text, str):
            raise TokenizerError(f"training texts must be strings, got a {type(text).__name__}")
        yield text


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TokenizerError(f"can only encode a string, got a {type(text).__name__}")
    return text


def _as_int(value: object, what: str) -> int:
    # operator.index accepts Python, NumPy and one-element torch integers but, unlike
    # int(), refuses floats: token id 3.7 is a bug upstream, not something to round.
    try:
        return operator.index(value)
    except TypeError:
        raise TokenizerError(f"{what} must be a whole number, got {value!r}") from None


class Tokenizer(abc.ABC):
    """Text <-> list of token ids, with a vocabulary of `vocab_size` ids 0..vocab_size-1.

    Subclasses implement the abstract methods; `encode_batch`, `special_tokens`, `unk_id`,
    `save` and `count_unk` have working defaults. Build instances with the classmethods
    (`train_from_texts`, `from_dict`), not with flags on ``__init__``.
    """

    kind: ClassVar[str]  # registry / spec name: "char", "word", "bpe", "hf" or a user's name
    # The option a bare spec value sets: "bpe:8000" means vocab_size=8000. None: the
    # spec takes only key=value options.
    spec_shorthand: ClassVar[str | None] = None

    # -- construction ----------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def train_from_texts(cls, texts: Iterable[str], **options: Any) -> "Tokenizer":
        """Build a tokenizer from training texts; `options` come from the spec string."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        """Inverse of `to_dict`."""

    # -- text <-> ids ----------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text -> token ids. The empty string gives []."""

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Several texts at once (a loop here; Hugging Face tokenizers run in parallel)."""
        return [self.encode(text) for text in texts]

    @abc.abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text. Ids outside [0, vocab_size) raise TokenizerError."""

    # -- vocabulary ------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """Number of ids; every id is in range(vocab_size)."""

    @abc.abstractmethod
    def id_to_token(self, i: int) -> str:
        """The token string of id `i` (TokenizerError when out of range)."""

    @abc.abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of `token`, or None when it is not in the vocabulary."""

    @property
    def special_tokens(self) -> list[str]:
        """Tokens that stand for something other than their own text (here: ``<unk>``)."""
        return [UNK] if self.token_to_id(UNK) is not None else []

    @property
    def unk_id(self) -> int | None:
        """Id that unknown input maps to, or None when nothing is ever unknown."""
        return self.token_to_id(UNK)

    def count_unk(self, ids: Iterable[int]) -> int:
        """How many of `ids` are ``<unk>``: report it beside perplexity (see DESIGN.md)."""
        unk = self.unk_id
        if unk is None:
            return 0
        return sum(1 for i in ids if operator.index(i) == unk)

    # -- persistence -----------------------------------------------------------------
    @abc.abstractmethod
    def to_dict(self) -> dict:
        """A JSON-serialisable description that `from_dict` turns back into this tokenizer."""

    def save(self, path: str | os.PathLike) -> None:
        """Write `to_dict()` as one JSON file, atomically.

        The JSON goes to a temporary file in the same folder and is then renamed over
        `path` (`os.replace` is atomic on one file system), so a crash mid-write leaves
        either the old file or the new one, never half a tokenizer.
        """
        path = Path(os.path.expanduser(os.fspath(path)))
        d = dict(self.to_dict())  # a copy: to_dict may hand out internal state
        # A user class that forgot the marker still loads back through load_tokenizer;
        # Hugging Face files must stay exactly HF's format (it rejects unknown keys).
        if "model" not in d:
            d.setdefault("wordgen_tokenizer", self.kind)
        text = json.dumps(d, ensure_ascii=False, indent=2)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise TokenizerError(f"cannot write tokenizer to {str(path)!r}: {_one_line(e)}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a tokenizer is not a secret
            os.replace(tmp, path)
        except BaseException as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise TokenizerError(f"cannot write tokenizer to {str(path)!r}: {_one_line(e)}") from None
            raise

    # -- helpers shared by subclasses ------------------------------------------------
    def _check_ids(self, ids: Sequence[int]) -> list[int]:
        """Plain Python ints, each in [0, vocab_size); TokenizerError otherwise."""
        n = self.vocab_size
        out = [_as_int(i, "a token id") for i in ids]
        for i in out:
            if not 0 <= i < n:
                raise TokenizerError(
                    f"token id {i} is outside this tokenizer's vocabulary (ids 0..{n - 1}); "
                    "was the model trained with a different tokenizer?"
                )
        return out

    @classmethod
    def _check_native_dict(cls, d: dict) -> None:
        """Reject a dict that is not this class's wordgen format (wrong kind or version)."""
        if not isinstance(d, dict):
            raise TokenizerError(f"a {cls.kind} tokenizer must be loaded from a dict, got {type(d).__name__}")
        kind = d.get("wordgen_tokenizer")
        if kind != cls.kind:
            raise TokenizerError(
                f"this is a {kind!r} tokenizer, not {cls.kind!r}: load it with load_tokenizer()"
            )
        version = d.get("version")
        if version != FORMAT_VERSION:
            raise TokenizerError(
                f"{cls.kind} tokenizer file has format version {version!r}; this wordgen reads "
                f"version {FORMAT_VERSION} (upgrade wordgen or retrain the tokenizer)"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={self.vocab_size})"


# ---------------------------------------------------------------------------------------
# Character level
# ---------------------------------------------------------------------------------------


class CharTokenizer(Tokenizer):
    """One token per Unicode character (code point), as in the curriculum's char-LSTM.

    Vocabulary: ``<unk>`` is id 0, then every character seen in training sorted by code
    point (so the ids do not depend on the order of the texts). An unseen character
    encodes to ``<unk>``, which decodes to U+FFFD "�": a single character, so the decoded
    text has exactly one character per id and stays aligned with the ids (decoding it
    as the five characters "<unk>" would not). Text made only of seen characters
    round-trips exactly.
    """

    kind = "char"
    UNK_TEXT = "\ufffd"  # what <unk> decodes to

    def __init__(self, chars: Sequence[str]):
        # chars: the vocabulary in id order, chars[0] == UNK.
        self._itos = list(chars)
        self._stoi = {c: i for i, c in enumerate(self._itos)}

    @classmethod
    def train_from_texts(cls, texts: Iterable[str]) -> "CharTokenizer":
        seen: set[str] = set()
        has_text = False
        for text in _training_texts(texts):
            seen.update(text)
            has_text = has_text or (text != "" and not text.isspace())
        if not has_text:
            raise TokenizerError(_EMPTY_TEXT)
        return cls([UNK, *sorted(seen)])

    def encode(self, text: str) -> list[int]:
        stoi = self._stoi
        return [stoi.get(c, 0) for c in _check_text(text)]

    def decode(self, ids: Sequence[int]) -> str:
        itos = self._itos
        return "".join(itos[i] if i else self.UNK_TEXT for i in self._check_ids(ids))

    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    def id_to_token(self, i: int) -> str:
        return self._itos[self._check_ids([i])[0]]

    def token_to_id(self, token: str) -> int | None:
        return self._stoi.get(token)

    def to_dict(self) -> dict:
        return {"wordgen_tokenizer": self.kind, "version": FORMAT_VERSION, "vocab": list(self._itos)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        cls._check_native_dict(d)
        vocab = d.get("vocab")
        if (
            not isinstance(vocab, list)
            or not vocab
            or vocab[0] != UNK
            or not all(isinstance(c, str) and len(c) == 1 for c in vocab[1:])
            or len(set(vocab)) != len(vocab)
        ):
            raise TokenizerError(
                "damaged char tokenizer: 'vocab' must list '<unk>' then distinct single characters"
            )
        return cls(vocab)


# ---------------------------------------------------------------------------------------
# Word level
# ---------------------------------------------------------------------------------------

# A word is a run of Unicode letters/digits ([^\W_] is \w without the underscore),
# possibly joined by inner apostrophes or hyphens: "o'er", "hurlyburly's", "well-known",
# "don’t" (curly apostrophe, common in Gutenberg texts) stay one token. An apostrophe
# that starts a word belongs to it ("'tis", "'gainst": Shakespeare is full of these, and
# as a separate token it would decode as "Whether' tis"); a trailing one ("kings'") is a
# separate punctuation token, which decode attaches to the word before it. Every newline is its
# own token, so verse lines and "SPEAKER:" lines survive; every other non-space
# character (punctuation, symbols, emoji, "_") is a one-character token; the rest of the
# whitespace is dropped. The literal "<unk>" comes first so that decoded text
# (where <unk> prints as "<unk>") encodes back to the same ids.
# Known limitation: combining marks (category M) are not in \w, so text in NFD form or in
# scripts such as Devanagari splits at each mark; NFC-normalise such text first.
_WORD_RE = re.compile(r"<unk>|['’]?[^\W_]+(?:['’\-][^\W_]+)*|\n|\S")

NEWLINE = "\n"
# decode() joins tokens with one space, except around these (English typesetting):
_NO_SPACE_BEFORE = frozenset(",.;:!?')]}’”»…%")
_NO_SPACE_AFTER = frozenset("([{‘“«")
# The straight double quote opens and closes: odd ones (1st, 3rd, ...) open, even ones
# close. Counting from the start of the text keeps decode prefix-consistent; a quote
# that spans paragraphs without closing throws the pairing off, which only costs a space.
_DOUBLE_QUOTE = '"'


class WordTokenizer(Tokenizer):
    """Words, single punctuation characters and newlines; unknown words become ``<unk>``.

    Vocabulary: ``<unk>`` (id 0), ``"\\n"`` (id 1), then the training tokens by descending
    frequency, ties broken alphabetically (by code point), keeping tokens seen at least
    `min_freq` times, and at most `max_vocab` tokens in all (the two fixed tokens count).

    `decode` joins tokens with single spaces except: no space before ``, . ; : ! ? ' ) ]``
    and closing quotes, none after ``( [`` and opening quotes, none around ``"\\n"``.
    Each token's spacing depends only on the tokens before it, so decoding a prefix of
    the ids gives a prefix of the full decoded text (the CLI streams that way). The
    round trip is not exact (spacing is normalised, ``<unk>`` prints as "<unk>"), but
    re-encoding decoded text gives back the same ids.
    """

    kind = "word"

    def __init__(self, vocab: Sequence[str], *, min_freq: int = 1, max_vocab: int | None = None):
        # vocab: the tokens in id order, vocab[0] == UNK, vocab[1] == "\n".
        self._itos = list(vocab)
        self._stoi = {t: i for i, t in enumerate(self._itos)}
        self.min_freq = min_freq  # kept for to_dict: how the vocabulary was chosen
        self.max_vocab = max_vocab

    @staticmethod
    def split(text: str) -> list[str]:
        """The token strings of `text`, before vocabulary lookup."""
        return _WORD_RE.findall(text)

    @classmethod
    def train_from_texts(
        cls, texts: Iterable[str], min_freq: int = 1, max_vocab: int | None = None
    ) -> "WordTokenizer":
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise TokenizerError(f"word min_freq must be a whole number >= 1, got {min_freq!r}")
        if max_vocab is not None and (
            isinstance(max_vocab, bool) or not isinstance(max_vocab, int) or max_vocab < 3
        ):
            raise TokenizerError(
                f"word max_vocab must be a whole number >= 3 (it counts <unk> and the newline), got {max_vocab!r}"
            )
        counts: Counter[str] = Counter()
        for text in _training_texts(texts):
            counts.update(_WORD_RE.findall(text))
        fixed = [UNK, NEWLINE]
        if not any(t != NEWLINE for t in counts):  # nothing but whitespace

            raise TokenizerError(_EMPTY_TEXT)
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in fixed),
            key=lambda t: (-counts[t], t),
        )
        if not ranked:
            raise TokenizerError(
                f"no word occurs at least min_freq={min_freq} times in the training text; lower min_freq"
            )
        if max_vocab is not None:
            ranked = ranked[: max_vocab - len(fixed)]
        return cls(fixed + ranked, min_freq=min_freq, max_vocab=max_vocab)

    def encode(self, text: str) -> list[int]:
        return self._encode(_check_text(text), {})

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        memo: dict[str, tuple[int, ...]] = {}  # shared: a chunk met in one text is known in the next
        return [self._encode(_check_text(text), memo) for text in texts]

    def _encode(self, text: str, memo: dict[str, tuple[int, ...]]) -> list[int]:
        """What `[stoi.get(t, 0) for t in _WORD_RE.findall(text)]` gives, faster.

        No token spans whitespace other than the newline token itself, so the text
        can be cut at newlines and whitespace first (str.split, fast C code) and
        each chunk ("lord,", "thee.") run through the regex and the vocabulary
        once: English text repeats its chunks, so most are found in `memo`.
        Python's ``\\s`` and ``str.split()`` agree on what is whitespace. Chunk ids
        are kept as tuples, which the garbage collector soon stops scanning.
        """
        stoi = self._stoi
        ids: list[int] = []
        for n, line in enumerate(text.split(NEWLINE)):
            if n:
                ids.append(1)  # the newline token's id
            for chunk in line.split():
                chunk_ids = memo.get(chunk)
                if chunk_ids is None:
                    chunk_ids = memo[chunk] = tuple([stoi.get(t, 0) for t in _WORD_RE.findall(chunk)])
                ids.extend(chunk_ids)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        itos = self._itos
        parts: list[str] = []
        prev: str | None = None  # previous token; None at the start of the text
        prev_opens = False  # the previous token wants no space after it
        quotes_open = False  # parity of straight double quotes so far
        for i in self._check_ids(ids):
            tok = itos[i]
            if tok == _DOUBLE_QUOTE:
                closes = quotes_open
                quotes_open = not quotes_open
            else:
                closes = tok in _NO_SPACE_BEFORE
            glue = prev is None or prev == NEWLINE or tok == NEWLINE or prev_opens or closes
            parts.append(tok if glue else " " + tok)
            prev = tok
            prev_opens = tok in _NO_SPACE_AFTER or (tok == _DOUBLE_QUOTE and quotes_open)
        return "".join(parts)

    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    def id_to_token(self, i: int) -> str:
        return self._itos[self._check_ids([i])[0]]

    def token_to_id(self, token: str) -> int | None:
        return self._stoi.get(token)

    def to_dict(self) -> dict:
        return {
            "wordgen_tokenizer": self.kind,
            "version": FORMAT_VERSION,
            "min_freq": self.min_freq,
            "max_vocab": self.max_vocab,
            "vocab": list(self._itos),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "WordTokenizer":
        cls._check_native_dict(d)
        vocab = d.get("vocab")
        if (
            not isinstance(vocab, list)
            or vocab[:2] != [UNK, NEWLINE]
            or not all(isinstance(t, str) and t for t in vocab)
            or len(set(vocab)) != len(vocab)
        ):
            raise TokenizerError(
                "damaged word tokenizer: 'vocab' must list '<unk>', '\\n', then distinct tokens"
            )
        return cls(vocab, min_freq=d.get("min_freq", 1), max_vocab=d.get("max_vocab"))


# ---------------------------------------------------------------------------------------
# Hugging Face tokenizers
# ---------------------------------------------------------------------------------------


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
        path = Path(os.path.expanduser(os.fspath(path)))
        if not path.exists():
            raise TokenizerError(f"no tokenizer file at {str(path)!r}")
        if path.is_dir():
            raise TokenizerError(f"{str(path)!r} is a folder; give the path of the tokenizer.json inside it")
        try:
            hf = tokenizers.Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception for every parse error
            raise TokenizerError(
                f"{str(path)!r} is not a valid Hugging Face tokenizer.json: {_one_line(e)}"
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
            raise TokenizerError(f"damaged Hugging Face tokenizer: {_one_line(e)}") from None
        return cls(hf)

    def to_dict(self) -> dict:
        # Exactly Hugging Face's JSON (it rejects extra top-level keys), so a saved file
        # opens with tokenizers.Tokenizer.from_file as well as with load_tokenizer.
        return json.loads(self._hf.to_str())

    def encode(self, text: str) -> list[int]:
        return self._hf.encode(_check_text(text), add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        texts = [_check_text(t) for t in texts]
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets, which wordgen
        # never reads; the ids are the same.
        encode = getattr(self._hf, "encode_batch_fast", self._hf.encode_batch)
        return [e.ids for e in encode(texts, add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        # skip_special_tokens=False: "<unk>" in the input encodes to the special token,
        # and skipping it on the way back would drop text (and hide unknown pieces).
        return self._hf.decode(self._check_ids(ids), skip_special_tokens=False)

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
            show_progress=False,  # the library never prints (DESIGN.md, habit 7)
        )
        has_text = False

        def stream() -> Iterator[str]:
            # Check the texts as they stream into the Rust trainer rather than holding
            # the corpus in a list first.
            nonlocal has_text
            for text in _training_texts(texts):
                has_text = has_text or (text != "" and not text.isspace())
                yield text

        hf.train_from_iterator(stream(), trainer=trainer)
        if not has_text:
            raise TokenizerError(_EMPTY_TEXT)
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


# ---------------------------------------------------------------------------------------
# Registry, specs, loading
# ---------------------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
    "hf": HFTokenizer,
}
_BUILTIN = frozenset(_REGISTRY)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What a registered class must provide when it does not subclass Tokenizer.
_REQUIRED = ("train_from_texts", "encode", "decode", "vocab_size", "to_dict", "from_dict")


def register_tokenizer(name: str, cls: type) -> None:
    """Make `cls` available as tokenizer spec `name` (and loadable by `load_tokenizer`).

    `cls` should subclass `Tokenizer`; a class that only provides train_from_texts,
    encode, decode, vocab_size, to_dict and from_dict is accepted too. Its `kind` is
    set to `name` when the class does not define one. Re-registering one of your own
    names replaces it (handy when a notebook cell runs twice); built-in names are taken.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise TokenizerError(
            f"tokenizer name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
        )
    if name in _BUILTIN:
        raise TokenizerError(f"{name!r} is a built-in tokenizer; register yours under another name")
    if not isinstance(cls, type):
        raise TokenizerError(f"register_tokenizer needs a class, got {type(cls).__name__} {cls!r}")
    if not issubclass(cls, Tokenizer):
        missing = [attr for attr in _REQUIRED if not hasattr(cls, attr)]
        if missing:
            raise TokenizerError(
                f"{cls.__name__} is not a wordgen Tokenizer: subclass wordgen.tokenization.Tokenizer "
                f"(it lacks {', '.join(missing)})"
            )
    # Only the class's own `kind` counts: a subclass of WordTokenizer inherits "word",
    # and saving it under that name would load it back as a plain WordTokenizer.
    own_kind = cls.__dict__.get("kind")
    if own_kind is None:
        cls.kind = name
    elif own_kind != name:
        raise TokenizerError(
            f"{cls.__name__}.kind is {own_kind!r} but you registered it as {name!r}; use the same name"
        )
    _REGISTRY[name] = cls


ENTRY_POINT_GROUP = "wordgen.tokenizers"


def _is_known(name: str) -> bool:
    """True if `name` is registered, registering it first from an installed plugin.

    A package can offer tokenizers without any import by the user: it declares
    `[project.entry-points."wordgen.tokenizers"] mine = "mypkg.tok:MyTokenizer"`
    and `--tokenizer mine` then works in every wordgen command.
    """
    if name in _REGISTRY:
        return True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        register_tokenizer(name, entry.load())
        return True
    return False


def available_tokenizers() -> list[str]:
    """Spec names that `train_tokenizer` accepts: the built-ins, then registered ones."""
    return list(_REGISTRY)


def _unknown_name(name: str) -> TokenizerError:
    return TokenizerError(
        f"unknown tokenizer {name!r}; available: {', '.join(_REGISTRY)} "
        "(add your own with register_tokenizer)"
    )


_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


def _parse_value(text: str) -> Any:
    # Spec values arrive as text; turn the ones that look like numbers, booleans or
    # "none" into Python values, and leave everything else a string.
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    return text


def parse_tokenizer_spec(spec: str) -> tuple[str, dict]:
    """Split a spec string into (name, options).

    ``char`` -> ("char", {});  ``word:min_freq=2,max_vocab=10000`` -> ("word", {...});
    ``bpe:8000`` -> ("bpe", {"vocab_size": 8000}) (a bare value sets the class's
    `spec_shorthand` option); ``hf:/path/tokenizer.json`` -> ("hf", {"path": ...}) (a
    path takes everything after the colon, commas and '=' included). Values that look
    like an int, float, bool or none are converted. Whether the options suit the
    tokenizer is checked by `train_tokenizer`.
    """
    if not isinstance(spec, str):
        raise TokenizerError(f"a tokenizer spec must be a string like 'word' or 'bpe:8000', got {spec!r}")
    text = spec.strip()
    if not text:
        raise TokenizerError(f"empty tokenizer spec; use one of: {', '.join(_REGISTRY)}")
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise TokenizerError(
            f"cannot read tokenizer spec {spec!r}: expected NAME or NAME:key=value,... such as 'word:min_freq=2'"
        )
    if not _is_known(name):
        raise _unknown_name(name)
    if not colon:
        return name, {}
    rest = rest.strip()
    if not rest:
        raise TokenizerError(f"tokenizer spec {spec!r} has nothing after ':'")
    shorthand = getattr(_REGISTRY[name], "spec_shorthand", None)
    if shorthand == "path":
        return name, {"path": rest[len("path="):] if rest.startswith("path=") else rest}
    if "=" not in rest:
        if shorthand is None:
            raise TokenizerError(
                f"tokenizer spec {spec!r}: the {name} tokenizer takes key=value options, e.g. '{name}:key=value'"
            )
        return name, {shorthand: _parse_value(rest)}
    options: dict[str, Any] = {}
    for item in rest.split(","):
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not _KEY_RE.fullmatch(key) or not value:
            raise TokenizerError(
                f"cannot read option {item.strip()!r} in tokenizer spec {spec!r}: expected key=value"
            )
        if key in options:
            raise TokenizerError(f"option {key!r} is given twice in tokenizer spec {spec!r}")
        options[key] = _parse_value(value)
    return name, options


def train_tokenizer(spec: str, texts: Iterable[str]) -> Tokenizer:
    """Parse `spec` and train that tokenizer on `texts` (a list, a dataset column, a generator)."""
    name, options = parse_tokenizer_spec(spec)
    cls = _REGISTRY[name]
    # Check the option names against the signature before calling, instead of
    # catching TypeError from the call: that would also swallow real bugs inside it.
    try:
        inspect.signature(cls.train_from_texts).bind(texts, **options)
    except TypeError:
        params = list(inspect.signature(cls.train_from_texts).parameters.values())[1:]
        accepted = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        unknown = sorted(set(options) - set(accepted))
        what = f"unknown option {', '.join(map(repr, unknown))}" if unknown else f"bad options {options!r}"
        takes = f"it accepts: {', '.join(accepted)}" if accepted else "it takes no options"
        raise TokenizerError(f"{what} for the {name} tokenizer; {takes}") from None
    return cls.train_from_texts(texts, **options)


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from `to_dict()` output (what `load_tokenizer` does after reading).

    wordgen's own format names its kind and goes to the registered class; a Hugging Face
    dict becomes a `BPETokenizer` when it has wordgen's BPE recipe, else an `HFTokenizer`.
    """
    if not isinstance(d, dict):
        raise TokenizerError(f"a tokenizer file must hold a JSON object, not a {type(d).__name__}")
    if "wordgen_tokenizer" in d:
        kind = d["wordgen_tokenizer"]
        if not isinstance(kind, str) or not _is_known(kind):
            raise TokenizerError(
                f"this tokenizer was saved by a tokenizer class registered as {kind!r}; "
                f"call register_tokenizer({kind!r}, YourClass) before loading it "
                f"(on the command line: wordgen --plugin YOUR_MODULE ...)"
            )
        return _REGISTRY[kind].from_dict(d)
    if "model" in d:
        cls = BPETokenizer if BPETokenizer.looks_like_wordgen_bpe(d) else HFTokenizer
        return cls.from_dict(d)
    raise TokenizerError(
        "not a tokenizer: the JSON has neither 'wordgen_tokenizer' (wordgen's format) nor 'model' (Hugging Face's)"
    )


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer file written by `Tokenizer.save` (or any Hugging Face tokenizer.json)."""
    path = Path(os.path.expanduser(os.fspath(path)))
    if not path.exists():
        raise TokenizerError(f"no tokenizer file at {str(path)!r}")
    if path.is_dir():
        raise TokenizerError(f"{str(path)!r} is a folder; give the path of the tokenizer.json inside it")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerError(f"{str(path)!r} is not a valid JSON tokenizer file: {_one_line(e)}") from None
    except OSError as e:
        raise TokenizerError(f"cannot read tokenizer file {str(path)!r}: {_one_line(e)}") from None
    try:
        return tokenizer_from_dict(d)
    except TokenizerError as e:
        raise TokenizerError(f"{str(path)!r}: {e}") from None
