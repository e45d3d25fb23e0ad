"""Where a benchmark writes its results: a new, timestamped file every run, never over an old one.

The README cites result files by name, so a rerun (a `--quick` one above all)
must not replace them: `write_new` names the file by the command and the local
time to the second, adds -2, -3... if that name is taken, and creates the file
exclusively (open mode "x"), so a name that exists by then is an error, never
overwritten.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def new_path(stem: str, folder: Path = RESULTS, now: datetime.datetime | None = None) -> Path:
    """folder/STEM-YYYY-MM-DDTHH-MM-SS.json, or with -2, -3... when that exists already."""
    stamp = (now or datetime.datetime.now()).strftime("%Y-%m-%dT%H-%M-%S")
    path = Path(folder) / f"{stem}-{stamp}.json"
    n = 2
    while path.exists():
        path = Path(folder) / f"{stem}-{stamp}-{n}.json"
        n += 1
    return path


def write_new(doc: dict, stem: str, folder: Path = RESULTS) -> Path:
    """Write `doc` as JSON to a new file (see `new_path`); return its path."""
    path = new_path(stem, folder)
    text = json.dumps(doc, indent=1) + "\n"  # whole before the file exists: a bad doc leaves no file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:  # FileExistsError if another run took the name since
        f.write(text)
    return path
