"""BPE vocabulary size against bits per character and tokens per character, on one book.

    python -m wordgen.tasks.tokenizer_sweep                                  # Hamlet, 7 sizes
    python -m wordgen.tasks.tokenizer_sweep --book alice.txt --sizes 258 1000 4000

For every vocabulary size a byte-level BPE tokenizer is trained on the book's
training text and a small LSTM reads the book with it the same number of
times (6 passes, or 30 s on a slow machine, whichever ends first). A larger vocabulary packs more characters into each token (fewer
steps per sentence, more context per window) but gives each token fewer
examples to learn from and a larger output layer to pay for; bits per
character on the same validation text show which effect wins for this book
and budget. 258 is the smallest size (256 bytes + <unk> + one merge): almost
a byte-level model. Writes runs/tokenizer_sweep/{bpe-N/, sweep.png,
report.txt, results.json}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wordgen.errors import ConfigError
from wordgen.tasks import (
    Report,
    add_book_option,
    add_out_option,
    add_training_options,
    evaluate_validation,
    obtain_model,
    run_task,
)

PROG = "python -m wordgen.tasks.tokenizer_sweep"
DEFAULT_BOOK = "shakespeare:hamlet"  # about the size of Alice in Wonderland: a book, not a library
DEFAULT_SIZES = (258, 500, 1000, 2000, 4000, 8000, 16000)
MIN_BPE = 258  # 256 byte symbols + <unk> + at least one merge


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one BPE tokenizer and one small LSTM per vocabulary size on the same book and "
                    "budget; plot bits per character and tokens per character against vocabulary size.",
        epilog=f"Sizes below {MIN_BPE} are refused: byte-level BPE starts from 256 bytes plus <unk>.",
    )
    add_book_option(p, default=DEFAULT_BOOK)
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N",
                   help=f"BPE vocabulary sizes (default: {' '.join(map(str, DEFAULT_SIZES))})")
    add_training_options(p, time_budget=30.0, epochs=6.0, checkpoint=False)
    add_out_option(p, "tokenizer_sweep")
    return p


def plot(rows: list[dict], path: Path, book: str) -> None:
    from matplotlib.figure import Figure

    sizes = [r["vocab_size"] for r in rows]
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(sizes, [r["bits_per_char"] for r in rows], "o-")
    left.set_ylabel("validation bits per character (lower is better)")
    right.plot(sizes, [r["tokens_per_char"] for r in rows], "o-", color="tab:orange")
    right.set_ylabel("tokens per character")
    # Label the sizes themselves; a size within 10% of the last labelled one (bpe:16000
    # capped at 8,387 next to 8,000) would print over it.
    ticks = []
    for size in sizes:
        if not ticks or size > ticks[-1] * 1.1:
            ticks.append(size)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.set_xlabel("BPE vocabulary size")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"BPE vocabulary size on {book}")
    fig.savefig(path, dpi=110)


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = Report(out)
    too_small = [s for s in args.sizes if s < MIN_BPE]
    if too_small:
        raise ConfigError(f"BPE sizes must be at least {MIN_BPE} (256 bytes + <unk> + one merge), "
                          f"got {', '.join(map(str, too_small))}")
    sizes = sorted(set(args.sizes))
    say(f"book: {args.book}; {len(sizes)} BPE sizes; each model reads the book {args.epochs:g} times "
        f"or stops at {args.time_budget:g} s" + (f" or {args.max_steps} steps" if args.max_steps else ""))
    rows = []
    for size in sizes:
        model = obtain_model(args, tokenizer=f"bpe:{size}", out=out / f"bpe-{size}")
        bundle = model.bundle
        metrics = evaluate_validation(model, args.eval_chars)
        rows.append({
            "requested": size, "vocab_size": bundle.tokenizer.vocab_size,
            "bits_per_char": metrics.bits_per_char, "ppl_word": metrics.ppl_word,
            "tokens_per_char": metrics.num_tokens / metrics.num_chars,
            "steps": model.trained.steps, "tokens_seen": model.trained.tokens_seen,
            "epochs": model.trained.history[-1]["epoch"], "train_seconds": model.trained.seconds,
            "parameters": bundle.model.num_parameters(),
        })
        capped = bundle.tokenizer.vocab_size < size
        say(f"  bpe:{size:<6} -> {bundle.tokenizer.vocab_size:>6,} tokens"
            + (" (all the merges this book allows)" if capped else "")
            + f": {metrics.bits_per_char:.3f} bits/char, {rows[-1]['tokens_per_char']:.3f} tokens/char, "
              f"{model.trained.steps} steps, {rows[-1]['epochs']:.1f} passes in {model.trained.seconds:.0f} s")

    say(f"\n{'vocabulary':>10} {'bits/char':>10} {'tokens/char':>12} {'ppl/word':>10} {'steps':>7} "
        f"{'passes':>7} {'parameters':>11}")
    for r in rows:
        say(f"{r['vocab_size']:>10,} {r['bits_per_char']:>10.3f} {r['tokens_per_char']:>12.3f} "
            f"{r['ppl_word']:>10.1f} {r['steps']:>7} {r['epochs']:>7.1f} {r['parameters']:>11,}")
    best = min(rows, key=lambda r: r["bits_per_char"])
    short = [r for r in rows if r["epochs"] < args.epochs - 1e-6]
    if short:
        cut = ", ".join(f"{r['vocab_size']:,}" for r in short)
        say(f"\nstopped before {args.epochs:g} passes by the time budget or --max-steps: vocabularies {cut}; "
            "those are compared after equal time (or steps), not after equal text.")
    say(f"\nbest: {best['vocab_size']:,} tokens, {best['bits_per_char']:.3f} bits per character. "
        "What to look for: tokens per character fall as the vocabulary grows, since each token covers more "
        "text; bits per character fall with them only while the book has enough examples of each token. "
        "Past that, a larger vocabulary spreads one book over more, rarer tokens, each learned from fewer "
        "examples.")
    plot(rows, out / "sweep.png", args.book)
    say(f"\noutputs: {out}/  (sweep.png, report.txt, results.json, bpe-N/ checkpoints); "
        f"finished in {time.perf_counter() - start:.0f} s")
    say.save({"book": args.book, "epochs": args.epochs, "time_budget": args.time_budget, "rows": rows})


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
