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

`TrainingBar` is train()'s use of it, given numbers, not the run: what the bar
counts (steps when a step limit is known, else characters of TrainConfig.max_chars,
else seconds of TrainConfig.time_budget), where a resumed run starts, and the loss and
bits per character in the postfix.

Not here: the training itself, or how often it shows its losses (wordgen.training.loop).
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


class TrainingBar:
    """train()'s bar, given numbers only: it counts steps when a step limit is known, else
    characters read (TrainConfig.max_chars), else training seconds (TrainConfig.time_budget)."""

    def __init__(self, *, steps: float, chars: float, seconds: float, enabled: bool):
        """steps, chars, seconds: the run's limits, math.inf where it has none."""
        if steps < math.inf:
            self.unit, self.total = "step", steps
        elif chars < math.inf:
            self.unit, self.total = "char", chars
        else:
            self.unit, self.total = "s", seconds
        options = {}
        if self.unit != "step":
            options["bar_format"] = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + self.unit + \
                " [{elapsed}<{remaining}{postfix}]"
        self.bar = progress_bar(self.total, desc="training", unit=self.unit, enabled=enabled, **options)

    def advance(self, *, step: int, chars: float, seconds: float) -> None:
        """Move the bar to where the run is now (a resumed run starts part way)."""
        done = {"step": step, "char": chars, "s": seconds}[self.unit]
        self.bar.update(min(done, self.total) - self.bar.n)

    def show(self, *, loss: float, bpc: float, val_bpc: float | None) -> None:
        """The latest training loss (nats per token) and its bits per character, and the last validation's."""
        self.bar.set_postfix(loss=f"{loss:.3f}", bpc=f"{bpc:.3f}",
                             val_bpc=f"{val_bpc:.3f}" if val_bpc is not None else "-")

    def close(self) -> None:
        self.bar.close()
