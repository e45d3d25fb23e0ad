"""train(config) -> TrainResult: corpus in, checkpoint folder out.

The loop is plain truncated BPTT: B token streams side by side, windows of T tokens,
the recurrent state carried from window to window and detached so gradients stop at
the window edge. AdamW or SGD with gradient clipping (wordgen.training.optim: weight
decay on the matrices only; a linear warm-up, then a cosine down to `lr_min_ratio` of
the peak over the run, its length known from TrainConfig.max_steps / .epochs, or
measured against .time_budget). Every `eval_interval` steps and at the end the model
is validated; the best weights are kept in `model.safetensors`, the latest training
state in `trainer_state.pt`, one line per validation is appended to `metrics.jsonl`.
Settings left at None are filled in first by the plan (wordgen.training.plan).
Early stopping (wordgen.training.plateau) answers each validation (TrainResult.early_stop).

With a step or epoch limit and a fixed seed a run is repeatable on a CPU, and
`resume=True` continues it exactly (wordgen.training.trainer_state). The time budget
counts the training seconds of every call, so a resumed run trains what is left of it.

The first SIGINT/SIGTERM in the loop finishes the step, saves the trainer state
(no validation: stopping should be quick) and raises wordgen.training.stopping.Interrupted;
a second raises it at once. A run holds its folder's lock (checkpoint.lock_folder).

Named steps around one `_Run` (only this module holds it): `train`, `_loop`, `_step`,
`_checkpoint` (validate, act on early stopping's decision, save), `_finish`; `_start`
at the bottom. What changes as it trains lives in pieces that change only through
their own methods (wordgen.training.state, wordgen.training.plateau).

Under torchrun (WORLD_SIZE > 1) this is one process of a DistributedDataParallel run
(wordgen.distributed): `batch_size` is all processes' batch, each process reads its own
rows of the token table. Rank 0 alone locks and writes; validation is shared; clock and
stop signal are agreed every step; a run resumes in any number of processes.

No argument parsing and no printing here; `progress=True` shows a tqdm bar on a
terminal and a line every few seconds elsewhere (wordgen.training.progress).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from wordgen import _io
from wordgen.config import TrainConfig
from wordgen.cpu import ThreadPolicy
from wordgen.data import TokenStream, batchify, windows, windows_per_epoch
from wordgen.device import resolve_device, resolve_precision
from wordgen.distributed import Group, device_for, global_batch_share, loss_module, rank_seed
from wordgen.errors import CheckpointError, ConfigError
from wordgen.evaluate import Metrics, evaluate_prefix
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import Tokenizer, load_tokenizer
from wordgen.training import checkpoint as ckpt
from wordgen.training import trainer_state
from wordgen.training.checkpoint import Bundle
from wordgen.training.finetune import Base
from wordgen.training.optim import autocast_for, gradient_step, lr_factor, make_optimizer, set_lr
from wordgen.training.plan import Plan
from wordgen.training.plateau import Decision, EarlyStopping
from wordgen.training.prepare import prepare_together
from wordgen.training.probe import measure_rate
from wordgen.training.progress import TrainingBar
from wordgen.training.result import TrainResult
from wordgen.training.state import Clock, Cursor, Limits, LossTally
from wordgen.training.stopping import Interrupted, StopSignals

BITS_PER_NAT = 1 / math.log(2)
# The training clock. Tests replace it with one that ticks per step, so a run cut by
# the time budget is repeatable there (tests/test_faults.py).
_clock = time.perf_counter


@dataclass
class _Run:
    """What the steps of one run share: what was built, the state's pieces, and this call's bookkeeping."""

    config: TrainConfig  # the run's own copy, vocabulary size, precision and the size rule's choices filled in
    model: LSTMLanguageModel
    optimizer: torch.optim.Optimizer
    forward: torch.nn.Module | None  # what a step calls: the loss, through DDP when there are several
    table: object  # (B / N, L) this process's rows of the training ids: a view of the memory-mapped store
    val_stream: TokenStream
    limits: Limits
    tokens_per_char: float  # of the training text: turns nats per token into bits per char
    result: TrainResult
    group: Group  # the other processes of a multi-process run
    device: torch.device
    cursor: Cursor
    tally: LossTally
    clock: Clock
    stopping: EarlyStopping
    saved_step: int | None = None  # step of the trainer state on disk
    last_val: Metrics | None = None
    bar: TrainingBar | None = None
    threads: ThreadPolicy | None = None
    stopped_by: int | None = None  # the stop signal the ranks agreed on (any rank may have received it)

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def chars_seen(self) -> float:
        """Characters of training text read by the whole run, resumed calls included (TrainConfig.max_chars)."""
        return self.cursor.tokens * self.result.chars_per_token


def train(config: TrainConfig, *, tokenizer: Tokenizer | None = None, dataset=None, resume: bool = False,
          overwrite: bool = False, progress: bool = False, stop_signals: bool = True,
          log: Callable[[str], None] | None = None, sources: dict[str, str] | None = None) -> TrainResult:
    """Train a model as `config` says and write its checkpoint to `config.out`.

    tokenizer / dataset: a trained tokenizer and a DatasetDict (train, validation,
    test) the caller already holds; without them the corpus is loaded and the
    tokenizer trained (or taken from the cache) as `config` says. resume: continue
    from the trainer state in `config.out` (the stop limits in `config` may be
    larger than before), with the checkpoint's own tokenizer. overwrite: allow
    replacing a checkpoint already in `config.out`; without it an existing one is
    never touched. stop_signals: let SIGINT / SIGTERM stop the loop gracefully (see
    the module's docstring); raises `Interrupted` once the resumable state is saved.
    log: receives two lines before training when the size rule chose anything
    (wordgen.training.plan.Plan.summary); the CLI prints them. sources: where the
    caller's settings came from (dotted field -> "flag", "lab", ...: wordgen.training.plan),
    saved in config.json with the plan's own marks.
    Under torchrun this is one process of a data-parallel run (see the module's docstring).
    """
    config.validate()
    device = resolve_device(device_for(config.device, int(os.environ.get("LOCAL_RANK", "0") or 0)))
    group = Group.join(device, config.dist_timeout)
    with contextlib.ExitStack() as hold:  # the folder's lock, the bar, the threads, the signal handlers, the group
        hold.callback(group.close)  # the last thing undone
        with group.failures(lambda: "while preparing the run"):
            run = _start(config, tokenizer, dataset, resume=resume, overwrite=overwrite, hold=hold,
                         log=log or (lambda line: None), group=group, device=device, sources=sources)
        # DDP's reducer must be gone before its process group: destroyed after it, it
        # sometimes hung the process on its way out (torch 2.13, gloo).
        hold.callback(setattr, run, "forward", None)
        run.bar = TrainingBar(steps=run.limits.steps, chars=run.limits.chars, seconds=run.limits.seconds,
                              enabled=progress and group.is_main)
        run.bar.advance(step=run.cursor.step, chars=run.chars_seen, seconds=run.clock.before)  # where a resume is
        hold.callback(run.bar.close)
        # On a CPU, as many threads as other processes leave cores free (wordgen.cpu).
        if run.device.type == "cpu":
            run.threads = ThreadPolicy()
            hold.callback(run.threads.close)
            hold.callback(setattr, run.result, "thread_changes", run.threads.changes)
        stop = hold.enter_context(StopSignals(enabled=stop_signals))
        run.clock.start()
        try:
            with group.failures(lambda: f"at step {run.cursor.step}"):
                if _loop(run, stop):
                    if run.saved_step != run.cursor.step:  # else the validation of this very step saved it
                        _save_state(run)
                    raise Interrupted(stop.signum or run.stopped_by, step=run.cursor.step, checkpoint=run.out,
                                      saved_step=run.saved_step)
                return _finish(run)
        except Interrupted as err:
            if err.checkpoint is None:  # a second signal, raised wherever the run was: say where that was
                raise Interrupted(err.signum, step=run.cursor.step, checkpoint=run.out,
                                  saved_step=run.saved_step) from None
            raise


def _loop(run: _Run, stop: StopSignals) -> bool:
    """Train until a stop limit (returns False) or a stop signal (True, after the step in hand)."""
    config, group, cursor = run.config, run.group, run.cursor
    run.model.train()
    autocast = autocast_for(run.device, config.precision)
    while True:
        for pos, x, y in windows(run.table, config.seq_len, start=cursor.position, device=run.device):  # x, y: (B, T)
            elapsed = run.clock.elapsed()
            if group.distributed:
                # One clock and one stop signal for every rank (the latest of each), so all stop at
                # the same step: a rank that stopped alone would leave the others waiting for it.
                # (Kept apart from `stop`: this rank's own signal, when it comes, is still its first.)
                elapsed, run.stopped_by = group.agree(elapsed, stop.signum)
                if run.stopped_by:
                    return True
            # The character count is checked before each step, so a character limit stops
            # the run less than one batch (B x T tokens) past it.
            chars = run.chars_seen
            if run.limits.reached(cursor.step, elapsed, chars):
                return False
            loss = _step(run, pos, x, y, run.limits.progress(cursor.step, elapsed, chars), autocast)
            _io.hold_for_tests("step", cursor.step)  # TEST-ONLY: a no-op unless WORDGEN_TEST_HOLD names this step
            run.tally.add(loss)
            run.bar.advance(step=cursor.step, chars=run.chars_seen, seconds=run.clock.elapsed())
            if cursor.step % 10 == 0:  # setting the postfix redraws the bar: not every step
                run.bar.show(loss=loss, bpc=loss / math.log(2) * run.tokens_per_char,
                             val_bpc=run.last_val.bits_per_char if run.last_val else None)
            if run.threads is not None:
                run.threads.check()
            if cursor.step % config.eval_interval == 0 and _checkpoint(run) is Decision.STOP:
                run.result.early_stop = run.stopping.stopped(cursor.step, cursor.epochs(run.table.shape[1]))
                return False
            if stop.requested and not group.distributed:
                return True
        cursor.next_epoch()


def _step(run: _Run, pos: int, x: torch.Tensor, y: torch.Tensor, progress: float, autocast) -> float:
    """One optimizer step on the window at column `pos`, x and y (B, T); moves the cursor past it; the mean nats."""
    config, optimizer, cursor = run.config, run.optimizer, run.cursor
    set_lr(optimizer, config.lr * run.stopping.lr_scale * lr_factor(cursor.step, progress, config))
    # Mean nats per target token of this process's rows, through DDP when there are several processes.
    loss, hidden = gradient_step(run.model, run.forward, optimizer, x, y, cursor.hidden, config.grad_clip, autocast)
    read = y.numel() * run.group.world_size  # every rank read as many: the run's tokens
    cursor.advance(hidden, end=pos + x.size(1), tokens=read)
    run.result.tokens_seen += read
    return loss.item()


def _checkpoint(run: _Run) -> Decision:
    """Validate; act on early stopping's decision; log a row; save the trainer state.

    The row goes out before the state: a crash between the two leaves a row the resumed
    run drops and writes again (checkpoint.keep_metrics_until), never a missing one.
    Every rank validates its share and sends its states; rank 0 writes.
    """
    began, cursor, group = _clock(), run.cursor, run.group
    train_loss = LossTally(*group.sum([run.tally.total, run.tally.count])).mean()  # every rank's: the batch's
    run.tally.reset()
    val = run.last_val = _validate(run)
    row = {
        "step": cursor.step,
        "epoch": cursor.epochs(run.table.shape[1]),
        "tokens": cursor.tokens,
        "chars": run.chars_seen,  # characters of training text read so far (what TrainConfig.max_chars counts)
        "elapsed": run.clock.elapsed(),
        "lr": run.optimizer.param_groups[0]["lr"],
        "train_loss": train_loss,
        "train_bpc": train_loss * BITS_PER_NAT * run.tokens_per_char,
        "val_loss": val.loss,
        "val_bpc": val.bits_per_char,
        "val_ppl_token": val.ppl_token,
    }
    decision = run.stopping.update(cursor.step, val.loss, val.bits_per_char)
    if decision is Decision.NEW_BEST and group.is_main:
        ckpt.save_weights(run.out, run.model)
    elif decision is Decision.DROP_LR:  # the steps since the best only overfit: back to its weights
        if group.is_main:  # the other processes take rank 0's (their folder may be another machine's)
            ckpt.load_weights(run.out, run.model)
        group.share_weights(run.model)
    row["best_val_loss"] = run.stopping.best.loss
    if group.is_main:
        ckpt.append_metrics(run.out, row)
    _save_state(run)
    run.result.history.append(row)
    run.result.eval_seconds += _clock() - began
    run.bar.show(loss=train_loss, bpc=row["train_bpc"], val_bpc=val.bits_per_char)
    return decision


def _validate(run: _Run) -> Metrics:
    """The periodic check, shared: each rank scores its columns of the stretch, the sums are added."""
    group = run.group
    part = evaluate_prefix(run.model, run.val_stream, run.config.eval_tokens or None, rank=group.rank,
                           world_size=group.world_size)
    (nll,) = group.sum([part.nll])
    return replace(part, nll=nll)


def _save_state(run: _Run) -> None:
    state = trainer_state.capture(run.model, run.optimizer, cursor=run.cursor, tally=run.tally, clock=run.clock,
                                  stopping=run.stopping, group=run.group, device=run.device)  # every rank gathers
    if run.group.is_main:
        ckpt.save_trainer_state(run.out, state)
    run.saved_step = run.cursor.step


def _finish(run: _Run) -> TrainResult:
    """Validate the steps since the last check, then hand back the best model, not the last."""
    # Decided by rank 0 (whose folder holds the weights), so every rank joins the same checkpoint.
    (again,) = run.group.broadcast([float(run.tally.count > 0 or not (run.out / ckpt.WEIGHTS_FILE).exists())])
    if again:
        _checkpoint(run)  # whatever early stopping answers: a limit already ended the run
    result = run.result
    result.seconds = run.clock.this_call()
    result.steps = run.cursor.step
    result.best_val_loss = run.stopping.best.loss
    if run.group.is_main:  # the other ranks' results are not the run's; their folder may be another machine's
        ckpt.load_weights(run.out, run.model)
    run.model.eval()
    return result


# ---------------------------------------------------------------- the start of a run


def _refuse_existing(out: Path, overwrite: bool) -> None:
    if ckpt.is_checkpoint(out) and not overwrite:
        raise CheckpointError(f"{out} already holds a checkpoint; resume it with train(resume=True) "
                              "or replace it with train(overwrite=True)")


def _start(config: TrainConfig, tokenizer, dataset, *, resume: bool, overwrite: bool,
           hold: contextlib.ExitStack, log: Callable[[str], None], group: Group, device: torch.device,
           sources: dict[str, str] | None = None) -> _Run:
    """Check the folder, seed, build data, model and optimizer; restore or start the folder.

    The folder's lock goes into `hold` (rank 0's alone: the other processes of a run
    never write): taken before a resumed state is read, and for a new run once the
    data is ready, just before the first file is written.
    """
    # Work on a copy: the vocabulary size is filled in below, and a caller's
    # ModelConfig shared between two runs must not carry one run's size into the other.
    config = replace(config, model=replace(config.model))
    out = Path(config.out)
    state, tokenizer = _open_folder(out, tokenizer, resume=resume, overwrite=overwrite, hold=hold, group=group)
    config.precision = resolve_precision(config.precision, device)  # saved as chosen, not "auto"
    # Seeded before the model is built: its initial weights come from this stream (the same on every rank).
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    base = Base.open(config.init) if config.init and state is None else None  # a resumed run has its weights
    growth = None
    if base is not None:
        start = base.start(config, dataset, sources, tokenizer)
        config, sources, tokenizer, dataset, growth = (start.config, start.sources, start.tokenizer, start.dataset,
                                                        start.growth)
        log(f"fine-tuning from {config.init} ({base.sha256[:12]}): {start.growth.describe()}")
    dataset, tokenizer, train_stream, val_stream = prepare_together(config, tokenizer, dataset, group)
    plan, table = _settle_config(config, train_stream, len(val_stream), tokenizer, sources=sources, log=log,
                                 group=group, device=device)
    config, choice = plan.config, plan.choice
    model, optimizer = _build(config, group, device)
    if base is not None:
        base.load_into(model)
    if len(val_stream) < 2:
        raise ConfigError("the validation split has fewer than 2 tokens; use a longer text")
    result = TrainResult(bundle=Bundle(model=model, tokenizer=tokenizer, config=config), dataset=dataset,
                         chars_per_token=train_stream.chars_per_token, size_rule=choice if state is None else None,
                         rank=group.rank, growth=growth)
    forward = loss_module(model, group, device)
    if state is not None:
        cursor, tally, clock, stopping = trainer_state.restore(state, model, optimizer, config=config,
                                                               table_shape=table.shape, group=group,
                                                               device=device, out=out, now=_clock)
        ckpt.keep_metrics_until(out, cursor.step)  # rows of a save that a crash cut short are made again
    else:
        cursor, tally, clock, stopping = Cursor(), LossTally(), Clock(now=_clock), EarlyStopping.from_config(config)
        if group.is_main:
            hold.enter_context(ckpt.lock_folder(out, create=True))
            _refuse_existing(out, overwrite)  # again: another run may have written it meanwhile
            _begin_folder(out, config, tokenizer, overwrite=overwrite, sources=plan.sources)
    result.best_val_loss, result.start_step = stopping.best.loss, cursor.step
    limits = Limits.from_config(config, windows_per_epoch(table, config.seq_len))
    return _Run(config=config, model=model, optimizer=optimizer, forward=forward, table=table, val_stream=val_stream,
                limits=limits, tokens_per_char=1 / train_stream.chars_per_token, result=result, group=group,
                device=device, cursor=cursor, tally=tally, clock=clock, stopping=stopping,
                saved_step=cursor.step if state is not None else None)


def _open_folder(out: Path, tokenizer, *, resume: bool, overwrite: bool, hold: contextlib.ExitStack,
                 group: Group) -> tuple[dict | None, Tokenizer | None]:
    """A resumed run's saved state and tokenizer (its folder locked first); for a new run, a check that none is there."""
    if not resume:
        _refuse_existing(out, overwrite)  # early, before any work
        return None, tokenizer
    if tokenizer is not None:
        raise ConfigError("a resumed run uses the tokenizer saved in its checkpoint; do not pass one")
    if not out.is_dir():
        raise CheckpointError(f"checkpoint folder {out} does not exist")
    if group.is_main:
        hold.enter_context(ckpt.lock_folder(out, create=False))
    return ckpt.load_trainer_state(out), load_tokenizer(ckpt.member(out, ckpt.TOKENIZER_FILE))


def _settle_config(config: TrainConfig, train_stream: TokenStream, val_tokens: int, tokenizer: Tokenizer, *,
                   sources: dict[str, str] | None, log: Callable[[str], None], group: Group, device: torch.device):
    """The plan (what the config left open, filled in and marked) and this process's rows of the token table."""
    def table_for(batch_size: int):
        rows = global_batch_share(batch_size, group.world_size)  # B / N rows of the table per process
        return batchify(train_stream.ids, rows, group.rank, group.world_size)  # (B / N, L): a view of the map

    def probe(planned: TrainConfig) -> float:  # rank 0 measures for every rank: one plan for all
        rate = measure_rate(planned, table_for(planned.batch_size), device) if group.is_main else 0.0
        return group.broadcast([rate * group.world_size])[0]

    plan = Plan.with_probe(config, probe, train_tokens=len(train_stream), vocab_size=tokenizer.vocab_size,
                           device=device.type, val_tokens=val_tokens, chars_per_token=train_stream.chars_per_token,
                           sources=sources)
    if plan.chosen:
        for line in plan.summary():
            log(line)
    return plan, table_for(plan.config.batch_size)


def _build(config: TrainConfig, group: Group, device: torch.device):
    """The model, from the seeded stream, and its optimizer; each rank then draws its own dropout masks."""
    model = LSTMLanguageModel(config.model).to(device)
    if device.type == "cuda":
        model.rnn.flatten_parameters()  # one contiguous weight block, as cuDNN's LSTM wants it
    if group.rank:
        torch.manual_seed(rank_seed(config.seed, group.rank, 0))
    return model, make_optimizer(model, config)


def _begin_folder(out: Path, config: TrainConfig, tokenizer: Tokenizer, *, overwrite: bool,
                  sources: dict[str, str]) -> None:
    ckpt.save_config(out, config, sources)
    ckpt.save_tokenizer(out, tokenizer)
    if overwrite:  # what an earlier run left must not mix with this one's files
        for name in (ckpt.WEIGHTS_FILE, ckpt.STATE_FILE, ckpt.METRICS_FILE):
            (out / name).unlink(missing_ok=True)
