"""Early stopping on validation: a learning-rate drop on a plateau, then a stop that says where.

`EarlyStopping.update(step, loss, bpc)` takes each validation's result and returns a
`Decision`; the training loop (wordgen.training.loop) acts on it. A new best is kept
(the loop saves its weights). After `patience` validations in a row without one, the
rule divides its learning-rate scale by `plateau_factor` and answers DROP_LR: the
loop puts the best weights back (the steps since the best only overfit; the
optimizer's moments stay). After `plateau_drops` drops it answers STOP, and
`stopped()` describes the stop as an `EarlyStop`, which `wordgen train` prints in
one line. The counters and the best travel in trainer_state.pt
(wordgen.training.trainer_state). The idea is Prechelt 1998 ("Early Stopping -- But
When?"); the drop, the classic word_language_model's anneal on a plateau.

Not here: validation itself, when it runs, or the weights (wordgen.training.loop).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wordgen.config import TrainConfig
from wordgen.training.state import Best


@dataclass
class EarlyStop:
    """Where a run stopped because validation stopped improving (the best weights are kept)."""

    step: int  # the step of the validation that ended the run
    epoch: float  # passes over the training text by then
    best_step: int  # the step whose weights model.safetensors holds
    best_val_bpc: float

    def describe(self) -> str:
        return (f"validation stopped improving at step {self.step} (epoch {self.epoch:.1f}); best checkpoint kept "
                f"(step {self.best_step}, {self.best_val_bpc:.3f} bits/char)")


class Decision(enum.Enum):
    """What a validation means for the run."""

    KEEP_GOING = "keep going"  # no new best, but patience is not used up
    NEW_BEST = "new best"  # keep these weights
    DROP_LR = "drop the learning rate"  # put the best weights back and go on at `lr_scale`
    STOP = "stop"  # the drops are used up: end the run with the best weights


@dataclass
class EarlyStopping:
    """The rule and its counters; `from_config` for a new run, `from_state` for a resumed one."""

    patience: int | None  # validations in a row without a new best before a drop; None: never drop or stop
    max_drops: int  # drops before the run stops
    factor: float  # each drop divides the rate by it
    best: Best = field(default_factory=Best)
    bad_checks: int = 0  # validations in a row without a new best
    drops: int = 0  # learning-rate drops made
    lr_scale: float = 1.0  # what the drops left on the schedule's rate

    @classmethod
    def from_config(cls, config: TrainConfig) -> EarlyStopping:
        return cls(patience=config.patience, max_drops=config.plateau_drops, factor=config.plateau_factor)

    def update(self, step: int, loss: float, bpc: float) -> Decision:
        """The validation at `step` scored `loss` (nats per token) and `bpc`: what now."""
        if loss < self.best.loss:
            self.best, self.bad_checks = Best(loss=loss, step=step, bpc=bpc), 0
            return Decision.NEW_BEST
        self.bad_checks += 1
        if self.patience is None or self.bad_checks < self.patience:
            return Decision.KEEP_GOING
        self.bad_checks = 0
        if self.drops < self.max_drops:
            self.drops += 1
            self.lr_scale /= self.factor
            return Decision.DROP_LR
        return Decision.STOP

    def stopped(self, step: int, epoch: float) -> EarlyStop:
        """The record of a STOP answered at `step`, `epoch` passes into the text."""
        return EarlyStop(step=step, epoch=epoch, best_step=self.best.step, best_val_bpc=self.best.bpc)

    def to_state(self) -> dict:
        """The best's loss at the top of the file, the counters and the rest of the best under "early_stopping"."""
        best = self.best.to_state()
        return {"best_val_loss": best.pop("best_val_loss"),
                "early_stopping": {"bad_checks": self.bad_checks, "drops": self.drops, "lr_scale": self.lr_scale,
                                   **best}}

    @classmethod
    def from_state(cls, state: dict, config: TrainConfig) -> EarlyStopping:
        """The saved counters with `config`'s rule; states saved before early stopping existed count afresh.

        Damaged counters raise TypeError or ValueError (trainer_state names the file).
        """
        counters = state.get("early_stopping", {})
        return cls(patience=config.patience, max_drops=config.plateau_drops, factor=config.plateau_factor,
                   best=Best.from_state({**counters, "best_val_loss": state["best_val_loss"]}),
                   bad_checks=int(counters.get("bad_checks", 0)), drops=int(counters.get("drops", 0)),
                   lr_scale=float(counters.get("lr_scale", 1.0)))
