"""train(config) -> TrainResult: corpus in, checkpoint folder out.

The loop is plain truncated BPTT: B token streams side by side, windows of T
tokens, the recurrent state carried from window to window and detached so
gradients stop at the window edge. AdamW or SGD with gradient clipping
(wordgen.training.optim: weight decay on the matrices only; a linear warm-up, then a cosine
down to `lr_min_ratio` of the peak over the run, its length known from --max-steps /
--epochs, or measured against --time-budget). Every `eval_interval` steps and at the end the model is
validated; the best weights are kept in `model.safetensors`, the latest
training state in `trainer_state.pt`, and one line per validation is appended
to `metrics.jsonl`. Settings left at None are filled in first by the size rule
(wordgen.training.sizerule). After `patience` validations without a new best the rate is
divided by `plateau_factor` and the best weights are put back; after
`plateau_drops` such drops the run stops early (TrainResult.early_stop).

A run with --max-steps or --epochs and a fixed seed is repeatable on a CPU,
and `resume=True` continues it exactly (wordgen.training.trainer_state). --time-budget
counts the training seconds of every call together, so a resumed budgeted run
trains what is left of it on the schedule where it stopped; being wall-clock,
it is not repeatable step for step.

The first SIGINT/SIGTERM in the loop finishes the step, saves the trainer state
(no validation: stopping should be quick) and raises wordgen.training.stopping.Interrupted;
a second raises it at once. A run holds its folder's lock (checkpoint.lock_folder).

The run is a handful of named steps around one `_Run` (the state they share):
`_start` (fresh or resumed), `_step` (one optimizer step), `_checkpoint`
(validate, keep the best weights, save the trainer state), `_loop`, `_finish`.

Under torchrun (WORLD_SIZE > 1) this is one process of a DistributedDataParallel run
(wordgen.distributed): `batch_size` is all processes' batch, each reads its own rows
of the token table, so N processes take one process's steps. Rank 0 alone locks and
writes; validation is shared; clock and stop signal are agreed every step; the
trainer state holds every rank's states, so a run resumes in any number of processes.

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
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from wordgen.config import TrainConfig
from wordgen.cpu import ThreadPolicy
from wordgen.data import TokenStream, batchify, windows, windows_per_epoch
from wordgen.device import resolve_device, resolve_precision
from wordgen.distributed import Group, device_for, global_batch_share, loss_module, rank_seed
from wordgen.errors import CheckpointError, ConfigError
from wordgen.evaluate import Metrics, evaluate_prefix
from wordgen.model import LSTMLanguageModel, State, detach_state
from wordgen.tokenization import Tokenizer, load_tokenizer
from wordgen.training import checkpoint as ckpt
from wordgen.training import trainer_state
from wordgen.training.checkpoint import Bundle
from wordgen.training.optim import lr_factor, make_optimizer, set_lr
from wordgen.training.plan import Plan
from wordgen.training.plateau import on_plateau
from wordgen.training.prepare import prepare, prepare_together
from wordgen.training.progress import advance_training_bar, training_bar
from wordgen.training.result import TrainResult
from wordgen.training.stopping import Interrupted, StopSignals

# TrainResult, prepare and lr_factor live in their own modules; callers find them here as before.
__all__ = ["TrainResult", "lr_factor", "prepare", "train"]


BITS_PER_NAT = 1 / math.log(2)
# The training clock. Tests replace it with one that ticks per step, so a run cut by
# the time budget is repeatable there (tests/test_faults.py).
_clock = time.perf_counter


@dataclass
class _Run:
    """What the steps of one run share (a closure over a dozen variables before)."""

    config: TrainConfig  # the run's own copy, vocabulary size and precision filled in
    model: LSTMLanguageModel
    optimizer: torch.optim.Optimizer
    table: object  # (B / N, L) this process's rows of the training ids: a view of the memory-mapped store
    val_stream: TokenStream
    total_steps: float  # math.inf when only the time budget says when to stop
    result: TrainResult
    tokens_per_char: float  # of the training text: turns nats per token into bits per char
    step: int = 0
    epoch: int = 0
    cursor: int = 0  # where the next window starts in the table
    best: float = math.inf  # lowest validation loss so far
    hidden: State | None = None  # carried from window to window
    tokens: int = 0  # training tokens read since step 0, earlier calls included
    loss_sum: float = 0.0  # training losses since the last validation, and how many
    loss_count: int = 0
    saved_step: int | None = None  # step of the trainer state on disk
    last_val: Metrics | None = None
    elapsed_before: float = 0.0  # training seconds of the calls before a resume
    start: float = 0.0  # _clock() when this call's loop began
    bar: object = None  # wordgen.training.progress.progress_bar: tqdm or LineProgress
    threads: ThreadPolicy | None = None
    # Early stopping: validations in a row without a new best, learning-rate drops made, and
    # the multiplier they left on the schedule's rate; best_step / best_bpc describe the best.
    bad_checks: int = 0
    drops: int = 0
    lr_scale: float = 1.0
    best_step: int = 0
    best_bpc: float = math.inf
    stop: bool = False
    group: Group = field(default_factory=Group)  # the other processes of a multi-process run
    device: torch.device = torch.device("cpu")
    forward: torch.nn.Module | None = None  # what a step calls: the loss, through DDP when there are several
    stopped_by: int | None = None  # the stop signal the ranks agreed on (any rank may have received it)

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    def elapsed(self) -> float:
        """Training seconds of the whole run so far: what --time-budget limits."""
        return self.elapsed_before + _clock() - self.start

    @property
    def chars_seen(self) -> float:
        """Characters of training text read by the whole run, resumed calls included (what --chars counts)."""
        return self.tokens * self.result.chars_per_token


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
        run.bar = training_bar(run, enabled=progress and group.is_main)
        hold.callback(run.bar.close)
        # On a CPU, as many threads as other processes leave cores free (wordgen.cpu).
        if run.device.type == "cpu":
            run.threads = ThreadPolicy()
            hold.callback(run.threads.close)
            hold.callback(setattr, run.result, "thread_changes", run.threads.changes)
        stop = hold.enter_context(StopSignals(enabled=stop_signals))
        run.start = _clock()
        try:
            with group.failures(lambda: f"at step {run.step}"):
                if _loop(run, stop):
                    if run.saved_step != run.step:  # else the validation of this very step saved it
                        _save_state(run)
                    raise Interrupted(stop.signum or run.stopped_by, step=run.step, checkpoint=run.out,
                                      saved_step=run.saved_step)
                return _finish(run)
        except Interrupted as err:
            if err.checkpoint is None:  # a second signal, raised wherever the run was
                err.step, err.checkpoint, err.saved_step = run.step, run.out, run.saved_step
            raise


def _refuse_existing(out: Path, overwrite: bool) -> None:
    if ckpt.is_checkpoint(out) and not overwrite:
        raise CheckpointError(f"{out} already holds a checkpoint; resume it with --resume {out} or pass --overwrite")


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
    state = None
    if resume:
        if tokenizer is not None:
            raise ConfigError("a resumed run uses the tokenizer saved in its checkpoint; do not pass one")
        if not out.is_dir():
            raise CheckpointError(f"checkpoint folder {out} does not exist")
        if group.is_main:
            hold.enter_context(ckpt.lock_folder(out, create=False))
        state = ckpt.load_trainer_state(out)
        tokenizer = load_tokenizer(ckpt.member(out, ckpt.TOKENIZER_FILE))
    else:
        _refuse_existing(out, overwrite)  # early, before any work
    config.precision = resolve_precision(config.precision, device)  # saved as chosen, not "auto"
    # Seeded before the model is built: its initial weights come from this stream (the same on every rank).
    torch.manual_seed(config.seed)
    random.seed(config.seed)

    dataset, tokenizer, train_stream, val_stream = prepare_together(config, tokenizer, dataset, group)
    # The size rule, the vocabulary and the validation interval fill in what the config left open.
    plan = Plan.build(config, train_tokens=len(train_stream), vocab_size=tokenizer.vocab_size, device=device.type,
                      sources=sources)
    config, choice = plan.config, plan.choice
    if plan.chosen:
        for line in plan.summary():
            log(line)
    rows = global_batch_share(config.batch_size, group.world_size)  # B / N rows of the table per process
    table = batchify(train_stream.ids, rows, group.rank, group.world_size)  # (B / N, L): a view of the map
    model = LSTMLanguageModel(config.model).to(device)
    if device.type == "cuda":
        model.rnn.flatten_parameters()  # one contiguous weight block, as cuDNN's LSTM wants it
    if group.rank:  # every rank draws its own dropout masks
        torch.manual_seed(rank_seed(config.seed, group.rank, 0))
    optimizer = make_optimizer(model, config)
    if len(val_stream) < 2:
        raise ConfigError("the validation split has fewer than 2 tokens; use a longer text")
    limits = [config.max_steps or math.inf]
    if config.epochs is not None:
        limits.append(math.ceil(config.epochs * windows_per_epoch(table, config.seq_len)))
    result = TrainResult(bundle=Bundle(model=model, tokenizer=tokenizer, config=config), dataset=dataset,
                         chars_per_token=train_stream.chars_per_token, size_rule=choice if state is None else None,
                         rank=group.rank)
    run = _Run(config=config, model=model, optimizer=optimizer, table=table, val_stream=val_stream,
               total_steps=min(limits), result=result, tokens_per_char=1 / train_stream.chars_per_token,
               group=group, device=device, forward=loss_module(model, group, device))
    if state is not None:
        trainer_state.restore(run, state, device)
    elif group.is_main:
        hold.enter_context(ckpt.lock_folder(out, create=True))
        _refuse_existing(out, overwrite)  # again: another run may have written it meanwhile
        _begin_folder(run, tokenizer, overwrite=overwrite, sources=plan.sources)
    result.best_val_loss = run.best
    result.start_step = run.step
    return run


def _begin_folder(run: _Run, tokenizer: Tokenizer, *, overwrite: bool, sources: dict[str, str]) -> None:
    out = run.out
    ckpt.save_config(out, run.config, sources)
    ckpt.save_tokenizer(out, tokenizer)
    if overwrite:  # what an earlier run left must not mix with this one's files
        for name in (ckpt.WEIGHTS_FILE, ckpt.STATE_FILE, ckpt.METRICS_FILE):
            (out / name).unlink(missing_ok=True)


def _loop(run: _Run, stop: StopSignals) -> bool:
    """Train until a stop limit (returns False) or a stop signal (True, after the step in hand)."""
    config, group = run.config, run.group
    budget = config.time_budget or math.inf
    max_chars = config.max_chars or math.inf
    run.model.train()
    # bfloat16 needs no loss scaling (it has float32's exponent range), unlike float16.
    autocast = torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    while True:
        for pos, x, y in windows(run.table, config.seq_len, start=run.cursor, device=run.device):  # x, y: (B, T)
            elapsed = run.elapsed()
            if group.distributed:
                # One clock and one stop signal for every rank (the latest of each), so all stop at
                # the same step: a rank that stopped alone would leave the others waiting for it.
                # (Kept apart from `stop`: this rank's own signal, when it comes, is still its first.)
                elapsed, run.stopped_by = group.agree(elapsed, stop.signum)
                if run.stopped_by:
                    return True
            # The character count is checked before each step, so a --chars run stops
            # less than one batch (B x T tokens) past the count it was given.
            if run.step >= run.total_steps or elapsed >= budget or run.chars_seen >= max_chars:
                return False
            by_steps = run.step / run.total_steps if run.total_steps < math.inf else 0.0
            loss = _step(run, x, y, max(by_steps, elapsed / budget, run.chars_seen / max_chars), autocast)
            run.cursor = pos + x.size(1)
            run.tokens += y.numel() * group.world_size  # every rank read as many: the run's tokens
            run.result.tokens_seen += y.numel() * group.world_size
            run.loss_sum, run.loss_count = run.loss_sum + loss, run.loss_count + 1
            advance_training_bar(run, loss, budget)
            if run.threads is not None:
                run.threads.check()
            if run.step % config.eval_interval == 0:
                _checkpoint(run)
                if run.stop:
                    return False
            if stop.requested and not group.distributed:
                return True
        # The epoch ran out: start the next one from the top with a fresh state.
        run.epoch, run.cursor, run.hidden = run.epoch + 1, 0, None


def _step(run: _Run, x: torch.Tensor, y: torch.Tensor, progress: float, autocast) -> float:
    """One optimizer step on inputs x (B, T) and targets y (B, T); returns its mean loss in nats."""
    config, optimizer = run.config, run.optimizer
    set_lr(optimizer, config.lr * run.lr_scale * lr_factor(run.step, progress, config))
    with autocast:
        # Mean nats per target token of this process's rows, and the activation penalty (AR/TAR; 0 unless
        # configured), through DDP when there are several processes.
        loss, penalty, hidden = run.forward(x, y, run.hidden)
    run.hidden = detach_state(hidden)
    optimizer.zero_grad(set_to_none=True)
    (loss + penalty).backward()  # under DDP the gradients are averaged over the processes here
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.grad_clip)
    optimizer.step()
    run.step += 1
    return loss.item()


def _checkpoint(run: _Run) -> None:
    """Validate; keep the weights if they are the best yet; log a row; save the trainer state.

    The row goes out before the state: a crash between the two leaves a row the resumed
    run drops and writes again (checkpoint.keep_metrics_until), never a missing one.
    Every rank validates its share and sends its states; rank 0 writes.
    """
    began = _clock()
    total, count = run.group.sum([run.loss_sum, run.loss_count])  # every rank's steps: their mean is the batch's
    train_loss = total / count if count else math.nan
    run.loss_sum, run.loss_count = 0.0, 0
    val = run.last_val = _validate(run)
    row = {
        "step": run.step,
        "epoch": run.epoch + run.cursor / max(1, run.table.shape[1]),
        "tokens": run.tokens,
        "chars": run.chars_seen,  # characters of training text read so far (the --chars count)
        "elapsed": run.elapsed(),
        "lr": run.optimizer.param_groups[0]["lr"],
        "train_loss": train_loss,
        "train_bpc": train_loss * BITS_PER_NAT * run.tokens_per_char,
        "val_loss": val.loss,
        "val_bpc": val.bits_per_char,
        "val_ppl_token": val.ppl_token,
    }
    if val.loss < run.best:
        run.best, run.best_step, run.best_bpc, run.bad_checks = val.loss, run.step, val.bits_per_char, 0
        if run.group.is_main:
            ckpt.save_weights(run.out, run.model)
    else:
        on_plateau(run)
    row["best_val_loss"] = run.best
    if run.group.is_main:
        ckpt.append_metrics(run.out, row)
    _save_state(run)
    run.result.history.append(row)
    run.result.eval_seconds += _clock() - began
    run.bar.set_postfix(loss=f"{train_loss:.3f}", bpc=f"{row['train_bpc']:.3f}", val_bpc=f"{val.bits_per_char:.3f}")


def _validate(run: _Run) -> Metrics:
    """The periodic check, shared: each rank scores its columns of the stretch, the sums are added."""
    group = run.group
    part = evaluate_prefix(run.model, run.val_stream, run.config.eval_tokens, rank=group.rank,
                           world_size=group.world_size)
    (nll,) = group.sum([part.nll])
    return replace(part, nll=nll)


def _save_state(run: _Run) -> None:
    state = trainer_state.capture(run)  # every rank takes part: the states are gathered
    if run.group.is_main:
        ckpt.save_trainer_state(run.out, state)
    run.saved_step = run.step


def _finish(run: _Run) -> TrainResult:
    """Validate the steps since the last check, then hand back the best model, not the last."""
    # Decided by rank 0 (whose folder holds the weights), so every rank joins the same checkpoint.
    (again,) = run.group.broadcast([float(run.loss_count > 0 or not (run.out / ckpt.WEIGHTS_FILE).exists())])
    if again:
        stopped = run.result.early_stop
        _checkpoint(run)
        run.result.early_stop = stopped  # the budget ended the run, whatever this last check says
    result = run.result
    result.seconds = _clock() - run.start
    result.steps = run.step
    result.best_val_loss = run.best
    if run.group.is_main:  # the other ranks' results are not the run's; their folder may be another machine's
        ckpt.load_weights(run.out, run.model)
    run.model.eval()
    return result
