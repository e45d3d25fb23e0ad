"""Keeping a process's memory flat as its text grows: a cap on glibc's malloc arenas.

glibc gives each thread that allocates while another holds the lock an arena of its
own, up to eight per core, and memory freed in one arena is not reused by another.
Hugging Face `tokenizers` encodes and trains on a pool of threads (rayon), so a big
text's encoding leaves freed blocks spread over many arenas: the process's peak grows
with the text although what it keeps does not (docs/development/log.md, "Memory and
processes"). `limit_arenas()` caps the arenas with `mallopt(M_ARENA_MAX)`, as the
MALLOC_ARENA_MAX environment variable would, when nothing set that variable.

The `wordgen` command and the tasks call it first thing: the cap only binds threads that
have not allocated yet. The library does not call it: changing how a host program
allocates is the program's choice. No-op outside glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ARENAS = 2  # with one arena the tokenizer's threads queue for its lock; two kept the peak as flat
M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas` unless MALLOC_ARENA_MAX is set; True if the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # no libc to open, or one without mallopt
        return False
