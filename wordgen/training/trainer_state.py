"""What trainer_state.pt holds, and how a run is put back from it exactly.

`capture(...)` composes everything a run needs to go on as if it had never stopped:
the latest weights and the optimizer's moments, both random number generators
(torch's drives dropout), and the run's pieces (wordgen.training.state and
.plateau), each giving its own entries: the cursor (step, epoch, position, the
recurrent state carried into the next window, tokens read), the clock (training
seconds so far, what TrainConfig.time_budget limits), the loss tally since the last
validation (the next metrics row averages it), and early stopping's counters and best.
`restore(...)` puts the weights and generators back and rebuilds the pieces, checking
what comes from the file against the run's model and data first, so a state from
another model or a damaged one fails with one line instead of deep inside torch.
tests/test_resume_exact.py proves the round trip bitwise.

This module owns the file's layout (`LAYOUT`), which stays as it always was, so
old checkpoints resume. Only tensors and plain containers go in, so the file loads
with `torch.load(weights_only=True)` (wordgen.training.checkpoint reads and writes it).
Not here: when to save (wordgen.training.loop), the file itself (wordgen.training.checkpoint).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import torch

from wordgen._io import first_line
from wordgen.config import TrainConfig
from wordgen.distributed import Group, rank_seed
from wordgen.errors import CheckpointError
from wordgen.model import State
from wordgen.training import checkpoint as ckpt
from wordgen.training.plateau import EarlyStopping
from wordgen.training.state import Clock, Cursor, LossTally

# The file's top-level entries, in the order they are written ("cuda_rng_ranks" only from a GPU).
LAYOUT = ("model", "optimizer", "step", "epoch", "cursor", "best_val_loss", "hidden", "rng", "rng_ranks",
          "tokens", "elapsed", "loss_sum", "loss_count", "early_stopping", "cuda_rng_ranks")


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))


def capture(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, cursor: Cursor, tally: LossTally,
            clock: Clock, stopping: EarlyStopping, group: Group, device: torch.device) -> dict:
    """Everything `restore` needs, as tensors and plain containers, laid out as `LAYOUT` says.

    In a multi-process run every rank calls it (it gathers): the recurrent state of
    every rank goes in as the (layers, B, H) of one process with the whole batch,
    rank r's random state is row r of `rng_ranks`, and the losses since the last
    validation are the ranks' mean, so one process or N resume the same run.
    """
    total, count = group.sum([tally.total, tally.count])
    position = cursor.to_state()
    entries = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        **position,
        "hidden": [torch.cat(group.gather(h), dim=1) for h in position["hidden"]],  # (layers, B, H) each
        "rng": _rng_state(),
        "rng_ranks": torch.stack(group.gather(torch.get_rng_state())),  # (N, S)
        **clock.to_state(),
        **LossTally(total / group.world_size, round(count / group.world_size)).to_state(),
        **stopping.to_state(),
    }
    if device.type == "cuda":
        entries["cuda_rng_ranks"] = torch.stack(group.gather(torch.cuda.get_rng_state(device)))
    return {key: entries[key] for key in LAYOUT if key in entries}


def restore(state: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, config: TrainConfig,
            table_shape: tuple[int, int], group: Group, device: torch.device, out: Path,
            now: Callable[[], float]) -> tuple[Cursor, LossTally, Clock, EarlyStopping]:
    """Put a saved state (checked by checkpoint.load_trainer_state) back into a freshly built model and optimizer.

    table_shape: (B / N, L) of this process's token table; now: the loop's clock.
    Returns the run's pieces as they were saved.
    """
    rows, row_length = table_shape
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        hidden = _my_hidden(state["hidden"], config, rows, group.rank, device)
        _set_rng_state(state["rng"])
        _set_rank_rng(state, config.seed, group.rank, device)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        # Everything in this block comes from the file: its errors are the file's.
        raise CheckpointError(f"{out / ckpt.STATE_FILE} does not fit this checkpoint's model and data "
                              f"({first_line(err)})") from None
    cursor = Cursor.from_state(state, hidden=hidden, row_length=row_length, batch_size=config.batch_size)
    try:
        stopping = EarlyStopping.from_state(state, config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{out / ckpt.STATE_FILE} has damaged early-stopping counters "
                              f"({first_line(err)})") from None
    return cursor, LossTally.from_state(state), Clock.from_state(state, now), stopping


def _my_hidden(saved: list, config: TrainConfig, rows: int, rank: int, device: torch.device) -> State | None:
    """This process's rows of the saved recurrent state (ValueError if it does not fit the model and batch).

    Saved as a list of tensors: (h, c) for an LSTM, [h] for a GRU, [] before the first step,
    each with every row of the token table, as one process holds them.
    """
    hidden = tuple(saved) or None
    shape = (config.model.num_layers, config.batch_size, config.model.hidden_size)  # (layers, B, H)
    parts = 2 if config.model.rnn_type == "lstm" else 1
    if hidden is None:
        return None
    if len(hidden) != parts or any(tuple(h.shape) != shape for h in hidden):
        raise ValueError(f"its recurrent state does not have {parts} tensor(s) of shape {list(shape)}")
    mine = slice(rank * rows, (rank + 1) * rows)
    hidden = tuple(h[:, mine].contiguous().to(device) for h in hidden)  # (layers, B / N, H)
    return hidden[0] if parts == 1 else hidden


def _set_rank_rng(state: dict, seed: int, rank: int, device: torch.device) -> None:
    """Rank r > 0 takes its own saved random state (or, from a state of fewer ranks, a seed of its own)."""
    by_rank = state.get("rng_ranks")
    if rank and by_rank is not None and len(by_rank) > rank:
        # A contiguous copy of the row: set_rng_state of a view into the stacked tensor crashed
        # (SIGSEGV, torch 2.13 CPU) instead of reading the row.
        torch.set_rng_state(by_rank[rank].clone())
    elif rank:
        torch.manual_seed(rank_seed(seed, rank, state["step"]))
    cuda_states = state.get("cuda_rng_ranks")
    if device.type == "cuda" and cuda_states is not None and len(cuda_states) > rank:
        torch.cuda.set_rng_state(cuda_states[rank].clone(), device)
