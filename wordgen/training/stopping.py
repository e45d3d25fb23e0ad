"""A graceful stop: the first SIGINT / SIGTERM asks training to stop, the second stops it at once.

Training runs for minutes to hours and gets Ctrl-C (SIGINT) or a scheduler's SIGTERM.
Dying on the spot would lose every step since the last periodic checkpoint, so while
`StopSignals` is active the first signal only sets `requested`; the training loop looks
at it after each optimizer step, saves a resumable trainer state and raises
`Interrupted`. A second signal raises `Interrupted` from the signal handler itself,
wherever the program is: every checkpoint file is written to a temporary name and
renamed into place (wordgen._io), so stopping in the middle of a save leaves the
previous file whole.

`Interrupted` subclasses KeyboardInterrupt, so code that already handles Ctrl-C
(a notebook, tqdm, `except KeyboardInterrupt`) handles it too; its message says
where the run stopped and how to resume it, and `exit_code` is the shell's
convention, 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

Not here: saving (wordgen.training.loop) and printing (wordgen.cli, wordgen/tasks/). Signal handlers can only
be installed from the main thread; elsewhere `StopSignals` does nothing and a signal
keeps its usual effect.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop signal ended the work. `saved_step`: the step of the resumable state on disk."""

    def __init__(self, signum: int, *, step: int | None = None, checkpoint: str | Path | None = None,
                 saved_step: int | None = None):
        super().__init__(signum)
        self.signum = signum
        self.step = step  # optimizer steps done when it stopped
        self.checkpoint = checkpoint  # the folder to resume, if training was under way
        self.saved_step = saved_step  # the step of the trainer state in that folder (None: none yet)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def describe(self, resume: str) -> str:
        """Where the work stopped, in one line; `resume` is how to go on, in the words of whoever prints it."""
        if self.checkpoint is None or self.step is None:
            return "interrupted; files already saved are intact"
        if self.saved_step == self.step:
            return f"interrupted at step {self.step}; resume with: {resume}"
        if self.saved_step is None:
            return f"stopped at once at step {self.step}, before any resumable state was saved: nothing to resume"
        return (f"stopped at once at step {self.step}; the checkpoint of step {self.saved_step} is whole; "
                f"resume with: {resume}")

    def __str__(self) -> str:
        # In Python's words; the command line prints describe() with its own resume command.
        return self.describe(f"train(config, resume=True) with TrainConfig.out = {str(self.checkpoint)!r}")


class StopSignals:
    """Context manager: the first SIGINT/SIGTERM sets `requested`, the second raises `Interrupted`."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.signum: int | None = None  # the first signal received
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
            return
        raise Interrupted(signum)  # the second one: stop now

    def __enter__(self) -> StopSignals:
        if self.enabled and threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            # None: the old handler was not set from Python; the default is the best guess.
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """For the duration, SIGTERM raises `Interrupted` the way SIGINT raises KeyboardInterrupt.

    For commands (wordgen.cli, wordgen/tasks/): outside the training loop a scheduler's SIGTERM
    then unwinds like Ctrl-C -- temporary files removed, one line, exit 143 --
    instead of ending the process on the spot. On the way out both handlers are put
    back as they were found (a command run from Python, in a test or a notebook,
    leaves no trace). Main thread only, like all handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def exit_on_next_signal() -> None:
    """Once a command has decided to stop and every file is whole, the next signal ends the process at once.

    Without this, one more Ctrl-C while the command reports its stop would raise
    KeyboardInterrupt into those very lines and print a traceback.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
