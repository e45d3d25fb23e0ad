"""The quality suite: wordgen's defaults against plain recipes, same split, same budget, bits per character.

    python -m benchmarks.quality                                   # the suite (books below, 150 s and 600 s)
    python -m benchmarks.quality --book ~/pg11.txt --budgets 150   # any text
    python -m benchmarks.quality --tokenizers word --budgets 150 --books frankenstein
    python -m benchmarks.quality --tokens 1600000 ...              # a budget in training tokens instead

For each book, tokenizer (char, word, bpe:2000) and budget, three runs train one after
another on the same 90 / 5 / 5 split and tokenizer:

* **wordgen**: `train()` with every default (the size rule, regularisers, early stopping);
* **classic**: the pytorch/examples word_language_model recipe (benchmarks/reference.py:
  2 x 200, dropout 0.2, tied, SGD lr 20, clip 0.25, batch 20 x 35, lr / 4 on a plateau);
* **plain**: a plain 2 x 256 LSTM with Adam at 2e-3 and no dropout (the lesson's model).

By default the char rows run against the plain LSTM and the word and BPE rows against
the classic recipe (`--references classic,plain` runs both everywhere). The whole
default suite is 3 books x 3 tokenizers x (150 s + 600 s) x 2 runs: about 3.8 hours of
training; `--budgets 150` about 45 minutes.

Each is scored on the whole validation split with its best weights, in bits per
character (wordgen.evaluate). The table gives each reference's figure, wordgen's,
and wordgen / the better reference. `--bases` adds, on the word and BPE rows, the shipped base models (`base:word`,
`base:bpe`) as they are (zero-shot, never trained on the book) and fine-tuned on the book
for the same budget (wordgen's defaults with `init`); the base's own pretraining is not
counted in the budget (its model card gives it). `--unk-penalty` charges every `<unk>` of a word
model the cost of spelling its word uniformly over the training characters
(wordgen.compare.score), so a small vocabulary cannot win by hiding words. `--cache`
scores every model a second time with wordgen's neural cache (wordgen.generation.cache), the
references included, and prints that as a second table.

One line per run goes to benchmarks/results/quality-<date>.jsonl (settings, figures,
load average). Budgets are wall-clock seconds of training (validation included for
wordgen, excluded for the references) unless `--tokens` is given: on a shared machine,
run it when nothing else runs. Runs never overlap.

Not here: speed (benchmarks/run.py), the search over settings (benchmarks/tune_book.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

BOOKS = {  # the suite's default books: three sizes of public-domain text
    "frankenstein": "../shared/corpora/frankenstein.txt",
    "dorian_gray": "../shared/corpora/dorian_gray.txt",
    "mobydick": "../shared/corpora/mobydick.txt",
    "macbeth": "shakespeare:macbeth",
}
RESULTS = Path(__file__).parent / "results"


class Book:
    """One text and one tokenizer, prepared once for every run on it."""

    def __init__(self, corpus: str, tokenizer: str, seed: int = 0, cache=None):
        """`cache`: a wordgen.generation.cache.Cache to score every model with a second time (the suite's --cache)."""
        from wordgen.config import TrainConfig
        from wordgen.training.prepare import prepare

        self.corpus, self.spec, self.cache = corpus, tokenizer, cache
        self.dataset, self.tokenizer, self.train, self.val = prepare(
            TrainConfig(corpus=corpus, tokenizer=tokenizer, seed=seed, max_steps=1))

    def score(self, model, cache=None) -> float:
        """Validation bits per character of `model` (eval mode), whole split; with a wordgen.generation.cache.Cache if given."""
        from wordgen.evaluate import evaluate_stream

        model.eval()
        return evaluate_stream(model, self.val, cache=cache).bits_per_char

    def scores(self, model, tokenizer=None) -> dict:
        """The network alone (`val_bpc`) and, with the book's cache, with the neural cache too; a model with its
        own `tokenizer` (a base's) is scored on the same validation text encoded by it."""
        from wordgen.data import encode_split
        from wordgen.evaluate import evaluate_stream

        val = self.val if tokenizer is None else encode_split(self.dataset["validation"], tokenizer)
        model.eval()
        figures = {"val_bpc": evaluate_stream(model, val).bits_per_char}
        if self.cache is not None:
            figures["val_bpc_cache"] = evaluate_stream(model, val, cache=self.cache).bits_per_char
        return figures

    def unk_penalty_bpc(self, tokenizer=None) -> float:
        """Bits per character that charging each validation `<unk>` (of `tokenizer`, default the book's) a uniform
        spelling adds."""
        from wordgen.compare.score import Speller, hidden_pieces
        from wordgen.data import row_text
        from wordgen.tokenization import CharTokenizer

        tokenizer = tokenizer or self.tokenizer
        speller = Speller(CharTokenizer.train_from_texts(self.dataset["train"]["text"]).vocab_size)
        pieces = [p for t in self.dataset["validation"]["text"] for p in hidden_pieces(tokenizer, row_text(t))]
        return speller.cost(pieces) / math.log(2) / max(1, self.val.num_chars)


def run_wordgen(book: Book, *, seconds: float | None, tokens: int | None, overrides: dict | None = None,
                seed: int = 0) -> dict:
    """wordgen's defaults (plus `overrides`: TrainConfig or ModelConfig fields) for the budget."""
    from wordgen.training.loop import train

    config = config_with(overrides, corpus=book.corpus, tokenizer=book.spec, seed=seed, time_budget=seconds)
    if tokens is not None:
        from wordgen.training.sizerule import recipe_for

        config.max_steps = steps_for(tokens, config, config.optimizer or recipe_for(book.tokenizer.vocab_size))
    with tempfile.TemporaryDirectory() as tmp:
        config.out = str(Path(tmp) / "run")
        result = train(config, tokenizer=book.tokenizer, dataset=book.dataset, overwrite=True)
    return {**book.scores(result.bundle.model), **run_figures(book, result)}


def run_figures(book: Book, result) -> dict:
    """What a wordgen run (a TrainResult) logs besides its scores: its budget spent, settings and curves."""
    stop = result.early_stop
    return {"best_seen_bpc": min(r["val_bpc"] for r in result.history), "steps": result.steps,
            "tokens": result.tokens_seen, "seconds": result.seconds, "eval_seconds": result.eval_seconds,
            "tokens_per_s": result.loop_tokens_per_second, "passes": result.tokens_seen / max(1, len(book.train)),
            "early_stop": None if stop is None else {"step": stop.step, "epoch": stop.epoch},
            "config": result.bundle.config.to_dict(), "curve": [(r["step"], r["val_bpc"]) for r in result.history],
            "train_curve": [(r["step"], r["train_bpc"]) for r in result.history]}


def config_with(overrides: dict | None, **fields):
    """A TrainConfig of `fields` and `overrides`, whose keys are TrainConfig or ModelConfig fields."""
    from wordgen.config import ModelConfig, TrainConfig

    overrides = dict(overrides or {})
    model_keys = set(ModelConfig.__dataclass_fields__)
    model = replace(ModelConfig(), **{k: v for k, v in overrides.items() if k in model_keys})
    rest = {k: v for k, v in overrides.items() if k not in model_keys}
    return TrainConfig(model=model, **fields, **rest)


def steps_for(tokens: int, config, optimizer: str) -> int:
    """The steps that read `tokens` with the batch the size rule picks for `optimizer` when `config` gives none."""
    from wordgen.training.sizerule import RECIPES

    recipe = RECIPES[optimizer]
    per_step = (config.batch_size or recipe["batch_size"]) * (config.seq_len or recipe["seq_len"])
    return max(1, math.ceil(tokens / per_step))


def base_for(spec: str) -> str | None:
    """The shipped base a tokenizer's rows are fine-tuned from: word rows from base:word, BPE rows from base:bpe."""
    return {"word": "base:word", "bpe": "base:bpe"}.get(spec.split(":")[0])


def run_zero_shot(book: Book, base: str, unk_penalty: bool) -> dict:
    """The base as it is, never trained on the book, scored on its validation split with the base's tokenizer."""
    from wordgen.training.finetune import Base

    bundle = Base.open(base).bundle
    penalty = book.unk_penalty_bpc(bundle.tokenizer) if unk_penalty else 0.0
    return {**book.scores(bundle.model, bundle.tokenizer), "unk_penalty_bpc": penalty, "seconds": 0.0,
            "tokens": 0, "passes": 0.0, "base": base}


def run_finetuned(book: Book, base: str, *, seconds: float | None, tokens: int | None, seed: int,
                  unk_penalty: bool, overrides: dict | None = None) -> dict:
    """wordgen's defaults from the base (`init`), plus `overrides` as in run_wordgen: the vocabulary grown by the
    book's, scored like every run."""
    from wordgen.training.finetune import Base
    from wordgen.training.loop import train

    config = config_with(overrides, corpus=book.corpus, init=base, seed=seed, time_budget=seconds)
    if tokens is not None:  # a fine-tuning run keeps its base's optimizer, and so its recipe's batch
        config.max_steps = steps_for(tokens, config, Base.open(base).bundle.config.optimizer)
    with tempfile.TemporaryDirectory() as tmp:
        config.out = str(Path(tmp) / "run")
        result = train(config, dataset=book.dataset, overwrite=True)
    tokenizer = result.bundle.tokenizer
    penalty = book.unk_penalty_bpc(tokenizer) if unk_penalty else 0.0
    growth = result.growth  # the validation text's <unk> share, book's vocabulary alone against the grown one
    return {**book.scores(result.bundle.model, tokenizer), **run_figures(book, result), "unk_penalty_bpc": penalty,
            "base": base, "base_sha256": result.bundle.config.init_sha256, "vocab": tokenizer.vocab_size,
            "added": growth.added, "unk_book": growth.unk_book, "unk_merged": growth.unk_merged}


def run_reference(book: Book, name: str, *, seconds: float | None, tokens: int | None, seed: int = 0) -> dict:
    """One of benchmarks.reference.RECIPES on the book, scored like wordgen."""
    import torch

    from benchmarks.reference import RECIPES, train_recipe
    from wordgen.config import ModelConfig
    from wordgen.evaluate import evaluate_stream
    from wordgen.model import LSTMLanguageModel

    recipe = RECIPES[name]
    # The reference's weights have wordgen's names and shapes: score them with wordgen's evaluation.
    scorer = LSTMLanguageModel(ModelConfig(vocab_size=book.tokenizer.vocab_size, embedding_dim=recipe.embedding_dim,
                                           hidden_size=recipe.hidden_size, num_layers=recipe.num_layers))

    def val_loss(model) -> float:
        scorer.load_state_dict(model.state_dict())
        scorer.eval()
        return evaluate_stream(scorer, book.val).loss

    out = train_recipe(recipe, book.tokenizer.vocab_size, book.train.tensor(), val_loss, seconds=seconds, tokens=tokens,
                       seed=seed)
    scorer.load_state_dict(out["state"])
    torch.manual_seed(seed)
    return {**book.scores(scorer), "tokens": out["tokens"], "seconds": out["seconds"],
            "passes": out["tokens"] / max(1, len(book.train)), "recipe": recipe.name,
            "tokens_per_s": out["tokens"] / max(1e-9, out["seconds"]),
            "curve": [(h["tokens"], h["val_loss"]) for h in out["history"]]}


def log_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    from wordgen.config import TrainConfig
    from wordgen.options import add_settings

    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    p.add_argument("--book", action="append", default=[], metavar="PATH",
                   help="a text file or corpus (repeatable); default: the suite's books")
    p.add_argument("--books", default="frankenstein,dorian_gray,mobydick",
                   help=f"names from {', '.join(BOOKS)} (comma-separated), used when no --book is given")
    p.add_argument("--tokenizers", default="char,word,bpe:2000")
    p.add_argument("--budgets", default="150,600", help="seconds of training per run, comma-separated")
    p.add_argument("--tokens", type=int, default=None, help="a budget in training tokens instead of seconds")
    p.add_argument("--references", default="auto",
                   help="references to run: classic, plain, plain512 (2 x 512, torch's Adam defaults), several "
                        "as 'classic,plain', or auto: the plain char LSTM for char, the classic recipe for word "
                        "and BPE (default: auto)")
    p.add_argument("--unk-penalty", action="store_true", help="charge <unk> a uniform spelling cost")
    p.add_argument("--cache", action="store_true",
                   help="also score every model (the references' too) with wordgen's neural cache at its "
                        "default settings (wordgen.generation.cache): logged as val_bpc_cache, a second table")
    p.add_argument("--bases", action="store_true",
                   help="also the shipped bases on the word and BPE rows: base:word / base:bpe as they are "
                        "(zero-shot) and fine-tuned on the book for the budget (wordgen's defaults with --init)")
    add_settings(p, TrainConfig(), ["seed"])
    p.add_argument("--log", type=Path, default=RESULTS / f"quality-{time.strftime('%Y-%m-%d')}.jsonl")
    args = p.parse_args(argv)

    import torch

    from wordgen.generation.cache import Cache

    cache = Cache() if args.cache else None

    from wordgen.device import machine_info

    here = Path(__file__).resolve().parent.parent
    books = args.book or [BOOKS[name] if BOOKS[name].startswith("shakespeare") else str(here / BOOKS[name])
                          for name in args.books.split(",")]
    budgets = [None] if args.tokens else [float(b) for b in args.budgets.split(",")]
    specs = args.tokenizers.split(",")

    def references(spec: str) -> list[str]:
        if args.references != "auto":
            return [r for r in args.references.split(",") if r]
        return ["plain"] if spec == "char" else ["classic"]

    def runs_for(spec: str) -> list[str]:
        bases = ["fine-tuned", "zero-shot"] if args.bases and base_for(spec) else []
        return ["wordgen", *bases, *references(spec)]

    if not args.tokens:  # a wall-clock suite: say how long it will take before it starts
        runs = sum(len(runs_for(spec)) - ("zero-shot" in runs_for(spec)) for spec in specs) * len(books)
        total = runs * sum(budgets)
        print(f"{runs * len(budgets)} runs, at least {total / 3600:.1f} h of training "
              f"(plus data preparation and validation)", flush=True)
    table, cached = [], {}
    for corpus in books:
        for spec in specs:
            book = Book(corpus, spec, seed=args.seed, cache=cache)
            penalty = book.unk_penalty_bpc() if args.unk_penalty else 0.0
            zero_shot = None  # the same for every budget: scored once
            for seconds in budgets:
                figures = {}
                for who in runs_for(spec):
                    load = os.getloadavg()[0]
                    began = time.perf_counter()
                    if who == "wordgen":
                        out = run_wordgen(book, seconds=seconds, tokens=args.tokens, seed=args.seed)
                    elif who == "fine-tuned":
                        out = run_finetuned(book, base_for(spec), seconds=seconds, tokens=args.tokens,
                                            seed=args.seed, unk_penalty=args.unk_penalty)
                    elif who == "zero-shot":
                        zero_shot = zero_shot or run_zero_shot(book, base_for(spec), args.unk_penalty)
                        out = dict(zero_shot)
                    else:
                        out = run_reference(book, who, seconds=seconds, tokens=args.tokens, seed=args.seed)
                    # a base's runs are charged for their own tokenizer's <unk>, the others for the book's
                    charge = out.pop("unk_penalty_bpc", penalty)
                    out["val_bpc"] += charge
                    figures[who] = out["val_bpc"]
                    if "val_bpc_cache" in out:
                        out["val_bpc_cache"] += charge
                        cached.setdefault((Path(corpus).stem, spec, seconds or args.tokens), {})[who] = out["val_bpc_cache"]
                    log_row(args.log, {"book": corpus, "tokenizer": spec, "who": who, "seconds_budget": seconds,
                                       "tokens_budget": args.tokens, "unk_penalty_bpc": charge,
                                       "train_tokens": len(book.train), "vocab": book.tokenizer.vocab_size,
                                       "load_before": load, "load_after": os.getloadavg()[0],
                                       "wall": time.perf_counter() - began, "threads": torch.get_num_threads(),
                                       "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info(), **out})
                    checks = f"  validation {out['eval_seconds'] / out['seconds']:.1%} of it" if "eval_seconds" in out else ""
                    print(f"  {Path(corpus).stem:14s} {spec:9s} {seconds or args.tokens:>8} {who:8s} "
                          f"{out['val_bpc']:.3f} bits/char  {out['passes']:.1f} passes{checks}  load {load:.1f}",
                          flush=True)
                table.append((Path(corpus).stem, spec, seconds or args.tokens, figures))
    print()
    print(format_table(table, "tokens" if args.tokens else "s"))
    if cached:
        print("\nwith the neural cache (every model, wordgen.generation.cache.Cache()):")
        print(format_table([(*key, figures) for key, figures in cached.items()], "tokens" if args.tokens else "s"))
    return 0


def format_table(table: list, unit: str) -> str:
    """The rows as a fixed-width table: each reference's figure, wordgen's, and wordgen / the better reference."""
    from benchmarks.reference import RECIPES

    names = [r for r in RECIPES if any(r in figures for *_, figures in table)] or ["classic", "plain"]
    bases = [b for b in ("zero-shot", "fine-tuned") if any(b in figures for *_, figures in table)]
    head = f"{'book':14s} {'tokenizer':9s} {'budget':>10s} " + " ".join(f"{r:>8s}" for r in names) + \
        f" {'wordgen':>8s} {'ratio':>6s}" + "".join(f" {b:>10s}" for b in bases) + \
        (f" {'ratio':>6s}" if "fine-tuned" in bases else "")
    lines = [head, "-" * len(head)]
    for name, spec, budget, figures in table:
        refs = [figures[r] for r in names if r in figures]
        best = min(refs) if refs else math.nan
        cells = " ".join(f"{figures[r]:8.3f}" if r in figures else f"{'-':>8s}" for r in names)
        line = f"{name:14s} {spec:9s} {budget:>8g} {unit[:1]} {cells} {figures['wordgen']:8.3f} {figures['wordgen'] / best:6.3f}"
        line += "".join(f" {figures[b]:10.3f}" if b in figures else f" {'-':>10s}" for b in bases)
        if "fine-tuned" in bases:  # the fine-tuned model against the better reference, the target
            line += f" {figures['fine-tuned'] / best:6.3f}" if "fine-tuned" in figures else f" {'-':>6s}"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
