"""Word-level tokenizer: words, single punctuation characters and newlines; rare words become <unk>.

The lab's tokenizer ("train a word-level text generator on a book"). It deliberately
does no lower-casing, stemming or Unicode normalisation: case and spelling are part of
the text the model learns, and decoded text is only as tidy as English spacing rules
make it (see `WordTokenizer.decode`).

One fallback for words the vocabulary lacks: a hyphenated compound it does not know
("life-buoy") whose parts it does know becomes the parts and the hyphens ("life", "-",
"buoy") instead of one `<unk>` (`split_compounds`). Such compounds are rare as wholes and
common in English, so a book's validation text meets many its training text never used.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from wordgen.errors import TokenizerError
from wordgen.tokenization.base import (
    EMPTY_TEXT,
    FORMAT_VERSION,
    UNK,
    ListVocabTokenizer,
    check_text,
    training_texts,
)

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
# A compound that split_compounds cuts decodes with spaces ("life - buoy"): joining the
# hyphens would re-encode a compound the vocabulary knows as one id instead of three.
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


class WordTokenizer(ListVocabTokenizer):
    """Words, single punctuation characters and newlines; unknown words become ``<unk>``.

    Vocabulary: ``<unk>`` (id 0), ``"\\n"`` (id 1), then the training tokens by descending
    frequency, ties broken alphabetically (by code point), keeping tokens seen at least
    `min_freq` times, and at most `max_vocab` tokens in all (the two fixed tokens count).
    With `split_compounds` (the default), a hyphenated word missing from the vocabulary
    whose parts and the hyphen are all in it encodes as those parts and hyphens; any
    other missing word is one ``<unk>``. A tokenizer.json written before this option
    existed loads with it off, so it encodes as it did when its model was trained.

    `decode` joins tokens with single spaces except: no space before ``, . ; : ! ? ' ) ]``
    and closing quotes, none after ``( [`` and opening quotes, none around ``"\\n"``.
    Each token's spacing depends only on the tokens before it, so decoding a prefix of
    the ids gives a prefix of the full decoded text (the CLI streams that way). The
    round trip is not exact (spacing is normalised, ``<unk>`` prints as "<unk>"), but
    re-encoding decoded text gives back the same ids.
    """

    kind = "word"

    def __init__(self, vocab: Sequence[str], *, min_freq: int = 1, max_vocab: int | None = None,
                 split_compounds: bool = True):
        super().__init__(vocab)  # the tokens in id order, vocab[0] == UNK, vocab[1] == "\n"
        self.min_freq = min_freq  # kept for to_dict: how the vocabulary was chosen
        self.max_vocab = max_vocab
        self.split_compounds = split_compounds
        self._hyphen = self._stoi.get("-") if split_compounds else None  # None: no compound is cut

    def _lookup(self, token: str) -> tuple[int, ...]:
        """The ids of one token string: its own id, its parts' for a compound it may cut, else (0,) for <unk>."""
        i = self._stoi.get(token)
        if i is not None:
            return (i,)
        if self._hyphen is not None and "-" in token:
            parts = [self._stoi.get(p) for p in token.split("-")]
            if None not in parts:
                ids = [parts[0]]
                for p in parts[1:]:
                    ids += (self._hyphen, p)
                return tuple(ids)
        return (0,)

    @staticmethod
    def split(text: str) -> list[str]:
        """The token strings of `text`, before vocabulary lookup."""
        return _WORD_RE.findall(text)

    @classmethod
    def train_from_texts(
        cls, texts: Iterable[str], min_freq: int = 1, max_vocab: int | None = None, split_compounds: bool = True
    ) -> "WordTokenizer":
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise TokenizerError(f"word min_freq must be a whole number >= 1, got {min_freq!r}")
        if max_vocab is not None and (
            isinstance(max_vocab, bool) or not isinstance(max_vocab, int) or max_vocab < 3
        ):
            raise TokenizerError(
                f"word max_vocab must be a whole number >= 3 (it counts <unk> and the newline), got {max_vocab!r}"
            )
        if not isinstance(split_compounds, bool):
            raise TokenizerError(f"word split_compounds must be true or false, got {split_compounds!r}")
        counts: Counter[str] = Counter()
        for text in training_texts(texts):
            counts.update(_WORD_RE.findall(text))
        fixed = [UNK, NEWLINE]
        if not any(t != NEWLINE for t in counts):  # nothing but whitespace
            raise TokenizerError(EMPTY_TEXT)
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
        return cls(fixed + ranked, min_freq=min_freq, max_vocab=max_vocab, split_compounds=split_compounds)

    def encode(self, text: str) -> list[int]:
        return self._encode(check_text(text), {})

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        memo: dict[str, tuple[int, ...]] = {}  # shared: a chunk met in one text is known in the next
        return [self._encode(check_text(text), memo) for text in texts]

    def _encode(self, text: str, memo: dict[str, tuple[int, ...]]) -> list[int]:
        """What `[i for t in _WORD_RE.findall(text) for i in self._lookup(t)]` gives, faster.

        No token spans whitespace other than the newline token itself, so the text
        can be cut at newlines and whitespace first (str.split, fast C code) and
        each chunk ("lord,", "thee.") run through the regex and the vocabulary
        once: English text repeats its chunks, so most are found in `memo`.
        Python's ``\\s`` and ``str.split()`` agree on what is whitespace. Chunk ids
        are kept as tuples, which the garbage collector soon stops scanning.
        """
        lookup = self._lookup
        ids: list[int] = []
        for n, line in enumerate(text.split(NEWLINE)):
            if n:
                ids.append(1)  # the newline token's id
            for chunk in line.split():
                chunk_ids = memo.get(chunk)
                if chunk_ids is None:
                    chunk_ids = memo[chunk] = tuple([i for t in _WORD_RE.findall(chunk) for i in lookup(t)])
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

    def unk_pieces(self, text: str) -> list[str]:
        # Each token string that encodes to <unk> is one piece (a compound cut into known
        # parts is not); so is a literal "<unk>" in the text (id 0 like any unknown word).
        return [t for t in _WORD_RE.findall(check_text(text)) if self._lookup(t) == (0,)]

    def to_dict(self) -> dict:
        return {
            "wordgen_tokenizer": self.kind,
            "version": FORMAT_VERSION,
            "min_freq": self.min_freq,
            "max_vocab": self.max_vocab,
            "split_compounds": self.split_compounds,
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
        split = d.get("split_compounds", False)  # absent: written before the option, when nothing was cut
        if not isinstance(split, bool):
            raise TokenizerError("damaged word tokenizer: 'split_compounds' must be true or false")
        return cls(vocab, min_freq=d.get("min_freq", 1), max_vocab=d.get("max_vocab"), split_compounds=split)
