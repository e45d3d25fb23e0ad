"""What trainer_state.pt holds, and how a run is put back from it exactly.

`capture(run)` takes everything a run needs to go on as if it had never stopped:
the latest weights and the optimizer's moments, the step, the epoch and the
position in it, the recurrent state carried into the next window, both random
number generators (torch's drives dropout), the training tokens read so far, the
training seconds so far (what --time-budget limits) and the losses summed since
the last validation (the next metrics row averages them). `restore(run, state)`
puts them back, checking every piece against the run's model and data first, so
a state from another model or a damaged one fails with one line instead of
deep inside torch. tests/test_resume_exact.py proves the round trip bitwise.

Only tensors and plain containers go in, so the file loads with
`torch.load(weights_only=True)` (wordgen.training.checkpoint reads and writes it).
Not here: when to save (wordgen.training.loop), the file itself (wordgen.training.checkpoint).
"""

from __future__ import annotations

import random

import torch

from wordgen._io import first_line
from wordgen.distributed import rank_seed
from wordgen.errors import CheckpointError
from wordgen.training import checkpoint as ckpt


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))


def capture(run) -> dict:
    """Everything `restore` needs from a wordgen.training.loop._Run, as tensors and plain containers.

    In a multi-process run every rank calls it (it gathers): the recurrent state of
    every rank goes in as the (layers, B, H) of one process with the whole batch,
    rank r's random state is row r of `rng_ranks`, and the losses since the last
    validation are the ranks' mean, so one process or N resume the same run.
    """
    group = run.group
    hidden = run.hidden
    hidden_list = list(hidden) if isinstance(hidden, tuple) else ([hidden] if hidden is not None else [])
    loss_sum, loss_count = group.sum([run.loss_sum, run.loss_count])
    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "step": run.step, "epoch": run.epoch, "cursor": run.cursor, "best_val_loss": run.best,
        "hidden": [torch.cat(group.gather(h), dim=1) for h in hidden_list],  # (layers, B, H) each
        "rng": _rng_state(),
        "rng_ranks": torch.stack(group.gather(torch.get_rng_state())),  # (N, S)
        "tokens": run.tokens, "elapsed": run.elapsed(),
        "loss_sum": loss_sum / group.world_size, "loss_count": round(loss_count / group.world_size),
        "early_stopping": {"bad_checks": run.bad_checks, "drops": run.drops, "lr_scale": run.lr_scale,
                           "best_step": run.best_step, "best_bpc": run.best_bpc},
    }
    if run.device.type == "cuda":
        state["cuda_rng_ranks"] = torch.stack(group.gather(torch.cuda.get_rng_state(run.device)))
    return state


def restore(run, state: dict, device: torch.device) -> None:
    """Put a saved state (checked by checkpoint.load_trainer_state) back into a freshly built run."""
    rank, rows = run.group.rank, run.table.shape[0]  # this process's rows of the whole batch
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        hidden = tuple(state["hidden"]) or None
        # Saved as a list of tensors: (h, c) for an LSTM, [h] for a GRU, [] before the first step,
        # each with every row of the token table, as one process holds them.
        shape = (run.config.model.num_layers, run.config.batch_size, run.config.model.hidden_size)  # (layers, B, H)
        parts = 2 if run.config.model.rnn_type == "lstm" else 1
        if hidden is not None and (len(hidden) != parts or any(tuple(h.shape) != shape for h in hidden)):
            raise ValueError(f"its recurrent state does not have {parts} tensor(s) of shape {list(shape)}")
        if hidden is not None:
            mine = slice(rank * rows, (rank + 1) * rows)
            hidden = tuple(h[:, mine].contiguous().to(device) for h in hidden)  # (layers, B / N, H)
        _set_rng_state(state["rng"])
        _set_rank_rng(run, state, device)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        # Everything in this block comes from the file: its errors are the file's.
        raise CheckpointError(f"{run.out / ckpt.STATE_FILE} does not fit this checkpoint's model and data "
                              f"({first_line(err)})") from None
    run.hidden = hidden[0] if parts == 1 and hidden else hidden
    run.step, run.epoch, run.cursor, run.best = state["step"], state["epoch"], state["cursor"], state["best_val_loss"]
    run.saved_step = run.step
    # States saved before these were counted: the tokens follow from the data position
    # (each epoch reads L - 1 targets per row), the time and the loss since the last check are lost.
    run.tokens = state.get("tokens", run.config.batch_size * (run.epoch * (run.table.shape[1] - 1) + run.cursor))
    run.elapsed_before = float(state.get("elapsed", 0.0))
    run.loss_sum, run.loss_count = float(state.get("loss_sum", 0.0)), state.get("loss_count", 0)
    # Early stopping's counters (absent from states saved before it existed: a fresh count).
    stopping = state.get("early_stopping", {})
    try:
        run.bad_checks, run.drops = int(stopping.get("bad_checks", 0)), int(stopping.get("drops", 0))
        run.lr_scale, run.best_step = float(stopping.get("lr_scale", 1.0)), int(stopping.get("best_step", 0))
        run.best_bpc = float(stopping.get("best_bpc", float("inf")))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{run.out / ckpt.STATE_FILE} has damaged early-stopping counters "
                              f"({first_line(err)})") from None
    ckpt.keep_metrics_until(run.out, run.step)  # rows of a save that a crash cut short are made again


def _set_rank_rng(run, state: dict, device: torch.device) -> None:
    """Rank r > 0 takes its own saved random state (or, from a state of fewer ranks, a seed of its own)."""
    rank = run.group.rank
    by_rank = state.get("rng_ranks")
    if rank and by_rank is not None and len(by_rank) > rank:
        # A contiguous copy of the row: set_rng_state of a view into the stacked tensor crashed
        # (SIGSEGV, torch 2.13 CPU) instead of reading the row.
        torch.set_rng_state(by_rank[rank].clone())
    elif rank:
        torch.manual_seed(rank_seed(run.config.seed, rank, state["step"]))
    cuda_states = state.get("cuda_rng_ranks")
    if device.type == "cuda" and cuda_states is not None and len(cuda_states) > rank:
        torch.cuda.set_rng_state(cuda_states[rank].clone(), device)
