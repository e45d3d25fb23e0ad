"""Cut text into the train / validation / test splits every corpus ends up with.

Two ways to cut, both deterministic: one text cut contiguously at line ends
(`split_contiguous`), or whole documents shuffled with a seed and dealt out
(`split_documents`). Both return a `datasets.DatasetDict` with a `text` column.

Deliberately not here: reading files, choosing which cut a corpus gets (that is
the loader's call), or carving splits out of a Hugging Face dataset (see `hub`).
"""

from __future__ import annotations

import random
import re
from array import array
from collections.abc import Iterator

import datasets
import numpy as np

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
    return datasets.DatasetDict({name: datasets.Dataset.from_dict({"text": list(rows)})
                                 for name, rows in zip(SPLITS, contiguous_rows(text, fractions, source=source))})


def contiguous_rows(text: str, fractions, *, source: str) -> tuple[Iterator[str], Iterator[str], Iterator[str]]:
    """The rows of `split_contiguous`'s three splits, as slices of `text` made one at a time.

    A split of up to ROW_CHARS characters is one row; a longer one is cut into rows of
    about ROW_CHARS, each ending in a newline between two non-space characters, so the
    rows' streams (wordgen.data.row_text) join into the split's text exactly and no
    tokenizer sees a word or a run of spaces cut in two. No list of lines is built: a
    text of any size costs itself and a number per line.
    """
    fractions = _check_fractions(fractions)
    offsets = _line_offsets(text)
    lines = len(offsets) - 1
    first_line = next((i for i in range(lines) if _has_text(text, offsets, i)), None)
    last_lines = []  # the last two non-empty lines, last first
    for i in range(lines - 1, -1 if first_line is None else first_line, -1):
        if _has_text(text, offsets, i):
            last_lines.append(i)
            if len(last_lines) == 2:
                break
    if first_line is None or len(last_lines) < 2:
        found = 0 if first_line is None else 1 + len(last_lines)
        raise CorpusError(
            f"{source} is too short to split into train/validation/test: it has "
            f"{found} non-empty line(s) and {len(text)} characters; give it at least 3 lines of text"
        )
    # A cut k means: lines[:k] | lines[k:]. Bounds keep one non-empty line per split.
    first = _nearest_cut(offsets, fractions[0] * len(text), first_line + 1, last_lines[1])
    first_after = next(i for i in range(first, lines) if _has_text(text, offsets, i))
    second = _nearest_cut(offsets, (fractions[0] + fractions[1]) * len(text), first_after + 1, last_lines[0])
    bounds = ((0, int(offsets[first]) - 1), (int(offsets[first]), int(offsets[second]) - 1),
              (int(offsets[second]), len(text)))
    return tuple(_rows(text, begin, end) for begin, end in bounds)


# A split longer than this many characters is stored as several rows: each row is encoded at
# once (wordgen.data), so one row of a whole big file would cost memory in proportion to the file.
ROW_CHARS = 1 << 20
_ROW_END = re.compile(r"\S\n(?=\S)")  # a row ends at a newline with a non-space character on each side


def _rows(text: str, begin: int, end: int) -> Iterator[str]:
    while end - begin > ROW_CHARS:
        cut = _ROW_END.search(text, begin + ROW_CHARS, end)
        if cut is None:
            break
        yield text[begin:cut.start() + 2]
        begin = cut.start() + 2
    yield text[begin:end]


def _line_offsets(text: str) -> np.ndarray:
    """offsets[k]: the characters before line k, counting the newlines that end lines; one past the end last."""
    offsets = array("q", [0])
    newline = text.find("\n")
    while newline != -1:
        offsets.append(newline + 1)
        newline = text.find("\n", newline + 1)
    offsets.append(len(text) + 1)
    return np.frombuffer(offsets, dtype=np.int64)


def _has_text(text: str, offsets: np.ndarray, line: int) -> bool:
    return not text[int(offsets[line]):int(offsets[line + 1]) - 1].isspace() and \
        offsets[line + 1] - offsets[line] > 1


def _nearest_cut(offsets: np.ndarray, target: float, low: int, high: int) -> int:
    """The cut k in [low, high] whose character offset is closest to `target`."""
    k = int(np.searchsorted(offsets, target, side="left"))
    candidates = [c for c in (k - 1, k) if low <= c <= high]
    if not candidates:
        return low if k < low else high
    return min(candidates, key=lambda c: abs(int(offsets[c]) - target))


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
