"""train(config) -> TrainResult: corpus in, checkpoint folder out.

The loop is plain truncated BPTT: B token streams side by side, windows of T
tokens, the recurrent state carried from window to window and detached so
gradients stop at the window edge. AdamW with gradient clipping; the learning
rate warms up linearly, then follows a cosine down to `lr_min_ratio` of its
peak over the run (its length known from --max-steps / --epochs, or measured
against --time-budget). Every `eval_interval` steps and at the end the model is
validated; the best weights are kept in `model.safetensors`, the latest
training state in `trainer_state.pt`, and one line per validation is appended
to `metrics.jsonl`.

A run with --max-steps or --epochs and a fixed seed is repeatable on a CPU,
and resuming (`resume=True`) continues exactly where the state was saved. A
run cut by --time-budget stops at a time-dependent step, so it is not.

No argument parsing and no printing here; `progress=True` shows a tqdm bar.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from wordgen import checkpoint as ckpt
from wordgen.checkpoint import Bundle
from wordgen.config import TrainConfig
from wordgen.corpora import load_corpus
from wordgen.data import (TokenStream, batchify, content_key, default_cache_dir, encode_split, split_text, windows,
                          windows_per_epoch)
from wordgen.errors import CheckpointError, ConfigError, WordgenError
from wordgen.evaluate import Metrics, evaluate_stream, total_nll
from wordgen.device import resolve_device, resolve_precision
from wordgen.model import LSTMLanguageModel, detach_state
from wordgen.tokenization import Tokenizer, load_tokenizer, train_tokenizer


@dataclass
class TrainResult:
    bundle: Bundle  # the model holds the best weights
    history: list[dict] = field(default_factory=list)  # the metrics.jsonl rows of this run
    steps: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0  # training time of this call (validation included)
    eval_seconds: float = 0.0  # of which validating and writing checkpoints
    best_val_loss: float = math.inf
    dataset: object = None  # the DatasetDict trained on, for evaluation after training

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0

    @property
    def loop_tokens_per_second(self) -> float:
        """Training tokens per second of the loop alone, validation and checkpoints left out."""
        loop = self.seconds - self.eval_seconds
        return self.tokens_seen / loop if loop > 0 else 0.0


def lr_factor(step: int, progress: float, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate: linear warm-up, then cosine decay."""
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return warmup * (config.lr_min_ratio + (1 - config.lr_min_ratio) * cosine)


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))


def _validate(model, stream: TokenStream, config: TrainConfig) -> Metrics:
    """Validation on at most `eval_tokens` tokens of the split.

    A capped check converts the per-token loss with the whole split's
    characters-per-token ratio; the final evaluation (evaluate_stream on the
    full split) needs no such estimate.
    """
    if config.eval_tokens is None or len(stream) <= config.eval_tokens:
        return evaluate_stream(model, stream)
    ids = stream.ids[: config.eval_tokens]
    share = len(ids) / len(stream)
    return Metrics(
        nll=total_nll(model, ids),
        num_tokens=len(ids),
        num_chars=round(stream.num_chars * share),
        num_words=round(stream.num_words * share),
        num_unk=round(stream.num_unk * share),
    )


def prepare(config: TrainConfig, tokenizer: Tokenizer | None = None):
    """Load the corpus, train (or reuse) the tokenizer, encode train and validation.

    Trained tokenizers and encoded streams are cached (wordgen.data.default_cache_dir),
    keyed by the training text and the tokenizer spec / the tokenizer itself, so a
    second run on the same text starts in well under a second.
    """
    dataset = load_corpus(config.corpus, seed=config.seed, stage_directions=config.stage_directions)
    cache = default_cache_dir()
    if tokenizer is None:
        tokenizer = _cached_tokenizer(config.tokenizer, dataset["train"], cache)
    train_stream = encode_split(dataset["train"], tokenizer, cache_dir=cache)
    val_stream = encode_split(dataset["validation"], tokenizer, cache_dir=cache)
    return dataset, tokenizer, train_stream, val_stream


