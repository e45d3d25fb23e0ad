"""Is it copying the book? The longest stretches of words a sample shares with the training text.

Every generator's users ask whether their model writes or recites. `CopyIndex` answers
with one figure per sample, the longest run of consecutive words that also occurs
somewhere in the training text, and the stretches themselves, so a page can mark them.
Any English shares a few words in a row with any book ("and I will not"); a model
that has learnt its book by heart shares whole sentences.

Words are compared as `textstats.words` sees them: the word tokenizer's words,
case-folded, with punctuation and line breaks skipped. "But, soft! what light" and
"but soft what light" are the same four words, so a stretch is not cut by a comma
the model placed differently or by a line it broke elsewhere, and its length counts
words only. `<unk>` is a word that no book contains: a copy stops at it.

The index is a suffix array over the training text's word ids (built by prefix
doubling in numpy, O(n log n) numpy work): every suffix of the text in sorted order.
The longest prefix of a sample's words from position i that occurs in the text sits
beside the place where that suffix of the sample would be inserted, so one binary
search per sample word finds it. The ids are also kept as big-endian 4-byte strings,
so that comparing two runs of words is one bytes comparison (memcmp order is the ids'
order), never a Python loop over words.

`textstats.NgramIndex` answers a different question (which share of a sample's words
or word pairs the book has) and holds sets of n-grams for fixed n; asking for the
longest shared run needs every n at once, which a suffix array gives in one array.

Not here: running a model, printing, or loading a checkpoint (callers hand in the
texts; `from_split` reads a `datasets` split row by row). No torch.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from wordgen.analysis.textstats import is_word, text_tokens, token_offsets, words
from wordgen.errors import CorpusError

# Bytes per word id: a book has far fewer than 2**32 distinct words.
_WIDTH = 4
_ABSENT = 2**32 - 1  # the id of a sample word the training text does not have: matches nothing
# The most text an index is built from: about 25 novels. The index costs about 16 bytes a word
# (ids, their bytes, the suffix array); a bigger corpus would be read whole into memory first.
MAX_CHARS = 20_000_000
# Stretches at least this long are listed (and marked by the playground): longer than what held-out
# text of the same book shares with its training text by chance (docs/results/speed, the copying rows).
MARK_WORDS = 8
# What the lab and the playground say beside the figure: where chance ends and reciting begins.
EXPLAIN = ("3-6 words in a row is what any English shares with a book by chance; 10 or more means the "
           "model is repeating the book, 20 or more that it is reciting it")


@dataclass(frozen=True)
class Stretch:
    """A run of a sample's words that the training text also has, word for word."""

    start: int  # index of its first word among the sample's words
    length: int  # words in the stretch
    char_start: int  # where its first word starts in the sample
    char_end: int  # where its last word ends in the sample
    source_start: int  # index of its first word among the training text's words (one occurrence)
    text: str  # sample[char_start:char_end]

    def to_dict(self) -> dict:
        return {"words": self.length, "start_word": self.start, "start": self.char_start, "end": self.char_end,
                "source_word": self.source_start, "text": self.text}


@dataclass(frozen=True)
class Copies:
    """What one sample shares with the training text: the longest stretch and every long one."""

    num_words: int  # words in the sample
    longest: Stretch | None  # the longest shared stretch (the earliest of equals); None: no word is shared
    stretches: tuple[Stretch, ...]  # stretches of at least `min_words`, not inside another, in order
    min_words: int

    @property
    def longest_words(self) -> int:
        return 0 if self.longest is None else self.longest.length

    def describe(self, max_chars: int = 60) -> str:
        """'longest stretch copied from the training text: 7 words ("...")', the stretch cut to `max_chars`."""
        if self.longest is None:
            return "longest stretch copied from the training text: none (no word of it is in the text)"
        n = self.longest.length
        return (f"longest stretch copied from the training text: {n} word{'s' * (n != 1)} "
                f'("{shorten(self.longest.text, max_chars)}")')

    def to_dict(self) -> dict:
        return {"num_words": self.num_words, "longest_words": self.longest_words,
                "longest": None if self.longest is None else self.longest.to_dict(),
                "stretches": [s.to_dict() for s in self.stretches], "min_words": self.min_words}


