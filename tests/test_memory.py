"""The malloc arena cap the `wordgen` command sets first (wordgen.memory)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from wordgen.memory import limit_arenas

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_a_malloc_arena_max_the_user_set_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert limit_arenas() is False


@pytest.mark.skipif(not GLIBC, reason="mallopt(M_ARENA_MAX) is glibc's")
def test_the_cap_is_set_on_glibc_and_zero_is_taken_as_no_cap(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_arenas() is True
    assert limit_arenas(0) is True  # glibc takes 0 as "no cap of its own": accepted, nothing breaks


# Encodes on the tokenizers' thread pool, then writes glibc's malloc_info (one <heap> per arena).
ARENAS_AFTER_ENCODING = """
import ctypes, sys
if sys.argv[2] == "command":
    from wordgen.cli import main
    main(["corpora"])
import tokenizers
tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0}, unk_token="a"))
tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
for _ in range(20):
    tok.encode_batch(["a b c " * 500] * 64)
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
out = libc.fopen(sys.argv[1].encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fclose(ctypes.c_void_p(out))
"""


def _arenas(tmp_path, how: str) -> int:
    out = tmp_path / f"malloc-{how}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", ARENAS_AFTER_ENCODING, str(out), how], check=True, env=env,
                   capture_output=True)
    return out.read_text().count("<heap nr=")


@pytest.mark.skipif(not GLIBC, reason="mallopt(M_ARENA_MAX) is glibc's")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the thread pool has one thread and one arena")
def test_the_wordgen_command_caps_the_arenas_its_tokenizer_threads_use(tmp_path):
    assert _arenas(tmp_path, "command") <= 2  # `wordgen` ran first: the cap holds
    assert _arenas(tmp_path, "plain") > 2  # the same encoding in a plain process spreads wider
