"""Training progress: a tqdm bar on a terminal, a plain line every few seconds anywhere else.

A tqdm bar redraws itself with carriage returns several times a second. On a
terminal that is one live line; written into a file (CI logs, `nohup`, a
notebook's captured output) every redraw stays, and a 150-second `wordgen lab`
left 63 KB of them. So `progress_bar` asks whether the stream is a terminal
(`isatty`) and, when it is not, hands out a `LineProgress`: the same small
interface train() uses (`update`, `set_postfix`, `close`, `n`, `total`), which
writes one ordinary line every `WORDGEN_PROGRESS_SECONDS` seconds (default 10)
and one at the end.

In a Jupyter kernel without ipywidgets, `tqdm.auto` falls back to the text bar
anyway, so notebooks get the lines too (readable live, and small when saved).

`training_bar` and `advance_training_bar` are train()'s use of it: what the bar
counts (steps when a step limit is known, else characters of --chars, else
seconds of --time-budget), where a resumed run starts, and the loss and bits per
character in the postfix every tenth step.

Not here: the training itself (train.py).
"""

from __future__ import annotations

import math
import os
import sys
import time

from tqdm.auto import tqdm

DEFAULT_SECONDS = 10.0  # between two lines off a terminal: 15 lines for the lab's 150 s


def line_interval() -> float:
    """Seconds between progress lines off a terminal: $WORDGEN_PROGRESS_SECONDS, else 10."""
    try:
        return max(0.0, float(os.environ.get("WORDGEN_PROGRESS_SECONDS", DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _amount(value: float, unit: str) -> str:
    if unit == "char":  # millions of characters read more easily than 12,345,678
        return f"{value / 1e6:.2f}M"
    return f"{value:,.0f}"


class LineProgress:
    """A progress display for logs: one line per `interval` seconds, never a carriage return."""

    def __init__(self, total: float, *, desc: str, unit: str, interval: float | None = None, file=None,
                 clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.interval = line_interval() if interval is None else interval
        self.file = file if file is not None else sys.stderr
        self.n = 0.0
        self.postfix: dict[str, str] = {}
        self._clock = clock
        self._start = self._last = clock()
        self._written_at_n: float | None = None
        self.lines = 0  # how many lines were written (tests read it)

    def update(self, n: float = 1) -> None:
        self.n += n
        if self._clock() - self._last >= self.interval:
            self._write()

    def set_postfix(self, **values) -> None:
        self.postfix = {k: str(v) for k, v in values.items()}

    def close(self) -> None:
        if self._written_at_n != self.n:  # the final state, unless the last line already showed it
            self._write()

    def _write(self) -> None:
        now = self._clock()
        self._last = now
        self._written_at_n = self.n
        share = f"{min(1.0, self.n / self.total):4.0%} " if self.total else ""
        done = f"{_amount(self.n, self.unit)}/{_amount(self.total, self.unit)} {self.unit}" if self.total \
            else f"{_amount(self.n, self.unit)} {self.unit}"
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {share}{done}, {now - self._start:.0f} s{extra}", file=self.file, flush=True)
        self.lines += 1


def progress_bar(total: float, *, desc: str, unit: str, enabled: bool, file=None, **tqdm_options):
    """tqdm on a terminal, `LineProgress` elsewhere, a disabled tqdm when `enabled` is False."""
    stream = file if file is not None else sys.stderr
    if enabled and not _is_terminal(stream):
        return LineProgress(total, desc=desc, unit=unit, file=stream)
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=stream, dynamic_ncols=True,
                **tqdm_options)


# ---------------------------------------------------------------- train()'s bar


def _training_unit(run) -> str:
    """What the bar counts: steps when a step limit is known, else characters (--chars), else seconds."""
    if run.total_steps < math.inf:
        return "step"
    return "char" if run.config.max_chars else "s"


def training_bar(run, *, enabled: bool):
    """The bar of a wordgen.training.loop run: a tqdm bar on a terminal, a line every few seconds elsewhere."""
    unit = _training_unit(run)
    total = {"step": run.total_steps, "char": run.config.max_chars, "s": run.config.time_budget}[unit]
    options = {}
    if unit != "step":
        options["bar_format"] = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + unit + \
            " [{elapsed}<{remaining}{postfix}]"
    bar = progress_bar(total, desc="training", unit=unit, enabled=enabled, **options)
    # A resumed run starts part way.
    bar.update({"step": min(run.step, total), "char": min(run.chars_seen, total),
                "s": min(run.elapsed_before, total)}[unit])
    return bar


def advance_training_bar(run, loss: float, budget: float) -> None:
    """One step done: move the bar; every tenth step, show the loss (nats) and bits per character."""
    bar = run.bar
    unit = _training_unit(run)
    if unit == "step":
        bar.update(1)
    elif unit == "char":
        bar.update(min(run.config.max_chars, run.chars_seen) - bar.n)
    else:
        bar.update(min(budget, run.elapsed()) - bar.n)
    if run.step % 10 == 0:  # setting the postfix redraws the bar: not every step
        bar.set_postfix(loss=f"{loss:.3f}", bpc=f"{loss / math.log(2) * run.tokens_per_char:.3f}",
                        val_bpc=f"{run.last_val.bits_per_char:.3f}" if run.last_val else "-")
