"""Corpora from the local disk: one text file, a folder of them, or a glob pattern.

Every file is read the same way (`read_text_file`): UTF-8, BOM dropped, line ends
made "\\n", a Project Gutenberg header and licence removed, and a one-line
CorpusError for a missing, special, binary, non-UTF-8 or empty file. One or two
files are cut contiguously; three or more are split by whole files.

Three or more files are read one file at a time, never all at once: the paths are
dealt into splits first (`splits.deal`), then each split is built file by file into
an arrow file under the wordgen cache (`Dataset.from_generator`, memory-mapped
afterwards, named by the paths, sizes and modification times so an edited file is
read again), or with `streaming=True` becomes an `IterableDataset` that reads each
file when it is reached and keeps nothing. One or two files are read whole either
way (their contiguous cut needs the whole text) and held once: a long split is
several rows (`splits.contiguous_rows`), and files over BIG_FILE_BYTES are cut
straight into arrow files under the cache (`_arrow_cut`), so memory does not grow
with copies of the text.

Deliberately not here: guessing other encodings (a wrong guess would train the
model on mojibake; the user re-saves the file instead), reading anything but
`.txt` from a folder, or following URLs.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING

from wordgen._io import default_cache_dir, expand, first_line
from wordgen.corpora.gutenberg import is_gutenberg, strip_gutenberg
from wordgen.corpora.splits import DEFAULT_FRACTIONS, SPLITS, contiguous_rows, deal, split_contiguous
from wordgen.errors import CorpusError

if TYPE_CHECKING:  # imported where the datasets are built: reading a file needs no arrow
    import datasets

_GLOB_CHARS = ("*", "?", "[")
# One or two files larger than this together are cut into arrow files on disk (`_arrow_cut`)
# rather than in memory: the text is then held once, whatever its size.
BIG_FILE_BYTES = 8 << 20


def is_glob(spec: str) -> bool:
    """True when `spec` holds a glob wildcard (checked only once no such path exists)."""
    return any(char in spec for char in _GLOB_CHARS)


def load_path(path: Path, *, seed: int, streaming: bool = False):
    """A file, or every `.txt` file under a folder (recursively), as a split corpus."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"no .txt files in folder '{path}': put the corpus there as UTF-8 .txt files")
        return load_files(files, seed=seed, source=f"folder '{path}'", streaming=streaming)
    return load_files([path], seed=seed, source=f"'{path}'", streaming=streaming)


def load_glob(pattern: str, *, seed: int, streaming: bool = False):
    """Every file matching `pattern` (`**` recurses), as a split corpus."""
    matches = sorted(Path(m) for m in glob.glob(str(expand(pattern)), recursive=True))
    files = [m for m in matches if m.is_file()]
    if not files:
        raise CorpusError(f"glob pattern '{pattern}' matches no files: check the pattern and the current directory")
    return load_files(files, seed=seed, source=f"glob '{pattern}'", streaming=streaming)


def load_files(files: list[Path], *, seed: int, source: str, streaming: bool = False):
    """A DatasetDict (an IterableDatasetDict with `streaming`) of train / validation / test."""
    if len(files) <= 2:
        where = f"'{files[0]}'" if len(files) == 1 else source
        cache = default_cache_dir()
        if cache is not None and sum(os.stat(path).st_size for path in files) > BIG_FILE_BYTES:
            corpus = _arrow_cut([str(path) for path in files], str(cache / "arrow"), where)
        else:
            corpus = split_contiguous(_joined_text([str(path) for path in files]), DEFAULT_FRACTIONS, source=where)
        if not streaming:
            return corpus
        import datasets

        return datasets.IterableDatasetDict({name: split.to_iterable_dataset() for name, split in corpus.items()})
    # Sort by path first so the deal depends on the seed, not on listing order.
    groups = deal(sorted(str(path) for path in files), seed=seed)
    return _streamed_files(groups) if streaming else _arrow_files(groups)


def _joined_text(files: list[str]) -> str:
    """The text of one file, or of two joined by a newline: two files cannot give three non-empty whole-file
    splits, so their concatenation is cut."""
    return read_text_file(files[0]) if len(files) == 1 else "\n".join(read_text_file(path) for path in files)


