"""Character-level tokenizer: one token per Unicode code point, as in the curriculum's char-LSTM.

Deliberately no normalisation and no grapheme clusters: "é" written as e + combining
accent is two tokens, exactly as Python's `str` sees it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from wordgen.errors import TokenizerError
from wordgen.tokenization.base import (
    EMPTY_TEXT,
    FORMAT_VERSION,
    UNK,
    ListVocabTokenizer,
    check_text,
    has_text,
    training_texts,
)


class CharTokenizer(ListVocabTokenizer):
    """One token per Unicode character (code point).

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
        super().__init__(chars)  # the vocabulary in id order, chars[0] == UNK

    @classmethod
    def train_from_texts(cls, texts: Iterable[str]) -> "CharTokenizer":
        seen: set[str] = set()
        any_text = False
        for text in training_texts(texts):
            seen.update(text)
            any_text = any_text or has_text(text)
        if not any_text:
            raise TokenizerError(EMPTY_TEXT)
        return cls([UNK, *sorted(seen)])

    def encode(self, text: str) -> list[int]:
        stoi = self._stoi
        return [stoi.get(c, 0) for c in check_text(text)]

    def decode(self, ids: Sequence[int]) -> str:
        itos = self._itos
        return "".join(itos[i] if i else self.UNK_TEXT for i in self._check_ids(ids))

    def unk_pieces(self, text: str) -> list[str]:
        # Each unseen character is its own <unk>. "<" of a literal "<unk>" is just a
        # character here: it is unknown only if training never saw it.
        stoi = self._stoi
        return [c for c in check_text(text) if not stoi.get(c, 0)]

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
