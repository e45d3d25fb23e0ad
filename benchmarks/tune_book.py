"""The search behind the size rule and the regularisers: runs on books with a budget in tokens.

    python -m benchmarks.tune_book --book ../shared/corpora/frankenstein.txt --tokens 1600000 \
        --trial rule --trial off:dropout=0.2,input_dropout=0.2,weight_dropout=0,embedding_dropout=0 \
        --trial classic:ref=classic

Each --trial is NAME[:KEY=VALUE,...]; keys are TrainConfig or ModelConfig fields and
override wordgen's defaults (the size rule fills in whatever is left at None);
`ref=classic` or `ref=plain` runs that reference recipe instead (benchmarks/reference.py);
`init=base:word` fine-tunes that base on the book with the other keys as overrides (the
fine-tuning recipe's search: docs/development/log.md, "The fine-tuning recipe").
The budget is training tokens (`--tokens`), which a busy machine does not change:
the search ran while other jobs shared the 2 cores, where seconds would measure the
neighbours (a trial may set its own `tokens=N`, e.g. to give a faster model what it
reads in the same time on an idle machine). The score is the best weights'
bits per character on the whole validation split; with `--unk-penalty` every `<unk>`
is charged a uniform spelling of its word. One JSON line per run is appended to
--log (default benchmarks/results/tune-book.jsonl): the whole configuration, the figures,
the learning curve and the load average. Runs go one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.quality import Book, log_row, run_finetuned, run_reference, run_wordgen
from wordgen.config import TrainConfig
from wordgen.options import add_settings

LOG = Path(__file__).parent / "results" / "tune-book.jsonl"


def parse_trial(text: str) -> tuple[str, dict]:
    """'name:lr=6e-3,hidden_size=512' -> ('name', {'lr': 0.006, 'hidden_size': 512})."""
    name, _, settings = text.partition(":")
    overrides = {}
    for item in filter(None, settings.split(",")):
        key, _, raw = item.partition("=")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw  # a bare string such as bf16 or classic
    return name, overrides


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tune_book", description=__doc__.split("\n\n")[0])
    p.add_argument("--book", required=True, help="a text file or corpus name")
    add_settings(p, TrainConfig(), ["tokenizer", "seed"])
    p.add_argument("--trial", action="append", required=True, help="NAME[:KEY=VALUE,...] (repeatable)")
    p.add_argument("--tokens", type=int, required=True, help="training tokens per run")
    p.add_argument("--unk-penalty", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice); 1 on a machine shared with other jobs, "
                        "where two threads wait for each other's time slices")
    p.add_argument("--log", type=Path, default=LOG)
    args = p.parse_args(argv)
    import torch

    from wordgen.device import machine_info

    if args.threads:
        torch.set_num_threads(args.threads)

    trials = [parse_trial(t) for t in args.trial]
    cache: dict[str, Book] = {}
    for name, overrides in trials:
        spec = overrides.pop("tokenizer", args.tokenizer)
        tokens = int(overrides.pop("tokens", args.tokens))
        book = cache.get(spec) or cache.setdefault(spec, Book(args.book, spec, seed=args.seed))
        penalty = book.unk_penalty_bpc() if args.unk_penalty else 0.0
        load, began = os.getloadavg()[0], time.perf_counter()
        if "ref" in overrides:
            out = run_reference(book, overrides["ref"], seconds=None, tokens=tokens, seed=args.seed)
        elif "init" in overrides:  # fine-tuned from a base, charged for the grown vocabulary's own <unk>
            settings = {k: v for k, v in overrides.items() if k != "init"}
            out = run_finetuned(book, overrides["init"], seconds=None, tokens=tokens, seed=args.seed,
                                unk_penalty=args.unk_penalty, overrides=settings)
            penalty = out.pop("unk_penalty_bpc")
        else:
            out = run_wordgen(book, seconds=None, tokens=tokens, overrides=overrides, seed=args.seed)
        out["val_bpc"] += penalty
        row = {"name": name, "book": args.book, "tokenizer": spec, "overrides": overrides, "tokens_budget": tokens,
               "train_tokens": len(book.train), "vocab": book.tokenizer.vocab_size, "unk_penalty_bpc": penalty,
               "load_before": load, "load_after": os.getloadavg()[0], "wall": time.perf_counter() - began,
               "threads": torch.get_num_threads(),
               "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info(), **out}
        log_row(args.log, row)
        stop = f"  stopped at {out['early_stop']['epoch']:.1f} passes" if out.get("early_stop") else ""
        print(f"{name:24s} {Path(args.book).stem:12s} {spec:10s} val {out['val_bpc']:.4f} bits/char  "
              f"{out['passes']:5.1f} passes  {out['tokens_per_s']:8,.0f} tok/s  load {load:.1f}  "
              f"wall {row['wall']:.0f} s{stop}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
