"""The run's state in small typed pieces, each the only writer of its own fields.

    Cursor     where the run is: step, epoch, position in the token table, the
               recurrent state carried into the next window, tokens read
    LossTally  the training losses since the last validation, and their mean
    Clock      training seconds: the calls before a resume, plus this one's
    Best       the best validation so far (loss, step, bits per character)
    Limits     when the run ends: steps, seconds, characters

The training loop (wordgen.training.loop) changes them only through their methods.
Each saved piece has `to_state()` (its entries of trainer_state.pt, under the file's
own names) and a `from_state()` classmethod; wordgen.training.trainer_state composes
them into the file and back, and owns its layout. Best is frozen: the early-stopping
rule (wordgen.training.plateau) replaces it when a validation beats it.

Not here: the file, the random generators, the gathering of every rank's state
(wordgen.training.trainer_state); what a plateau does (wordgen.training.plateau).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from wordgen.config import TrainConfig
from wordgen.model import State


@dataclass
class Cursor:
    """Where the run is in its data; `advance` after every step, `next_epoch` when the table runs out."""

    step: int = 0  # optimizer steps since step 0, earlier calls included
    epoch: int = 0  # whole passes over the table
    position: int = 0  # where the next window starts in the table (the file's "cursor")
    hidden: State | None = None  # the recurrent state carried into the next window, detached
    tokens: int = 0  # training tokens read since step 0 by every rank, earlier calls included

    def advance(self, hidden: State, *, end: int, tokens: int) -> None:
        """One step done on the window ending at column `end`, which read `tokens` tokens; `hidden` goes on."""
        self.step, self.position, self.hidden = self.step + 1, end, hidden
        self.tokens += tokens

    def next_epoch(self) -> None:
        """The table ran out: the next epoch starts from the top with a fresh recurrent state."""
        self.epoch, self.position, self.hidden = self.epoch + 1, 0, None

    def epochs(self, row_length: int) -> float:
        """Passes over the table so far, the one under way as a fraction of its `row_length` columns."""
        return self.epoch + self.position / max(1, row_length)

    def to_state(self) -> dict:
        """The cursor's entries; "hidden" is this process's list of tensors ((h, c), [h], or [] before step 1)."""
        hidden = self.hidden
        hidden_list = list(hidden) if isinstance(hidden, tuple) else ([hidden] if hidden is not None else [])
        return {"step": self.step, "epoch": self.epoch, "cursor": self.position, "hidden": hidden_list,
                "tokens": self.tokens}

    @classmethod
    def from_state(cls, state: dict, *, hidden: State | None, row_length: int, batch_size: int) -> Cursor:
        """From the file's entries and `hidden`, this process's part of the saved recurrent state.

        row_length, batch_size: of the token table (L columns, B rows), for states saved
        before the tokens were counted: those follow from the data position, since each
        epoch reads L - 1 targets per row.
        """
        step, epoch, position = state["step"], state["epoch"], state["cursor"]
        tokens = state.get("tokens", batch_size * (epoch * (row_length - 1) + position))
        return cls(step=step, epoch=epoch, position=position, hidden=hidden, tokens=tokens)


@dataclass
class LossTally:
    """Training losses (mean nats per token of each step) since the last validation."""

    total: float = 0.0
    count: int = 0

    def add(self, loss: float) -> None:
        self.total, self.count = self.total + loss, self.count + 1

    def mean(self) -> float:
        """The mean loss of the steps tallied; NaN when there were none."""
        return self.total / self.count if self.count else math.nan

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def to_state(self) -> dict:
        return {"loss_sum": self.total, "loss_count": self.count}

    @classmethod
    def from_state(cls, state: dict) -> LossTally:
        """States saved before the tally was kept start from none: that metrics row averages fewer steps."""
        return cls(total=float(state.get("loss_sum", 0.0)), count=state.get("loss_count", 0))


@dataclass
class Clock:
    """Training seconds of the whole run: what TrainConfig.time_budget limits.

    `now` is the loop's clock (tests give it one that ticks per step, so a budgeted run
    repeats there); `start()` marks the beginning of this call's loop.
    """

    now: Callable[[], float]
    before: float = 0.0  # training seconds of the calls before a resume
    started: float = 0.0  # now() when this call's loop began

    def start(self) -> None:
        self.started = self.now()

    def elapsed(self) -> float:
        """Seconds of every call so far, this one included."""
        return self.before + self.now() - self.started

    def this_call(self) -> float:
        return self.now() - self.started

    def to_state(self) -> dict:
        return {"elapsed": self.elapsed()}

    @classmethod
    def from_state(cls, state: dict, now: Callable[[], float]) -> Clock:
        """States saved before the seconds were counted lose the time of their earlier calls."""
        return cls(now=now, before=float(state.get("elapsed", 0.0)))


@dataclass(frozen=True)
class Best:
    """The best validation so far: model.safetensors holds the weights of `step`."""

    loss: float = math.inf  # mean nats per validation token
    step: int = 0
    bpc: float = math.inf

    def to_state(self) -> dict:
        return {"best_val_loss": self.loss, "best_step": self.step, "best_bpc": self.bpc}

    @classmethod
    def from_state(cls, state: dict) -> Best:
        """From the three entries; step and bpc absent (states saved before early stopping) count as none."""
        return cls(loss=state["best_val_loss"], step=int(state.get("best_step", 0)),
                   bpc=float(state.get("best_bpc", math.inf)))


@dataclass(frozen=True)
class Limits:
    """When the run ends, each math.inf where the config sets none: steps, training seconds, characters read."""

    steps: float
    seconds: float
    chars: float

    @classmethod
    def from_config(cls, config: TrainConfig, epoch_windows: int) -> Limits:
        """TrainConfig.max_steps, .epochs (of `epoch_windows` steps each), .time_budget and .max_chars."""
        steps = [config.max_steps or math.inf]
        if config.epochs is not None:
            steps.append(math.ceil(config.epochs * epoch_windows))
        return cls(steps=min(steps), seconds=config.time_budget or math.inf, chars=config.max_chars or math.inf)

    def reached(self, step: int, seconds: float, chars: float) -> bool:
        return step >= self.steps or seconds >= self.seconds or chars >= self.chars

    def progress(self, step: int, seconds: float, chars: float) -> float:
        """How far through the run, 0 to 1, by whichever limit is nearest: what the schedule follows."""
        by_steps = step / self.steps if self.steps < math.inf else 0.0
        return max(by_steps, seconds / self.seconds, chars / self.chars)
