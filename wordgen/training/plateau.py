"""Early stopping on validation: a learning-rate drop on a plateau, then a stop that says where.

`on_plateau(run)` is called by wordgen.training.loop after a validation that found no new
best. After `patience` such validations in a row it divides the learning rate by
`plateau_factor` and puts the best weights back (the steps since the best only
overfit; the optimizer's moments stay); after `plateau_drops` drops it stops the
run and records an `EarlyStop`, which `wordgen train` prints in one line. The
counters live on the run and travel in trainer_state.pt (wordgen.training.trainer_state).
The idea is Prechelt 1998 ("Early Stopping -- But When?"); the drop, the
classic word_language_model's anneal on a plateau.

Not here: validation itself, or when it runs (wordgen.training.loop).
"""

from __future__ import annotations

from dataclasses import dataclass

from wordgen.training import checkpoint as ckpt


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


def on_plateau(run) -> None:
    """A validation without a new best: after `patience` of them, drop the rate or stop.

    A drop divides the learning rate by `plateau_factor` and puts the best weights
    back (the optimizer's moments stay): the steps since the best only overfit.
    """
    config = run.config
    run.bad_checks += 1
    if config.patience is None or run.bad_checks < config.patience:
        return
    run.bad_checks = 0
    if run.drops < config.plateau_drops:
        run.drops += 1
        run.lr_scale /= config.plateau_factor
        if run.group.is_main:  # the other processes of a run take rank 0's (their folder may be another machine's)
            ckpt.load_weights(run.out, run.model)
        run.group.share_weights(run.model)
        return
    run.stop = True
    run.result.early_stop = EarlyStop(step=run.step, epoch=run.epoch + run.cursor / max(1, run.table.shape[1]),
                                      best_step=run.best_step, best_val_bpc=run.best_bpc)