def _cached_tokenizer(spec: str, split, cache) -> Tokenizer:
    # hf:PATH loads a file that may change under the same spec: never cached.
    if cache is None or spec.startswith("hf:"):
        return train_tokenizer(spec, split["text"])
    path = Path(cache) / "tokenizers" / f"{content_key(split_text(split), spec)}.json"
    if path.is_file():
        try:
            return load_tokenizer(path)
        except WordgenError:  # damaged: train again and overwrite
            pass
    tokenizer = train_tokenizer(spec, split["text"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)  # written through a temporary file and a rename
    return tokenizer


def train(config: TrainConfig, *, resume: bool = False, overwrite: bool = False, progress: bool = False) -> TrainResult:
    """Train a model as `config` says and write its checkpoint to `config.out`.

    resume: continue from the trainer state in `config.out` (the stop limits in
    `config` may be larger than before). overwrite: allow replacing a checkpoint
    already in `config.out`; without it an existing one is never touched.
    """
    config.validate()
    # Work on a copy: the vocabulary size is filled in below, and a caller's
    # ModelConfig shared between two runs must not carry one run's size into the other.
    config = replace(config, model=replace(config.model))
    out = Path(config.out)
    if resume:
        state = ckpt.load_trainer_state(out)
        tokenizer = load_tokenizer(out / ckpt.TOKENIZER_FILE)
    else:
        if ckpt.is_checkpoint(out) and not overwrite:
            raise CheckpointError(f"{out} already holds a checkpoint; resume it with --resume {out} or pass --overwrite")
        state, tokenizer = None, None
    device = resolve_device(config.device)
    config.precision = resolve_precision(config.precision, device)  # saved as chosen, not "auto"
    torch.manual_seed(config.seed)
    random.seed(config.seed)

    dataset, tokenizer, train_stream, val_stream = prepare(config, tokenizer)
    config.model.vocab_size = tokenizer.vocab_size
    model = LSTMLanguageModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    table = batchify(train_stream.ids, config.batch_size).to(device)  # (B, L)
    if len(val_stream) < 2:
        raise ConfigError("the validation split has fewer than 2 tokens; use a longer text")
    per_epoch = windows_per_epoch(table, config.seq_len)
    limits = [config.max_steps or math.inf]
    if config.epochs is not None:
        limits.append(math.ceil(config.epochs * per_epoch))
    total_steps = min(limits)  # inf when only the time budget says when to stop

    step, epoch, cursor, best = 0, 0, 0, math.inf  # cursor: where the next window starts
    hidden = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, cursor, best = state["step"], state["epoch"], state["cursor"], state["best_val_loss"]
        hidden = tuple(h.to(device) for h in state["hidden"]) or None
        if config.model.rnn_type == "gru" and hidden:
            hidden = hidden[0]
        _set_rng_state(state["rng"])
    else:
        ckpt.save_config(out, config)
        ckpt.save_tokenizer(out, tokenizer)
        if overwrite:
            for name in (ckpt.WEIGHTS_FILE, ckpt.STATE_FILE, ckpt.METRICS_FILE):
                (out / name).unlink(missing_ok=True)
    bundle = Bundle(model=model, tokenizer=tokenizer, config=config)
    result = TrainResult(bundle=bundle, best_val_loss=best, dataset=dataset)
    bits_per_nat = 1 / math.log(2)
    train_tokens_per_char = 1 / train_stream.chars_per_token

    bar_total = total_steps if total_steps < math.inf else config.time_budget
    by_time = total_steps == math.inf  # the bar then counts seconds of the budget
    bar = tqdm(total=bar_total, disable=not progress, unit="step" if not by_time else "s", dynamic_ncols=True,
               desc="training",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
               if by_time else None)
    bar.update(min(step, bar_total) if total_steps < math.inf else 0)
    start = time.perf_counter()
    budget = config.time_budget or math.inf
    model.train()
    last_val = None

    def checkpoint_now(train_loss: float) -> None:
        nonlocal best, last_val
        began = time.perf_counter()
        val = _validate(model, val_stream, config)
        last_val = val
        row = {
            "step": step,
            "epoch": epoch + cursor / max(1, table.size(1)),
            "tokens": result.tokens_seen,
            "elapsed": time.perf_counter() - start,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_bpc": train_loss * bits_per_nat * train_tokens_per_char,
            "val_loss": val.loss,
            "val_bpc": val.bits_per_char,
            "val_ppl_token": val.ppl_token,
        }
        if val.loss < best:
            best = val.loss
            ckpt.save_weights(out, model)
        row["best_val_loss"] = best
        hidden_list = list(hidden) if isinstance(hidden, tuple) else ([hidden] if hidden is not None else [])
        ckpt.save_trainer_state(out, {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step, "epoch": epoch, "cursor": cursor, "best_val_loss": best,
            "hidden": [h.detach().cpu() for h in hidden_list],
            "rng": _rng_state(),
        })
        with open(out / ckpt.METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        result.history.append(row)
        result.eval_seconds += time.perf_counter() - began
        bar.set_postfix(loss=f"{train_loss:.3f}", bpc=f"{row['train_bpc']:.3f}", val_bpc=f"{val.bits_per_char:.3f}")

    # bfloat16 needs no loss scaling (it has float32's exponent range), unlike float16.
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    loss_sum, loss_count = 0.0, 0
    stopped = False
    while not stopped:
        for pos, x, y in windows(table, config.seq_len, start=cursor):
            elapsed = time.perf_counter() - start
            if step >= total_steps or elapsed >= budget:
                stopped = True
                break
            progress_frac = max(step / total_steps if total_steps < math.inf else 0.0, elapsed / budget)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(step, progress_frac, config)
            with autocast:
                loss, hidden = model.loss(x, y, hidden)  # mean nats per target token
            hidden = detach_state(hidden)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            cursor = pos + x.size(1)
            result.tokens_seen += y.numel()
            loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
            if total_steps < math.inf:
                bar.update(1)
            else:
                bar.update(min(budget, time.perf_counter() - start) - bar.n)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", bpc=f"{loss.item() * bits_per_nat * train_tokens_per_char:.3f}",
                                val_bpc=f"{last_val.bits_per_char:.3f}" if last_val else "-")
            if step % config.eval_interval == 0:
                checkpoint_now(loss_sum / loss_count)
                loss_sum, loss_count = 0.0, 0
        else:  # the epoch ran out: start the next one from the top with a fresh state
            epoch, cursor, hidden = epoch + 1, 0, None
    if loss_count or not (out / ckpt.WEIGHTS_FILE).exists():
        checkpoint_now(loss_sum / loss_count if loss_count else math.nan)
    bar.close()
    result.seconds = time.perf_counter() - start
    result.steps = step
    result.best_val_loss = best
    ckpt.load_weights(out, model)  # hand back the best model, not the last
    model.eval()
    return result
