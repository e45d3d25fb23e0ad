"""Cut text into the train / validation / test splits every corpus ends up with.

Two ways to cut, both deterministic: one text cut contiguously at line ends
(`split_contiguous`), or whole documents shuffled with a seed and dealt out
(`split_documents`). Both return a `datasets.DatasetDict` with a `text` column.

Deliberately not here: reading files, choosing which cut a corpus gets (that is
the loader's call), or carving splits out of a Hugging Face dataset (see `hub`).
"""

from __future__ import annotations

import random
from bisect import bisect_left

import datasets

from wordgen.errors import CorpusError

SPLITS = ("train", "validation", "test")

# Fractions used whenever a corpus is cut by us rather than by its publisher.
DEFAULT_FRACTIONS = (0.9, 0.05, 0.05)


def split_text_contiguous(text: str, fractions=DEFAULT_FRACTIONS) -> datasets.DatasetDict:
    """Cut one text into train / validation / test at line boundaries, in order.

    Each split is one row. The cuts fall on the line ends closest to the requested
    character fractions, and every split gets at least one non-empty line, so
    ``train + "\\n" + validation + "\\n" + test == text``. Raises CorpusError when the
    text has fewer than three non-empty lines.
    """
    return split_contiguous(text, fractions, source="the text")


def split_contiguous(text: str, fractions, *, source: str) -> datasets.DatasetDict:
    """`split_text_contiguous` with `source` naming the text in the error message."""
    fractions = _check_fractions(fractions)
    lines = text.split("\n")
    non_empty = [i for i, line in enumerate(lines) if line.strip()]
    if len(non_empty) < 3:
        raise CorpusError(
            f"{source} is too short to split into train/validation/test: it has "
            f"{len(non_empty)} non-empty line(s) and {len(text)} characters; give it at least 3 lines of text"
        )
    # offsets[k] = characters before line k, counting the newlines that end lines.
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    # A cut k means: lines[:k] | lines[k:]. Bounds keep one non-empty line per split.
    first = _nearest_cut(offsets, fractions[0] * len(text), non_empty[0] + 1, non_empty[-2])
    first_after = next(i for i in non_empty if i >= first)
    second = _nearest_cut(offsets, (fractions[0] + fractions[1]) * len(text), first_after + 1, non_empty[-1])
    parts = ("\n".join(lines[:first]), "\n".join(lines[first:second]), "\n".join(lines[second:]))
    return datasets.DatasetDict(
        {name: datasets.Dataset.from_dict({"text": [part]}) for name, part in zip(SPLITS, parts)}
    )


def _nearest_cut(offsets: list[int], target: float, low: int, high: int) -> int:
    """The cut k in [low, high] whose character offset is closest to `target`."""
    k = bisect_left(offsets, target)
    candidates = [c for c in (k - 1, k) if low <= c <= high]
    if not candidates:
        return low if k < low else high
    return min(candidates, key=lambda c: abs(offsets[c] - target))


def _check_fractions(fractions) -> tuple[float, float, float]:
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or min(values) <= 0 or abs(sum(values) - 1) > 1e-6:
        raise CorpusError(f"split fractions must be three positive numbers that add up to 1, got {fractions}")
    return values


def deal(items: list, *, seed: int) -> tuple[list, list, list]:
    """Shuffle `items` with `seed`, then deal validation and test a `DEFAULT_FRACTIONS[1]`
    share each (at least one item) and train the rest: (train, validation, test).

    Callers sort `items` first, so the result depends on the seed alone.
    """
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    n_held_out = max(1, round(len(shuffled) * DEFAULT_FRACTIONS[1]))
    n_train = len(shuffled) - 2 * n_held_out
    return (shuffled[:n_train], shuffled[n_train : n_train + n_held_out], shuffled[n_train + n_held_out :])


def split_documents(documents: list[tuple[str, str]], *, seed: int) -> datasets.DatasetDict:
    """(title, text) documents dealt into train / validation / test by `deal`.

    Callers sort `documents` first, so the result depends on the seed alone.
    """
    return datasets.DatasetDict(
        {
            name: datasets.Dataset.from_dict(
                {"title": [title for title, _ in group], "text": [text for _, text in group]}
            )
            for name, group in zip(SPLITS, deal(documents, seed=seed))
        }
    )
