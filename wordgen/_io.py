"""File plumbing every writer in wordgen shares: atomic writes, one-line errors, path checks.

`atomic_write` is the one way wordgen puts a file on disk (checkpoints, tokenizers,
caches, reports). It writes a temporary file beside the target, flushes and fsyncs it,
gives it the same mode every time (0666 less the process umask, like `open()` would),
renames it over the target and fsyncs the folder, so that a crash at any moment leaves
either the old file or the whole new one, never half of either, and a colleague sharing
the folder can read every file of a checkpoint alike.

It deliberately knows nothing of formats: callers hand it a function that writes to a
path (`torch.save`, `safetensors.save_model`, a text writer). No torch import here.

Also here, because every save passes through it: `hold_for_tests`, the one test-only hook of
the library (tests/helpers.Holds holds a child process at a named point until it lets go).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    # os.umask can only be read by setting it; put the old value straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open(path, "w") would create: the umask decides


def first_line(err: object) -> str:
    """The first non-empty line of an error or message, stripped: for one-line messages."""
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


def expand(path: str | os.PathLike) -> Path:
    """`~` expanded; the path itself is not resolved, so messages show what the user typed."""
    return Path(os.path.expanduser(os.fspath(path)))


def default_cache_dir() -> Path | None:
    """$WORDGEN_CACHE, or ~/.cache/wordgen; WORDGEN_CACHE=off turns caching off.

    The one cache folder: trained tokenizers, token stores, and the arrow files of
    local folders of text (wordgen.corpora.local) all live under it.
    """
    value = os.environ.get("WORDGEN_CACHE")
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else expand(value)
    return Path.home() / ".cache" / "wordgen"


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (POSIX); not all
    # systems can open a folder (Windows), and there a failed fsync is harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- TEST-ONLY: holds

# WORDGEN_TEST_HOLD=POINT[,POINT...] with WORDGEN_TEST_HOLD_DIR=FOLDER lets a test stop this
# process at named points, in turn, until the test lets it go: `save:NAME` inside the
# save of a file called NAME (its temporary file written, not yet renamed), `step:N`
# right after optimizer step N. FOLDER holds two FIFOs the test made and keeps open for
# reading and writing: at each point the process writes "POINT\n" to FOLDER/reached, then
# reads one byte from FOLDER/release. Only the first point of the list is armed; once it
# is passed, the next one is. tests/helpers.py (Holds) is the other end. Unset (always, outside the
# tests that set it) a hold point costs one test of an empty list.
_HOLDS = [p.strip() for p in os.environ.get("WORDGEN_TEST_HOLD", "").split(",") if p.strip()]


def hold_for_tests(kind: str, what: object) -> None:
    """TEST-ONLY: wait here while a test holds this process at `kind:what` (see _HOLDS)."""
    if _HOLDS and _HOLDS[0] == f"{kind}:{what}":
        _hold(_HOLDS.pop(0))


def _hold(point: str) -> None:
    folder = Path(os.environ["WORDGEN_TEST_HOLD_DIR"])
    # Non-blocking: with no test reading, this fails (ENXIO) instead of waiting forever.
    fd = os.open(folder / "reached", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, f"{point}\n".encode())  # one write under PIPE_BUF: never mixed with another process's
    finally:
        os.close(fd)
    fd = os.open(folder / "release", os.O_RDONLY)  # the test holds a writer open: no wait here
    try:
        os.read(fd, 1)  # blocks until the test lets go; a signal handler that raises ends it
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` for a temporary file beside `path`, then move it onto `path`.

    OSError (disk full, no permission, a missing folder that cannot be made) reaches the
    caller unchanged, and the temporary file is removed: the caller turns it into a
    message that names its own file.
    """
    path = expand(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        hold_for_tests("save", path.name)
        with open(tmp, "rb+") as f:  # whatever `write` used, its bytes reach the disk now
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; every wordgen file gets one mode
        os.replace(tmp, path)  # atomic on one file system: readers see old or new, whole
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write` for UTF-8 text."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """`atomic_write` for raw bytes."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
