"""What train() hands back: the trained bundle, the metrics rows, and how the run went.

Not here: the training (wordgen.training.loop); the checkpoint folder (wordgen.training.checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wordgen.training.checkpoint import Bundle
from wordgen.training.plateau import EarlyStop
from wordgen.training.sizerule import Choice

if TYPE_CHECKING:
    from wordgen.training.finetune import Growth


@dataclass
class TrainResult:
    bundle: Bundle  # the model holds the best weights
    history: list[dict] = field(default_factory=list)  # the metrics.jsonl rows of this run
    steps: int = 0  # the run's step count at the end (a resumed run counts its earlier steps too)
    start_step: int = 0  # where this call began: 0, or the step it resumed from
    tokens_seen: int = 0  # training tokens of this call (metrics.jsonl counts the whole run's)
    seconds: float = 0.0  # training time of this call (validation included)
    eval_seconds: float = 0.0  # of which validating and writing checkpoints
    best_val_loss: float = math.inf
    dataset: object = None  # the DatasetDict trained on, for evaluation after training
    chars_per_token: float = 0.0  # of the training text: turns tokens read into characters read
    thread_changes: list = field(default_factory=list)  # (seconds, torch threads) each time wordgen.cpu changed them
    early_stop: EarlyStop | None = None  # set when validation stopped improving before the budget ran out
    size_rule: Choice | None = None  # what wordgen.training.sizerule chose for this run (None when resumed)
    rank: int = 0  # this process's rank in a multi-process run: only rank 0's result is the run's
    growth: Growth | None = None  # how a run from a base (TrainConfig.init) grew its vocabulary; None otherwise

    @property
    def chars_seen(self) -> float:
        """Characters of training text read by this call: tokens x the training text's characters per token."""
        return self.tokens_seen * self.chars_per_token

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0

    @property
    def loop_tokens_per_second(self) -> float:
        """Training tokens per second of the loop alone, validation and checkpoints left out."""
        loop = self.seconds - self.eval_seconds
        return self.tokens_seen / loop if loop > 0 else 0.0
