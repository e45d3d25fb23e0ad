"""Numbers about generated text: loops, diversity, invented words, the model's own surprise.

The lesson says greedy decoding "loops" and a high temperature gives "nonsense";
these functions turn both remarks into measurements a student can plot:

* `find_loop` -- the longest stretch of tokens that repeats with a fixed period
  (the greedy cycle "of the king of the king of the ..."), where it starts and
  how often it repeats.
* `distinct_n` -- the share of distinct n-grams among all n-grams of a text
  (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
  Conversation Models"): near 0 for a loop, near 1 for text that never repeats.
* `NgramIndex` -- the words and word bigrams of the training text, to ask which
  share of a sample's words (or bigrams) the book actually contains. A character
  model at a high temperature invents words; a word model cannot, but at a high
  temperature it strings real words into pairs the book never has.

Text is measured in the word tokenizer's units (`WordTokenizer.split`: words,
single punctuation marks and newlines), whatever tokenizer produced it, so a
character model and a word model are measured with the same ruler.

What this module deliberately does not do: run a model (the model's own view of
a text, `continuation_log_likelihood`, is in evaluate.py; no torch here), generate
text, print, plot, or judge grammar or meaning -- the numbers are about repetition
and novelty only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wordgen.tokenization import WordTokenizer

# ---------------------------------------------------------------- tokens


def text_tokens(text: str) -> list[str]:
    """Words, punctuation marks and newlines of `text`, in order (whitespace dropped)."""
    return WordTokenizer.split(text)


def token_offsets(text: str) -> list[int]:
    """The character offset where each token of `text_tokens(text)` starts."""
    # Between two tokens there is only whitespace (newlines are tokens themselves),
    # so searching each token from the end of the previous one finds its own place.
    offsets, pos = [], 0
    for token in text_tokens(text):
        pos = text.index(token, pos)
        offsets.append(pos)
        pos += len(token)
    return offsets


def is_word(token: str) -> bool:
    """True for a token with a letter or digit in it (so not punctuation or a newline)."""
    return any(ch.isalnum() for ch in token)


def words(text: str) -> list[str]:
    """The words of `text`, case-folded: "The" and "the" are one word for the counts here.

    `<unk>` stays a word of its own, which no book contains: a word model's
    unknown-word token counts as a word the book does not have.
    """
    return [t.casefold() for t in text_tokens(text) if is_word(t)]


def ngrams(tokens: Sequence, n: int) -> list[tuple]:
    """All n-grams of `tokens` as tuples, in order (none when there are fewer than n tokens)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# ---------------------------------------------------------------- loops


@dataclass(frozen=True)
class Loop:
    """A stretch of tokens that repeats one n-gram over and over.

    tokens[start : start + length] has period `len(ngram)`: every token equals
    the one `period` places before it. `ngram` is the first cycle; the last
    cycle may be cut short (the sample ended in the middle of it).
    """

    ngram: tuple[str, ...]  # one cycle, e.g. ("of", "the", "king")
    start: int  # index of the loop's first token
    length: int  # tokens the repetition covers (>= min_repeats * period)
    char_start: int | None = None  # where the loop starts in the text (find_text_loop only)
    char_end: int | None = None  # where its last token ends in the text (find_text_loop only)

    @property
    def period(self) -> int:
        return len(self.ngram)

    @property
    def repeats(self) -> float:
        """How many times the cycle occurs, counting a cut-off last cycle as a fraction."""
        return self.length / self.period

    @property
    def end(self) -> int:
        return self.start + self.length


