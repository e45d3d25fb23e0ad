"""The search behind wordgen's training defaults: character-level runs on a time budget.

    python -m benchmarks.tune_char --seconds 150 \
        --trial base --trial lr6e-3:lr=6e-3 --trial wide:hidden_size=512,embedding_dim=512

Each --trial is NAME[:KEY=VALUE,...]; the keys are TrainConfig fields (lr,
batch_size, seq_len, precision, warmup_steps, ...) or ModelConfig fields
(hidden_size, embedding_dim, num_layers, dropout); everything not named keeps
its default, and each logged row holds the whole configuration it ran with.
Every run trains the char tokenizer on the built-in corpus for --seconds of
training, with no validation during the run (so the budget is all training);
the one validation at the end scores the whole validation split. One line per run is printed
and appended to benchmarks/results/tune-char.jsonl, with the machine and the
load average, so a search can be continued across sessions and read later.

Runs go one after another: on a 2-core machine two at once would only measure
each other.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from wordgen.config import ModelConfig, TrainConfig
from wordgen.device import machine_info
from wordgen.options import add_settings

LOG = Path(__file__).parent / "results" / "tune-char.jsonl"
MODEL_KEYS = {f.name for f in dataclasses.fields(ModelConfig)}
TRAIN_KEYS = {f.name for f in dataclasses.fields(TrainConfig)} - {"model"}


def parse_trial(text: str) -> tuple[str, dict, dict]:
    """'name:lr=6e-3,hidden_size=512' -> ('name', train overrides, model overrides)."""
    name, _, settings = text.partition(":")
    train_over, model_over = {}, {}
    for item in filter(None, settings.split(",")):
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string such as bf16
        if key in MODEL_KEYS:
            model_over[key] = value
        elif key in TRAIN_KEYS:
            train_over[key] = value
        else:
            raise SystemExit(f"tune_char: unknown setting {key!r} in trial {text!r}")
    return name, train_over, model_over


def run_trial(name: str, train_over: dict, model_over: dict, seconds: float, corpus: str, tmp: str) -> dict:
    from wordgen.training.loop import train

    model = dataclasses.replace(ModelConfig(), **model_over)
    if "tie_weights" not in model_over:
        model.tie_weights = model.embedding_dim == model.hidden_size
    # eval_tokens=0: train()'s final validation (after the budget) covers the whole split.
    config = TrainConfig(corpus=corpus, tokenizer="char", out=str(Path(tmp) / name), model=model,
                         time_budget=seconds, eval_interval=10**9, eval_tokens=0, **train_over)
    load = os.getloadavg()[0]
    result = train(config, overwrite=True)
    bpc = result.history[-1]["val_bpc"]
    # "config": every setting the run used, so a row stays readable after the defaults change.
    return {"name": name, "train": train_over, "model": model_over, "config": result.bundle.config.to_dict(),
            "seconds": seconds, "val_bpc": bpc,
            "steps": result.steps, "tokens": result.tokens_seen,
            "tokens_per_s": result.loop_tokens_per_second, "load_before": load,
            "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tune_char", description=__doc__.split("\n\n")[0])
    p.add_argument("--trial", action="append", required=True, help="NAME[:KEY=VALUE,...] (repeatable)")
    p.add_argument("--seconds", type=float, default=150.0, help="training budget per run (default: 150)")
    add_settings(p, TrainConfig(), ["corpus"])
    p.add_argument("--log", type=Path, default=LOG, help=f"JSON lines appended here (default: {LOG})")
    args = p.parse_args(argv)
    trials = [parse_trial(t) for t in args.trial]
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, train_over, model_over in trials:
            row = run_trial(name, train_over, model_over, args.seconds, args.corpus, tmp)
            print(f"{name:24s} {args.seconds:6.0f} s  val {row['val_bpc']:.4f} bits/char  {row['steps']:6d} steps  "
                  f"{row['tokens_per_s']:8,.0f} tok/s  load {row['load_before']:.2f}", flush=True)
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
