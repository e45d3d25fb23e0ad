"""The lesson's "too low loops, too high is gibberish", in numbers, for temperatures 0.1 to 2.0.

    python -m wordgen.tasks.temperature_study                                   # Shakespeare, 150 s of training
    python -m wordgen.tasks.temperature_study --checkpoint runs/word_level_book/model

For every temperature the model writes several samples from the same prompt,
and each is measured: does it fall into a loop; distinct-2 and distinct-3
(the share of its bigrams and trigrams that are distinct); the share of its
words, and of its word pairs, that occur in the training text; and the
model's own mean log-likelihood of what it wrote (at temperature 1). The
book's validation text, cut into pieces of the same length, is measured the
same way as a reference. Writes runs/temperature_study/{model/,
temperature.png, report.txt, results.json}.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

from wordgen import SampleConfig, generate
from wordgen.analysis.textstats import NgramIndex, distinct_n, find_loop, text_tokens
from wordgen.errors import ConfigError
from wordgen.evaluate import continuation_log_likelihood
from wordgen.lab import validation_text
from wordgen.tasks import (
    WORD_TOKENIZER,
    Report,
    add_book_option,
    add_out_option,
    add_prompt_option,
    add_training_options,
    evaluate_validation,
    obtain_model,
    prompt_text,
    run_task,
)

PROG = "python -m wordgen.tasks.temperature_study"
DEFAULT_TEMPERATURES = tuple(round(0.1 * i, 1) for i in range(1, 21))  # 0.1 ... 2.0
REFERENCE_PIECES = 200  # validation pieces measured for the reference line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure samples across temperatures: loops, distinct bigrams/trigrams, the share of "
                    "words and word pairs found in the training text, and the model's own log-likelihood "
                    "of its sample; one plot, with the book's own text as the reference.",
        epilog="Works with any checkpoint: --checkpoint a character model shows invented words at high T.",
    )
    add_book_option(p, default=None)
    p.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES), metavar="T",
                   help="temperatures to try (default: 0.1 0.2 ... 2.0)")
    p.add_argument("--samples", type=int, default=10, help="samples per temperature (default: 10)")
    p.add_argument("--max-tokens", type=int, default=100, help="tokens per sample (default: 100)")
    add_prompt_option(p)
    p.add_argument("--tokenizer", default=WORD_TOKENIZER, help=f"tokenizer when training (default: {WORD_TOKENIZER})")
    add_training_options(p, time_budget=150.0)
    add_out_option(p, "temperature_study")
    return p


def mean(values) -> float:
    """Mean of the values that are numbers: a sample without a single word has no share of words."""
    numbers = [v for v in values if not math.isnan(v)]
    return statistics.fmean(numbers) if numbers else math.nan


def measure(texts: list[str], index: NgramIndex) -> dict:
    """Mean statistics of some texts, each measured on its own."""
    tokens = [text_tokens(t) for t in texts]
    return {
        "loop_share": mean(float(find_loop(t) is not None) for t in tokens),
        "distinct_2": mean(distinct_n(t, 2) for t in tokens),
        "distinct_3": mean(distinct_n(t, 3) for t in tokens),
        "seen_words": mean(index.seen_share(t, 1) for t in texts),
        "seen_bigrams": mean(index.seen_share(t, 2) for t in texts),
    }


def cells(row: dict) -> str:
    """One line of the table; a share that could not be measured prints as '-'."""
    def pct(value, width, digits=0):
        return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}%}"

    return (f"{pct(row['loop_share'], 6)} {pct(row['distinct_2'], 7)} {pct(row['distinct_3'], 7)} "
            f"{pct(row['seen_words'], 14, 1)} {pct(row['seen_bigrams'], 14, 1)} {row['log_likelihood']:>14.2f}")


def reference_pieces(text: str, length: int) -> list[str]:
    """Consecutive pieces of `text`, `length` tokens each, as text."""
    tokens = text_tokens(text)
    pieces = [tokens[i : i + length] for i in range(0, len(tokens) - length + 1, length)][:REFERENCE_PIECES]
    return [" ".join(p) for p in pieces]


def plot(rows: list[dict], reference: dict, path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    temps = [r["temperature"] for r in rows]
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(2, 2)
    panels = [
        (axes[0, 0], "share of samples that loop", [("loop_share", "samples with a loop")]),
        (axes[0, 1], "distinct n-grams / all n-grams", [("distinct_2", "distinct-2"), ("distinct_3", "distinct-3")]),
        (axes[1, 0], "share found in the training text", [("seen_words", "words"), ("seen_bigrams", "word pairs")]),
        (axes[1, 1], "model's mean log-likelihood per token (nats)", [("log_likelihood", "the model's samples")]),
    ]
    for ax, ylabel, series in panels:
        for (key, label), color in zip(series, ("tab:blue", "tab:orange")):
            ax.plot(temps, [r[key] for r in rows], "o-", ms=3, color=color, label=label)
            own = "the book's own text" if len(series) == 1 else f"{label}, the book's own text"
            ax.axhline(reference[key], ls="--", lw=1, color=color, label=own)
        ax.set_xlabel("temperature")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)


def nearest_temperature(rows: list[dict], key: str, value: float) -> float:
    return min(rows, key=lambda r: abs(r[key] - value))["temperature"]


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = Report(out)
    for t in args.temperatures:
        SampleConfig(temperature=t).validate()
    if args.samples < 1 or args.max_tokens < 3:
        raise ConfigError("--samples must be at least 1 and --max-tokens at least 3 (trigrams need three tokens)")

    model = obtain_model(args, tokenizer=args.tokenizer, out=out / "model", checkpoint=args.checkpoint)
    bundle = model.bundle
    say(f"book: {model.book}")
    say(model.describe())
    index = NgramIndex.from_texts(model.dataset["train"]["text"])
    prompt = prompt_text(args, model)
    say(f"{args.samples} samples of {args.max_tokens} tokens per temperature, all continuing {prompt!r}\n")
    say(f"{'T':>5} {'loops':>6} {'dist-2':>7} {'dist-3':>7} {'words in book':>14} {'pairs in book':>14} "
        f"{'log-lik/token':>14}")
    rows, lengths = [], []
    for t in sorted(args.temperatures):
        texts = generate(bundle.model, bundle.tokenizer, prompt, max_tokens=args.max_tokens,
                         sample=SampleConfig(temperature=t), num_samples=args.samples, seed=args.seed)
        continuations = [text[len(prompt):] for text in texts]
        lengths += [len(text_tokens(c)) for c in continuations]
        row = {"temperature": t, **measure(continuations, index)}
        row["log_likelihood"] = mean(
            continuation_log_likelihood(bundle.model, bundle.tokenizer, prompt, text) for text in texts)
        row["example"] = texts[0][len(prompt):]
        rows.append(row)
        say(f"{t:>5.2g} {cells(row)}")

    # The reference: the book's own held-out text, in pieces as long as the samples.
    validation = validation_text(model.dataset, args.eval_chars)
    reference = measure(reference_pieces(validation, max(3, round(statistics.fmean(lengths)))), index)
    reference["log_likelihood"] = -evaluate_validation(model, args.eval_chars).loss
    say(f"{'book':>5} {cells(reference)}   <- the validation text, measured the same way")

    cold, hot = rows[0], rows[-1]
    say(f"\nexample at T={cold['temperature']:g}:\n  ...{cold['example'][:300]!r}")
    say(f"example at T={hot['temperature']:g}:\n  ...{hot['example'][:300]!r}")
    say(f"\nAs diverse as the book (distinct-2) at T = {nearest_temperature(rows, 'distinct_2', reference['distinct_2']):g}; "
        f"as likely to the model as the book's own text at T = "
        f"{nearest_temperature(rows, 'log_likelihood', reference['log_likelihood']):g}. "
        "Below that the samples repeat themselves (loops, few distinct n-grams) and the model finds them "
        "more likely than any real text; above it, word pairs the book never has take over and the model "
        "itself finds its samples improbable.")
    title = f"Temperature study: {bundle.config.tokenizer} model on {model.book}"
    plot(rows, reference, out / "temperature.png", title)
    say(f"\noutputs: {out}/  (temperature.png, report.txt, results.json); "
        f"finished in {time.perf_counter() - start:.0f} s")
    say.save({"book": model.book, "prompt": prompt, "samples": args.samples, "max_tokens": args.max_tokens,
              "rows": rows, "reference": reference})


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv, {"SampleConfig.temperature": "--temperatures"})


if __name__ == "__main__":
    sys.exit(main())