def find_loop(tokens: Sequence[str], min_repeats: float = 3.0, max_period: int | None = None) -> Loop | None:
    """The longest periodic stretch of `tokens` that repeats at least `min_repeats` times.

    For each period p, runs of tokens[i] == tokens[i + p] mark stretches of
    period p; the one covering the most tokens wins, then the shorter period
    (a 2-token cycle also has period 4; it is reported as 2), then the earlier
    start. `min_repeats` guards against chance: with the default 3, a doubled
    word ("had had") or a blank line is not a loop, while greedy cycles, which
    run to the end of the sample, repeat many times. None when nothing repeats
    that often.
    """
    n = len(tokens)
    if min_repeats < 1:
        raise ValueError(f"min_repeats must be at least 1, got {min_repeats}")
    longest_period = int(n // min_repeats) if max_period is None else min(max_period, int(n // min_repeats))
    best: tuple[int, int, int] | None = None  # (length, period, start)
    for p in range(1, longest_period + 1):
        i = 0
        while i < n - p:
            if tokens[i] != tokens[i + p]:
                i += 1
                continue
            j = i
            while j < n - p and tokens[j] == tokens[j + p]:
                j += 1
            # tokens[i : j + p] has period p: (j - i) matches plus the first cycle.
            start, length = i, j - i + p
            if length >= min_repeats * p and (
                best is None or (length, -p, -start) > (best[0], -best[1], -best[2])
            ):
                best = (length, p, start)
            i = j + 1
    if best is None:
        return None
    length, p, start = best
    return Loop(ngram=tuple(tokens[start : start + p]), start=start, length=length)


def find_text_loop(text: str, min_repeats: float = 3.0, max_period: int | None = None) -> Loop | None:
    """`find_loop` on the tokens of `text`, with the character span the loop covers in `text`."""
    tokens = text_tokens(text)
    loop = find_loop(tokens, min_repeats=min_repeats, max_period=max_period)
    if loop is None:
        return None
    offsets = token_offsets(text)
    char_end = offsets[loop.end - 1] + len(tokens[loop.end - 1])
    return Loop(ngram=loop.ngram, start=loop.start, length=loop.length, char_start=offsets[loop.start],
                char_end=char_end)


def describe_ngram(ngram: Iterable[str]) -> str:
    """An n-gram as readable text: tokens joined by spaces, a newline shown as "⏎"."""
    return " ".join("⏎" if t == "\n" else t for t in ngram)


# ---------------------------------------------------------------- diversity and novelty


def distinct_n(tokens: Sequence, n: int) -> float:
    """Distinct n-grams / all n-grams of `tokens`; nan when there is no n-gram at all.

    It depends on the length of the text (a long text repeats more), so compare
    texts of the same length only.
    """
    grams = ngrams(tokens, n)
    if not grams:
        return math.nan
    return len(set(grams)) / len(grams)


class NgramIndex:
    """The case-folded word n-grams (n = 1..max_n) of a reference text, usually the training text.

    Punctuation and line breaks are skipped, so "the king, my lord" has the
    bigrams (the, king), (king, my), (my, lord).
    """

    def __init__(self, grams: dict[int, set[tuple[str, ...]]]):
        self._grams = grams  # n -> the set of n-grams seen

    @classmethod
    def from_texts(cls, texts: Iterable[str], max_n: int = 2) -> NgramIndex:
        grams: dict[int, set[tuple[str, ...]]] = {n: set() for n in range(1, max_n + 1)}
        for text in texts:
            ws = words(text)
            for n in grams:
                grams[n].update(ngrams(ws, n))
        return cls(grams)

    @property
    def max_n(self) -> int:
        return max(self._grams)

    def __contains__(self, gram: tuple[str, ...]) -> bool:
        return gram in self._grams.get(len(gram), ())

    def seen_share(self, text: str, n: int = 1) -> float:
        """Share of the word n-grams of `text` that occur in the reference; nan if `text` has none."""
        if n not in self._grams:
            raise ValueError(f"this index holds n-grams up to n={self.max_n}, not n={n}")
        grams = ngrams(words(text), n)
        if not grams:
            return math.nan
        known = self._grams[n]
        return sum(g in known for g in grams) / len(grams)

    def unseen(self, text: str) -> list[str]:
        """The words of `text` that the reference does not contain, in order, without repeats."""
        out: dict[str, None] = {}
        for w in words(text):
            if (w,) not in self._grams[1]:
                out[w] = None
        return list(out)
