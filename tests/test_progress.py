"""Off a terminal the progress display writes a plain line every few seconds, not a redraw per tick."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import tiny_flags
from tqdm import tqdm

from wordgen.training.progress import DEFAULT_SECONDS, LineProgress, TrainingBar, line_interval, progress_bar

ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_line_per_interval_and_one_at_the_end():
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(100, desc="training", unit="step", interval=5, file=out, clock=clock)
    for step in range(100):  # 100 steps over 20 fake seconds
        clock.now = step * 0.2
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == bar.lines == 3 + 1  # at 5, 10 and 15 fake seconds, and at the end
    assert lines[0].startswith("training:  26% 26/100 step, 5 s loss=")
    assert lines[-1].startswith("training: 100% 100/100 step")


def test_close_does_not_repeat_a_line_that_showed_the_end():
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(2, desc="training", unit="s", interval=1, file=out, clock=clock)
    clock.now = 2
    bar.update(2)
    bar.close()
    assert out.getvalue().count("\n") == 1


def test_characters_read_in_millions():
    out = io.StringIO()
    bar = LineProgress(2_000_000, desc="training", unit="char", interval=0, file=out)
    bar.update(500_000)
    assert "25% 0.50M/2.00M char" in out.getvalue()


def test_terminal_gets_tqdm_and_anything_else_lines(monkeypatch):
    assert isinstance(progress_bar(10, desc="t", unit="step", enabled=True, file=Terminal()), tqdm)
    assert isinstance(progress_bar(10, desc="t", unit="step", enabled=True, file=io.StringIO()), LineProgress)
    assert progress_bar(10, desc="t", unit="step", enabled=False, file=io.StringIO()).disable
    monkeypatch.delenv("WORDGEN_PROGRESS_SECONDS", raising=False)
    assert line_interval() == DEFAULT_SECONDS == 10
    monkeypatch.setenv("WORDGEN_PROGRESS_SECONDS", "0.5")
    assert line_interval() == 0.5


@pytest.mark.parametrize("limits, last_line", [
    (dict(steps=40, chars=math.inf, seconds=60.0), "training:  30% 12/40 step, "),
    (dict(steps=math.inf, chars=5_000_000, seconds=60.0), "training: 100% 5.00M/5.00M char, "),
    (dict(steps=math.inf, chars=math.inf, seconds=60.0), "training: 100% 60/60 s, ")])
def test_the_training_bar_counts_the_first_limit_there_is_and_never_past_it(limits, last_line, capsys):
    bar = TrainingBar(**limits, enabled=True)  # stderr is no terminal here: lines
    assert isinstance(bar.bar, LineProgress)
    bar.advance(step=10, chars=1_000_000, seconds=15.0)  # a resumed run starts part way
    bar.advance(step=12, chars=9_000_000, seconds=90.0)
    bar.show(loss=1.23456, bpc=2.0, val_bpc=None)
    bar.close()
    line = capsys.readouterr().err.splitlines()[-1]
    assert line.startswith(last_line) and line.endswith(" s loss=1.235 bpc=2.000 val_bpc=-"), line


@pytest.mark.slow
def test_training_into_a_log_file_writes_a_few_lines(book, tmp_path):
    """`wordgen train ... > log 2>&1` for 4 s with a line every second: a handful of lines, no redraws."""
    from wordgen.training import checkpoint as ckpt

    log = tmp_path / "train.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORDGEN_PROGRESS_SECONDS": "1", "WORDGEN_THREADS": "1"}
    argv = [sys.executable, "-m", "wordgen.cli", "train", "--corpus", str(book), "--tokenizer", "char",
            "--out", str(tmp_path / "ckpt"), "--time-budget", "4", *tiny_flags(), "--eval-interval", "50"]
    began = time.monotonic()
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env, timeout=300)
    wall = time.monotonic() - began
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, text
    progress = [line for line in text.splitlines() if line.startswith("training:")]
    steps = ckpt.load_trainer_state(tmp_path / "ckpt")["step"]
    assert "\r" not in text
    # At most a line a second of the whole process's wall time (an upper bound on the loop's, however
    # busy the machine), and the last one; at least one on the way and the last (no step of a tiny
    # model takes 3 of the 4 s).
    assert 2 <= len(progress) <= wall + 1, (len(progress), wall)
    assert progress[-1].startswith("training:") and "/4 s" in progress[-1]
    assert steps >= 10 * len(progress), (steps, len(progress))  # a line per second, not per step
    assert len(text.encode()) < 200 * (len(progress) + 5)  # a tqdm bar redrawn per step wrote kilobytes here