def _arrow_cut(files: list[str], folder: str, where: str) -> datasets.DatasetDict:
    """`split_contiguous` of a big text, written split by split into arrow files under the cache.

    The rows are made one at a time from the text (the only copy in memory) and go to disk
    as they come, so the text is never held twice; each split reads the file(s) again.
    """
    import datasets

    stamps = [(os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in files]
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the library never prints
    try:
        return datasets.DatasetDict({
            name: datasets.Dataset.from_generator(
                _cut_rows, gen_kwargs={"files": files, "split": index, "where": where, "stamps": stamps},
                cache_dir=folder, writer_batch_size=1)
            for index, name in enumerate(SPLITS)})
    except Exception as err:  # datasets wraps what the generator raised
        _raise_corpus_error(err)
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()


def _cut_rows(files: list[str], split: int, where: str, stamps: list | None = None):
    # stamps (size, mtime) only name the arrow file (datasets hashes these arguments).
    for row in contiguous_rows(_joined_text(files), DEFAULT_FRACTIONS, source=where)[split]:
        yield {"text": row}


def _file_rows(files: list[str], stamps: list | None = None):
    # stamps (size, mtime) only name the arrow file (datasets hashes these arguments).
    for path in files:
        yield {"title": path, "text": read_text_file(path)}


def _streamed_files(groups) -> datasets.IterableDatasetDict:
    import datasets

    return datasets.IterableDatasetDict({
        name: datasets.IterableDataset.from_generator(_file_rows, gen_kwargs={"files": files})
        for name, files in zip(SPLITS, groups)
    })


def _arrow_files(groups) -> datasets.DatasetDict:
    import tempfile

    import datasets

    cache = default_cache_dir()
    # No cache (WORDGEN_CACHE=off): the arrow files go to a temporary folder and the
    # splits are kept in memory, like any small corpus.
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(cache / "arrow") if cache is not None else tmp
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # the library never prints
        try:
            return datasets.DatasetDict({name: _arrow_split(files, folder, in_memory=cache is None)
                                         for name, files in zip(SPLITS, groups)})
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()


def _arrow_split(files: list[str], folder: str, *, in_memory: bool) -> datasets.Dataset:
    import datasets

    stamps = [(os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in files]
    try:
        # writer_batch_size 1: a row is a whole file, so each goes to disk before the next is read.
        return datasets.Dataset.from_generator(_file_rows, gen_kwargs={"files": files, "stamps": stamps},
                                               cache_dir=folder, keep_in_memory=in_memory, writer_batch_size=1)
    except Exception as err:  # datasets wraps what the generator raised
        _raise_corpus_error(err)


def _raise_corpus_error(err: Exception):
    """The CorpusError behind what datasets raised while building a split, or one that names the failure."""
    cause = err
    while cause is not None and not isinstance(cause, CorpusError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        raise CorpusError(str(cause)) from None
    raise CorpusError(f"cannot build the corpus from its files: {type(err).__name__}: {first_line(err)}") from None


def read_text_file(path: str | Path) -> str:
    """Read one text file the way corpora are read: UTF-8 (BOM dropped, \\n line ends),
    Project Gutenberg header and licence removed; CorpusError if it is missing,
    unreadable, binary, not UTF-8 or empty."""
    path = expand(path)
    if not path.exists():
        raise CorpusError(f"text file '{path}' does not exist: check the path")
    if path.is_dir():
        raise CorpusError(f"'{path}' is a folder, not a text file: give the path of one .txt file")
    if not path.is_file():
        raise CorpusError(f"'{path}' is not a regular file (a pipe or device?): give a text file or a folder")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read corpus file '{path}': {err.strerror or first_line(err)}") from None
    text = _decode(data, path)
    del data  # a big file is held once, as text, from here on
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if is_gutenberg(text):
        text = strip_gutenberg(text)
        if not text.strip():
            raise CorpusError(f"corpus file '{path}' has no book text between its Project Gutenberg header and footer")
    if not text.strip():
        raise CorpusError(f"corpus file '{path}' is empty: put some text in it")
    return text


def _decode(data: bytes, path: Path) -> str:
    """The UTF-8 text of `data` (BOM dropped; line ends as they are), or a CorpusError."""
    # A NUL byte near the start is the cheapest reliable sign of a binary file (zip,
    # PDF, ...): text files practically never hold one, binary formats nearly always do.
    if b"\x00" in data[:8192]:
        raise CorpusError(f"corpus file '{path}' is not UTF-8 text (it looks binary): convert it to a UTF-8 .txt file")
    try:
        text = data.decode("utf-8-sig")  # -sig drops the byte-order mark Windows editors add
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"corpus file '{path}' is not UTF-8 text (bad byte at position {err.start}): re-save it as UTF-8"
        ) from None
    return text
