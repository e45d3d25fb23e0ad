"""The command line's file inputs fuzzed: what is valid succeeds, what is not is refused in one line that
names the problem; never a traceback, never a hang.

hypothesis writes random files -- random bytes, text with NULs, one huge line, only
whitespace, mixed line ends (\\n, \\r\\n, \\r), invalid UTF-8 after a valid start --
and hands them to `wordgen train --corpus`, `wordgen evaluate --text-file` and
`wordgen generate --prompt`. Whether a file is valid is decided here, from the rules the
user is told (`text_file_problem`: UTF-8 text, not binary, not empty), not by the code
under test: a valid file must give exit 0, an invalid one exit 2 with its problem named.
Any exception that escapes `main` (what the console script would print as a traceback)
fails the test; so does a call that outlives an alarm (a hang).
"""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest
from helpers import VERSE, one_line_error, tiny_flags
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from wordgen.cli import main

EXAMPLES = {"train": 15, "evaluate": 40, "prompt": 40}
TINY = tiny_flags(batch_size=2, seq_len=4, precision="fp32")
SECONDS = 60  # far above what any of these calls needs on a busy 2-core machine

LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\u2028", "\x0c"])
WORDS = st.sampled_from(VERSE.split() + ["\x00", "\t", "  ", "👍🏽", "e\u0301", "\ufeff", "\ufffd", "<unk>"])
TEXTY = st.lists(st.one_of(WORDS, LINE_ENDS, st.text(max_size=8)), max_size=60).map(" ".join)
FILES = st.one_of(
    st.binary(max_size=600),
    TEXTY.map(lambda t: t.encode("utf-8")),
    st.text(" \t\r\n\x0b\x0c", max_size=50).map(lambda t: t.encode()),  # only whitespace
    st.tuples(TEXTY, st.binary(max_size=20)).map(lambda p: p[0].encode("utf-8") + p[1]),  # UTF-8, then not
    st.integers(1, 200_000).map(lambda n: ("word " * n).encode()),  # one huge line
    st.just(b"\x00" * 5000),
)


@contextmanager
def deadline(seconds: int):
    def hang(signum, frame):
        raise AssertionError(f"the command ran for more than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys, *argv) -> tuple[int, str]:
    """(exit code, stderr) of `wordgen ARGV`; a refusal is one line."""
    with deadline(SECONDS):
        code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code in (0, 2), (code, err)
    if code == 2:
        one_line_error(err)
    event(f"exit {code}")  # --hypothesis-show-statistics shows how many examples got through
    return code, err


def text_file_problem(data: bytes) -> str | None:
    """What the user is told a text file must be, as the part of the refusal that names the problem
    (None: a valid text file). A NUL among the first 8 KiB is the documented sign of a binary file."""
    if b"\x00" in data[:8192]:
        return "is not UTF-8 text (it looks binary)"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return f"is not UTF-8 text (bad byte at position {err.start})"
    if not text.strip():
        return "is empty"
    return None


def expect(code: int, err: str, problem: str | None, path) -> None:
    """Valid (problem None): exit 0. Invalid: exit 2, one line naming the file and the problem."""
    if problem is None:
        assert code == 0, err
    else:
        assert code == 2, f"not refused; expected: {problem}"
        line = one_line_error(err)
        assert problem in line and str(path) in line, (problem, line)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    book = folder / "book.txt"
    book.write_text(VERSE * 20, encoding="utf-8")
    out = folder / "ckpt"
    assert main(["train", "--corpus", str(book), "--out", str(out), "--max-steps", "2", "--quiet", *TINY]) == 0
    return out


@pytest.fixture(scope="module")
def tokenizer(trained):
    from wordgen.training.checkpoint import Bundle

    return Bundle.load(trained, device="cpu").tokenizer


def fuzz(kind):
    return settings(max_examples=EXAMPLES[kind], deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# Text that the rules say trains: the verse (many lines, every split long enough) with anything
# after it that is still UTF-8 text without NULs.
TRAINABLE = TEXTY.map(lambda t: (VERSE * 8 + t.replace("\x00", "")).encode("utf-8"))
# What a valid text file can still be too short for: the splits (3 non-empty lines), the rows of a batch.
TOO_SHORT = ("too short to split into train/validation/test", "the training text is too short",
             "the validation split has fewer than 2 tokens")


@fuzz("train")
@given(data=st.one_of(FILES, FILES.map(lambda data: (VERSE * 8).encode() + data), TRAINABLE))
@pytest.mark.filterwarnings("ignore")
def test_train_on_a_fuzzed_corpus_file(data, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(data)
    code, err = run(capsys, "train", "--corpus", corpus, "--out", tmp_path / "out", "--overwrite", "--max-steps",
                    "1", "--quiet", *TINY)
    problem = text_file_problem(data)
    if problem is None and data.startswith((VERSE * 8).encode()):
        assert code == 0, err  # long enough for everything
    elif problem is None:  # valid text: it trains, or it is refused for being too short, and says so
        assert code == 0 or any(reason in one_line_error(err) for reason in TOO_SHORT), err
        lines = [line for line in data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").split("\n")
                 if line.strip()]
        if len(lines) < 3:
            assert code == 2 and TOO_SHORT[0] in err and str(corpus) in err, err
    else:
        expect(code, err, problem, corpus)


@fuzz("evaluate")
@given(data=FILES)
@pytest.mark.filterwarnings("ignore")
def test_evaluate_a_fuzzed_text_file(data, trained, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_bytes(data)
    expect(*run(capsys, "evaluate", trained, "--text-file", text), text_file_problem(data), text)


@fuzz("prompt")
@given(prompt=TEXTY)
@example(prompt="-:")  # found by a random run: a prompt that starts like an option
@pytest.mark.filterwarnings("ignore")
def test_generate_from_a_fuzzed_prompt(prompt, trained, tokenizer, capsys):
    prompt = prompt.replace("\x00", "")  # a command line cannot hold a NUL
    # --prompt=TEXT, as a user writes a prompt that starts with "-" (argparse takes "--prompt -x" for two options)
    code, err = run(capsys, "generate", trained, f"--prompt={prompt}", "--max-tokens", "4")
    if prompt and not tokenizer.encode(prompt):  # what the model cannot start from: no token at all
        assert code == 2 and "encodes to no tokens" in one_line_error(err), err
    else:  # anything else starts a generation (unknown words become <unk>, with a warning)
        assert code == 0, err


def test_the_console_script_on_a_huge_line_with_nuls(trained, tmp_path):
    file = tmp_path / "huge.txt"
    file.write_bytes(b"word " * 100_000 + b"\x00" * 1000 + b"word\r\n" * 10)
    proc = subprocess.run([sys.executable, "-m", "wordgen.cli", "evaluate", str(trained), "--text-file", str(file)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr  # the NULs come after 8 KiB: text
