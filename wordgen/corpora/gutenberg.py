"""Recognise a Project Gutenberg e-book and keep only the book.

Gutenberg files wrap the book in a header and a long licence, marked by
"*** START OF ..." and "*** END OF ..." lines whose wording changed over the
years. Training on the licence teaches the model legalese, so local files lose it.

Deliberately not here: reading files or guessing encodings (see `local`), and any
clean-up inside the book itself (chapter headings, illustrations, footnotes stay).
"""

from __future__ import annotations

import re

# Marker variants seen across decades of Project Gutenberg files, e.g.
# "*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***",
# "*** START OF THIS PROJECT GUTENBERG EBOOK ALICE ***", "***START OF THE PROJECT ...".
_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE |THIS )?PROJECT GUTENBERG E-?BOOK", re.IGNORECASE | re.MULTILINE
)
# "*** END OF THE PROJECT GUTENBERG EBOOK ... ***", "End of the Project Gutenberg EBook
# of ...", "End of Project Gutenberg's ...": whichever comes first ends the book.
_END = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*)?END OF (?:THE |THIS )?PROJECT GUTENBERG", re.IGNORECASE | re.MULTILINE
)


def is_gutenberg(text: str) -> bool:
    """True when `text` carries a Project Gutenberg "*** START OF ..." header."""
    return _START.search(text) is not None


def strip_gutenberg(text: str) -> str:
    """Keep only the book between the Gutenberg START and END markers.

    Text without a START marker comes back unchanged. Without an END marker,
    everything after the START marker is kept. Leading and trailing blank lines of
    the book are removed.
    """
    start = _START.search(text)
    if start is None:
        return text
    begin = _end_of_start_marker(text, start.end())
    end = _END.search(text, begin)
    book = text[begin : end.start() if end else len(text)]
    return _strip_blank_lines(book)


def _end_of_start_marker(text: str, after: int) -> int:
    """Index just past the START marker line; long titles wrap the marker onto a second line."""
    # The closing "***" is looked for only a little way ahead, so a book that merely
    # contains "***" (a section break) further on is never mistaken for the marker's end.
    closing = text.find("***", after, after + 400)
    anchor = closing if closing != -1 else after
    newline = text.find("\n", anchor)
    return len(text) if newline == -1 else newline + 1


def _strip_blank_lines(text: str) -> str:
    """`text` without its leading and trailing blank lines (one slice: no list of lines, a book may be big)."""
    begin = 0
    while True:  # past each leading line that is only whitespace
        newline = text.find("\n", begin)
        if newline == -1 or text[begin:newline].strip():
            break
        begin = newline + 1
    end = len(text)
    while end > begin:  # back over each trailing line that is only whitespace
        newline = text.rfind("\n", begin, end)
        if text[newline + 1:end].strip():
            break
        if newline == -1:
            return ""
        end = newline
    if not text[begin:end].strip():
        return ""
    return text[begin:end]
