"""Corpora from the local disk: one text file, a folder of them, or a glob pattern.

Every file is read the same way (`read_text_file`): UTF-8, BOM dropped, line ends
made "\\n", a Project Gutenberg header and licence removed, and a one-line
CorpusError for a missing, special, binary, non-UTF-8 or empty file. One or two
files are cut contiguously; three or more are split by whole files.

Deliberately not here: guessing other encodings (a wrong guess would train the
model on mojibake; the user re-saves the file instead), reading anything but
`.txt` from a folder, or following URLs.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING

from wordgen._io import expand, first_line
from wordgen.corpora.gutenberg import is_gutenberg, strip_gutenberg
from wordgen.corpora.splits import DEFAULT_FRACTIONS, split_contiguous, split_documents
from wordgen.errors import CorpusError

if TYPE_CHECKING:  # the splits module builds the datasets; this one only reads files
    import datasets

_GLOB_CHARS = ("*", "?", "[")


def is_glob(spec: str) -> bool:
    """True when `spec` holds a glob wildcard (checked only once no such path exists)."""
    return any(char in spec for char in _GLOB_CHARS)


def load_path(path: Path, *, seed: int) -> datasets.DatasetDict:
    """A file, or every `.txt` file under a folder (recursively), as a split corpus."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"no .txt files in folder '{path}': put the corpus there as UTF-8 .txt files")
        return load_files(files, seed=seed, source=f"folder '{path}'")
    return load_files([path], seed=seed, source=f"'{path}'")


def load_glob(pattern: str, *, seed: int) -> datasets.DatasetDict:
    """Every file matching `pattern` (`**` recurses), as a split corpus."""
    matches = sorted(Path(m) for m in glob.glob(str(expand(pattern)), recursive=True))
    files = [m for m in matches if m.is_file()]
    if not files:
        raise CorpusError(f"glob pattern '{pattern}' matches no files: check the pattern and the current directory")
    return load_files(files, seed=seed, source=f"glob '{pattern}'")


def load_files(files: list[Path], *, seed: int, source: str) -> datasets.DatasetDict:
    texts = [read_text_file(path) for path in files]
    if len(files) == 1:
        return split_contiguous(texts[0], DEFAULT_FRACTIONS, source=f"'{files[0]}'")
    if len(files) == 2:
        # Two files cannot give three non-empty whole-file splits: cut their concatenation.
        return split_contiguous("\n".join(texts), DEFAULT_FRACTIONS, source=source)
    # Sort by path first so the shuffle depends on the seed, not on listing order.
    documents = sorted((str(path), text) for path, text in zip(files, texts))
    return split_documents(documents, seed=seed)


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
    if is_gutenberg(text):
        text = strip_gutenberg(text)
        if not text.strip():
            raise CorpusError(f"corpus file '{path}' has no book text between its Project Gutenberg header and footer")
    if not text.strip():
        raise CorpusError(f"corpus file '{path}' is empty: put some text in it")
    return text


def _decode(data: bytes, path: Path) -> str:
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
    return text.replace("\r\n", "\n").replace("\r", "\n")
