"""What the test files share: the verse, the tiny settings (as configs and as flags), the command
line run in this process, the one-line checks of a refusal, a model that knows nothing, and the
test's end of the hook that holds a child process at a named point (Holds).

Test files import these (`from helpers import ...`: pyproject's pytest `pythonpath` puts tests/
on the path, so a file runs alone). Not here: fixtures (conftest.py: the shared trained
checkpoints, `book`, `hf_cache`); plumbing that one test file alone uses.
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest

from wordgen.cli import main
from wordgen.config import ModelConfig, TrainConfig
from wordgen.device import cpu_runs_bf16_rnns

# bfloat16 autocast on the CPU: where oneDNN has no bf16 LSTM/GRU (AVX2 CPUs without bf16
# units), wordgen refuses --precision bf16 (tests/test_model.py), so there is nothing to train.
NEEDS_CPU_BF16 = pytest.mark.skipif(not cpu_runs_bf16_rnns(), reason="this CPU's oneDNN has no bfloat16 LSTM/GRU; "
                                    "wordgen refuses bf16 here (test_model checks the refusal)")

VERSE = """ROMEO:
But, soft! what light through yonder window breaks?
It is the east, and Juliet is the sun.
Arise, fair sun, and kill the envious moon,
Who is already sick and pale with grief,
That thou her maid art far more fair than she.

JULIET:
O Romeo, Romeo! wherefore art thou Romeo?
Deny thy father and refuse thy name;
Or, if thou wilt not, be but sworn my love,
And I'll no longer be a Capulet.
"""


def write_book(folder: Path, repeats: int = 40) -> Path:
    """folder/book.txt: the verse repeated (40 times gives every split some text)."""
    path = Path(folder) / "book.txt"
    path.write_text(VERSE * repeats, encoding="utf-8")
    return path


def tiny_model_config(**overrides) -> ModelConfig:
    settings = dict(embedding_dim=16, hidden_size=16, num_layers=1, dropout=0.0)
    settings.update(overrides)
    return ModelConfig(**settings)


def tiny_train_config(corpus, out, **overrides) -> TrainConfig:
    settings = dict(
        corpus=str(corpus), tokenizer="word", out=str(out), model=tiny_model_config(),
        batch_size=4, seq_len=8, max_steps=12, eval_interval=5, warmup_steps=2,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def tiny_flags(**overrides) -> list[str]:
    """The tiny sizes as command-line flags, plus `overrides` (`seq_len=4` gives `--seq-len 4`,
    `quiet=True` a bare `--quiet`). Unlike tiny_model_config the dropout is left to the size
    rule unless given."""
    settings = dict(embedding_dim=16, hidden_size=16, num_layers=1, batch_size=4, seq_len=8)
    settings.update(overrides)
    flags = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    return flags


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`wordgen ARGV` in this process (paths and numbers welcome): (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def readline_within(stream, seconds: float = 120.0) -> str:
    """`stream.readline()` that fails the test after `seconds` instead of waiting forever for a child that
    says nothing (a daemon thread reads; it ends when the child's pipe closes)."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    if not line:
        raise AssertionError(f"no line from the child in {seconds} s")
    return line[0]


def one_line_error(err: str, starts: str = "wordgen: error: ") -> str:
    """What a refusal printed is exactly one line, which starts with `starts`; returns it (no newline)."""
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith(starts), err
    return err[:-1]


def one_line_message(excinfo) -> str:
    """The message of the error pytest.raises caught is there and on one line; returns it."""
    message = str(excinfo.value)
    assert message and "\n" not in message, repr(message)
    return message


def uniform_model(vocab_size: int):
    """A model whose logits are all zero: every one of the V tokens has probability 1/V."""
    import torch  # here, not at the top: conftest imports this module for every test file

    from wordgen.model import LSTMLanguageModel

    model = LSTMLanguageModel(ModelConfig(vocab_size=vocab_size, embedding_dim=8, hidden_size=8, num_layers=1))
    with torch.no_grad():
        model.head.weight.zero_()  # tied: the embedding too, which does not matter here
        model.head.bias.zero_()
    return model


class Holds:
    """The test's end of the library's one test hook (wordgen._io.hold_for_tests): a child process started
    with `env()` stops at each of `points` in turn ("save:NAME", "step:N") until `release()`.

    Two FIFOs in `folder`, held open here for reading and writing, so that neither side ever
    blocks on opening them and a child that dies never leaves the test waiting on a pipe.
    """

    def __init__(self, folder: Path, *points: str):
        self.folder, self.points = Path(folder), points
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fds = {}
        for name in ("reached", "release"):
            os.mkfifo(self.folder / name)
            self._fds[name] = os.open(self.folder / name, os.O_RDWR | os.O_NONBLOCK)  # Linux: never blocks
        self._pending = b""

    def env(self) -> dict[str, str]:
        return {"WORDGEN_TEST_HOLD": ",".join(self.points), "WORDGEN_TEST_HOLD_DIR": str(self.folder)}

    def wait(self, point: str, proc, timeout: float = 120.0) -> None:
        """Block until `proc` says it is held at `point`. The timeout only stops a broken test from
        hanging (a tiny run reaches any point in seconds, even on a busy machine); a child that
        exits first fails the test at once, with its stderr."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            if proc.poll() is not None:
                raise AssertionError(f"the child exited ({proc.returncode}) before {point}: {proc.communicate(timeout=60)[1]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the child did not reach {point} in {timeout} s")
            # Wakes as soon as the child writes; the 1 s bound only lets the loop look at the child again.
            if select.select([self._fds["reached"]], [], [], 1.0)[0]:
                self._pending += os.read(self._fds["reached"], 4096)
        line, self._pending = self._pending.split(b"\n", 1)
        assert line.decode() == point, f"the child held at {line.decode()!r}, not at {point!r}"

    def release(self) -> None:
        os.write(self._fds["release"], b"\n")

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def __enter__(self) -> Holds:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
