"""Corpora: turn a corpus spec into a `datasets.DatasetDict` of train/validation/test text.

Every corpus, whatever its source, comes back as a `DatasetDict` with the splits
`train`, `validation` and `test`, each holding a string column `text`. The split is
deterministic: the same spec and seed always give the same rows.

Accepted specs (see `load_corpus`), each handled by one module of this package:

- ``shakespeare`` and ``shakespeare:<slug>`` - the built-in plays (`shakespeare`;
  `play_text` gives one play's whole text).
- a local ``.txt`` file, a folder of ``.txt`` files, or a glob pattern; Project
  Gutenberg e-books lose their header and licence automatically (`local`, `gutenberg`).
- ``hf:NAME`` or ``hf:NAME:CONFIG`` - a Hugging Face dataset (`hub`).

With ``streaming=True`` the result is an `IterableDatasetDict` whose rows are read
when they are reached: a Hub dataset through datasets' own streaming, a folder or
glob of three or more files one file at a time. Corpora that are read whole anyway
(the built-in plays, one or two files) are wrapped as they are.

How text is cut into splits lives in `splits`. What this package deliberately does
NOT do: tokenize or encode text (that is `wordgen.data`), download anything itself
(Hub downloads are left to `datasets`), drop or rewrite rows of Hugging Face datasets,
or print. Every mistake a user can make raises `CorpusError` with a one-line message.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from wordgen._io import expand
from wordgen.corpora.gutenberg import is_gutenberg, strip_gutenberg
from wordgen.corpora.hub import load_hub
from wordgen.corpora.local import is_glob, load_glob, load_path, read_text_file
from wordgen.corpora.shakespeare import (
    BUILTIN_CORPORA,
    list_builtin_corpora,
    list_shakespeare_plays,
    load_play,
    load_shakespeare,
    play_text,
    shakespeare_markdown_to_text,
)
from wordgen.corpora.splits import DEFAULT_FRACTIONS, SPLITS, split_text_contiguous
from wordgen.errors import CorpusError

__all__ = [
    "BUILTIN_CORPORA", "DEFAULT_FRACTIONS", "SPLITS", "is_gutenberg", "list_builtin_corpora",
    "list_shakespeare_plays", "load_corpus", "play_text", "read_text_file", "shakespeare_markdown_to_text",
    "split_text_contiguous", "strip_gutenberg",
]


def load_corpus(
    spec: str,
    *,
    seed: int = 0,
    stage_directions: bool = False,
    text_column: str = "text",
    streaming: bool = False,
):
    """Load the corpus named by `spec` as a DatasetDict with train/validation/test splits.

    `seed` only matters where whole documents are shuffled (built-in Shakespeare,
    three or more files, Hugging Face datasets lacking a split); contiguous splits do
    not depend on it. `stage_directions` only applies to the Shakespeare corpora and
    `text_column` only to ``hf:`` datasets; elsewhere they are ignored. `streaming`
    gives an IterableDatasetDict instead (see the module docstring).
    """
    spec = spec.strip()
    # The order matters: "hf:" and "shakespeare" win over a file of the same name,
    # so a stray file in the working directory cannot hijack a built-in corpus.
    if spec.startswith("hf:"):
        return load_hub(spec[len("hf:"):], seed=seed, text_column=text_column, streaming=streaming)
    if spec == "shakespeare":
        return _streamed(load_shakespeare(seed=seed, stage_directions=stage_directions), streaming)
    if spec.startswith("shakespeare:"):
        slug = spec[len("shakespeare:"):].strip().lower()
        return _streamed(load_play(slug, stage_directions=stage_directions), streaming)
    path = expand(spec)
    if path.exists() or path.is_symlink():
        return load_path(path, seed=seed, streaming=streaming)
    if is_glob(spec):
        return load_glob(spec, seed=seed, streaming=streaming)
    raise CorpusError(_unknown_spec_message(spec))


def _streamed(corpus: datasets.DatasetDict, streaming: bool):
    if not streaming:
        return corpus
    return datasets.IterableDatasetDict({name: split.to_iterable_dataset() for name, split in corpus.items()})


def _unknown_spec_message(spec: str) -> str:
    if "/" in spec or "\\" in spec or Path(spec).suffix:
        return (
            f"corpus file or folder '{spec}' does not exist: check the path "
            "(relative paths start from the current directory)"
        )
    return (
        f"unknown corpus '{spec}': not a built-in corpus (see `wordgen corpora`), not an "
        "existing file or folder, and not an hf: dataset id"
    )
