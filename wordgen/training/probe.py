"""The rate probe: how many training tokens per second this model reaches on this machine, measured.

A time budget only says how often the run will read its text once the speed is
known, and the speed of one model differs several times between machines, between
a quiet and a busy one, and between thread policies. So before a run whose size
rule has a time budget to read (wordgen.training.plan), `measure_rate` trains a
throwaway copy of the planned model for about PROBE_SECONDS on the run's own first
windows, with the run's optimizer, precision and device, and returns tokens/s.

The probe leaves no trace: torch's random state is put back (the run's weights and
dropout masks are the ones it would have drawn without the probe), the copy and its
optimizer are dropped. The seconds it takes are not charged to the budget.

Not here: turning the rate into passes and a strength (sizerule.py), the run itself (loop.py).
"""

from __future__ import annotations

import time

import torch

from wordgen.config import TrainConfig
from wordgen.data import windows
from wordgen.model import LSTMLanguageModel
from wordgen.training.optim import autocast_for, gradient_step, make_optimizer

PROBE_SECONDS = 1.0  # measured steps: long enough to smooth a step's noise, short beside any budget
WARMUP_STEPS = 2  # not timed: the first steps allocate and fill caches


def measure_rate(config: TrainConfig, table, device: torch.device, seconds: float = PROBE_SECONDS) -> float:
    """Training tokens per second of `config`'s model (complete: as planned) on `table` (B, L), on `device`.

    Times at least one step after WARMUP_STEPS, however short `seconds` is; the
    batch is the table's rows (this process's share under torchrun).
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = LSTMLanguageModel(config.model).to(device)
        model.train()
        optimizer = make_optimizer(model, config)
        autocast = autocast_for(device, config.precision)
        state = None

        def step(x, y) -> int:  # x, y: (B, T); the loop's step, without its bookkeeping
            nonlocal state
            _, state = gradient_step(model, model.training_loss, optimizer, x, y, state, config.grad_clip, autocast)
            return y.numel()

        batches = _batches(table, config.seq_len, device)
        for _ in range(WARMUP_STEPS):
            step(*next(batches))
        _sync(device)
        began, tokens = time.perf_counter(), 0
        while not tokens or time.perf_counter() - began < seconds:
            tokens += step(*next(batches))
            _sync(device)
        return tokens / (time.perf_counter() - began)


def _batches(table, seq_len: int, device: torch.device):
    """(x, y) windows down the table, over and over."""
    while True:
        count = 0
        for _, x, y in windows(table, seq_len, device=device):  # x, y: (B, T)
            count += 1
            yield x, y
        if not count:
            raise ValueError("measure_rate: the table holds no window to train on")


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work, so the clock measures it (a CPU runs each operation at once)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