def shorten(text: str, max_chars: int) -> str:
    """`text` on one line (line breaks shown as " / "), cut in the middle at spaces to at most `max_chars`."""
    flat = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    if len(flat) <= max_chars:
        return flat
    room = max(0, max_chars - 3)  # " … " takes three
    head, tail = flat[: (room + 1) // 2], flat[len(flat) - room // 2:]
    # Whole words only, unless a single word is longer than its half.
    head = head.rsplit(" ", 1)[0] if " " in head.strip() else head
    tail = tail.split(" ", 1)[-1] if " " in tail.strip() else tail
    return f"{head.rstrip()} … {tail.lstrip()}"


class CopyIndex:
    """The training text's words in a suffix array: which runs of a sample's words the text has."""

    def __init__(self, vocab: dict[str, int], ids: np.ndarray, num_chars: int):
        self._vocab = vocab  # case-folded word -> id
        self.ids = ids  # (N,) uint32: the text's words in order
        self.num_chars = num_chars  # characters the words came from
        self._bytes = ids.astype(">u4").tobytes()  # (4N,) bytes: word i is _bytes[4i : 4i + 4]
        # (N,) the start of each suffix, in sorted order: an array of Python-sized ints, which bisect
        # reads as fast as a list at 8 bytes a word (a numpy array's items are slower to hand out).
        self._sa = array("q", suffix_array(ids).astype(np.int64).tobytes())

    @classmethod
    def from_texts(cls, texts: Iterable[str], max_chars: int | None = MAX_CHARS) -> CopyIndex:
        """The index of `texts` read one after another (one book, or the rows of a split)."""
        vocab: dict[str, int] = {}
        parts, num_chars = [], 0
        for text in texts:
            num_chars += len(text)
            if max_chars is not None and num_chars > max_chars:
                raise CorpusError(f"the text to look for copies in has more than {max_chars:,} characters: too "
                                  "large to index here (compare against a smaller text)")
            ws = words(text)
            parts.append(np.fromiter((vocab.setdefault(w, len(vocab)) for w in ws), dtype=np.uint32, count=len(ws)))
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
        return cls(vocab, ids, num_chars)

    @classmethod
    def from_split(cls, split, max_chars: int | None = MAX_CHARS) -> CopyIndex:
        """The index of a `datasets` split's `text` column (a Dataset or a streamed IterableDataset)."""
        return cls.from_texts((text for batch in split.iter(batch_size=64) for text in batch["text"]), max_chars)

    @classmethod
    def from_training_corpus(cls, config, max_chars: int | None = MAX_CHARS) -> CopyIndex:
        """The index of the train split a checkpoint was trained on, read as `wordgen evaluate` reads it:
        the corpus of its config (config.json), split with its seed."""
        from wordgen.corpora import load_corpus  # datasets, read only when a checkpoint's corpus is asked for

        dataset = load_corpus(config.corpus, seed=config.seed, stage_directions=config.stage_directions,
                              streaming=config.streaming)
        return cls.from_split(dataset["train"], max_chars)

    def __len__(self) -> int:
        return len(self.ids)

    def word_ids(self, sample_words: list[str]) -> list[int]:
        """The ids of `sample_words` (case-folded already); a word the text lacks gets an id that matches nothing."""
        return [self._vocab.get(w, _ABSENT) for w in sample_words]

    def matches(self, ids: list[int]) -> list[tuple[int, int]]:
        """For each i: (the length of the longest run ids[i:i+L] the text has, where one such run starts).

        (0, -1) where ids[i] is not in the text at all.
        """
        pattern = np.asarray(ids, dtype=">u4").tobytes()
        out = []
        for i, word in enumerate(ids):
            if word == _ABSENT or not len(self):
                out.append((0, -1))
                continue
            out.append(self._longest_prefix(pattern[_WIDTH * i:]))
        return out

    def _longest_prefix(self, pattern: bytes) -> tuple[int, int]:
        """(L, p): the longest prefix of `pattern` (L words) that the text has, found at word p."""
        text, width, size = self._bytes, _WIDTH, len(pattern)
        # The suffix sharing the longest prefix with the pattern is a neighbour of its sorted place.
        place = bisect_left(self._sa, pattern, key=lambda s: text[width * s: width * s + size])
        best = (0, -1)
        for neighbour in (place - 1, place):
            if 0 <= neighbour < len(self._sa):
                start = self._sa[neighbour]
                length = _common_words(text, width * start, pattern)
                if length > best[0]:
                    best = (length, start)
        return best

    def copies(self, text: str, min_words: int = MARK_WORDS) -> Copies:
        """What `text` shares with the training text: its longest stretch and every one of `min_words` or more."""
        tokens, offsets = text_tokens(text), token_offsets(text)
        spans = [(o, o + len(t)) for t, o in zip(tokens, offsets) if is_word(t)]  # each word's characters
        sample_words = [t.casefold() for t in tokens if is_word(t)]
        found = self.matches(self.word_ids(sample_words))

        def stretch(i: int, length: int, source: int) -> Stretch:
            start, end = spans[i][0], spans[i + length - 1][1]
            return Stretch(start=i, length=length, char_start=start, char_end=end, source_start=source,
                           text=text[start:end])

        longest, listed, reach = None, [], 0  # reach: where the stretches so far end (in words)
        for i, (length, source) in enumerate(found):
            if length and (longest is None or length > longest.length):
                longest = stretch(i, length, source)
            if i + length > reach:  # not inside an earlier stretch
                reach = i + length
                if length >= min_words:
                    listed.append(stretch(i, length, source))
        return Copies(num_words=len(sample_words), longest=longest, stretches=tuple(listed), min_words=min_words)


def _common_words(text: bytes, offset: int, pattern: bytes) -> int:
    """Words that `pattern` and text[offset:] have in common at their start (a binary search of memcmps)."""
    lo, hi = 0, min(len(pattern), len(text) - offset) // _WIDTH  # lo words agree; more than hi cannot
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text[offset: offset + _WIDTH * mid] == pattern[: _WIDTH * mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def suffix_array(ids: np.ndarray) -> np.ndarray:
    """The starts of the suffixes of `ids` (N,) in lexicographic order, a shorter suffix before its extensions.

    Prefix doubling (Manber and Myers 1993): sort by the first 2k words using the ranks
    of the first k, until every rank is distinct; rounds grow with the log of the longest
    repeated run, not of the text.
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.unique(ids, return_inverse=True)[1].astype(np.int64)  # (N,) dense ranks in id order
    k = 1
    while True:
        second = np.zeros(n, dtype=np.int64)  # rank + 1 of the word k places on; 0 past the end (sorts first)
        if k < n:
            second[: n - k] = rank[k:] + 1
        key = rank * (n + 1) + second  # (N,) one int64 per pair: n < 3e9 keeps it in range
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        new = np.empty(n, dtype=np.int64)
        new[order] = np.concatenate(([0], np.cumsum(sorted_key[1:] != sorted_key[:-1])))
        rank = new
        if rank[order[-1]] == n - 1 or k >= n:  # every suffix has a rank of its own
            return order
        k *= 2
