"""The lesson's character-level model against the lab's word-level model: same book, same budget.

    python -m wordgen.tasks.char_vs_word                       # Shakespeare, 90 s of training per model
    python -m wordgen.tasks.char_vs_word --book alice.txt

Both models have the same size and the same training time; only the tokenizer
differs. They are compared in bits per character on the same validation text
(the fair unit: the same total surprise divided by the same characters) and by
their samples: the share of words the book actually contains, the share of
word pairs it contains, repetition (distinct bigrams), and where greedy
decoding loops. A printed paragraph explains the difference. Writes
runs/char_vs_word/{char/, word/, report.txt, results.json}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from wordgen import SampleConfig, generate
from wordgen.analysis.textstats import NgramIndex, describe_ngram, distinct_n, find_text_loop, text_tokens
from wordgen.errors import ConfigError
from wordgen.tasks import (
    DEFAULT_BOOK,
    WORD_TOKENIZER,
    Report,
    add_book_option,
    add_out_option,
    add_prompt_option,
    add_training_options,
    evaluate_validation,
    mark_loop,
    obtain_model,
    prompt_text,
    run_task,
    show_text,
)

PROG = "python -m wordgen.tasks.char_vs_word"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the lesson's character-level LSTM and the lab's word-level LSTM on the same book "
                    "with the same size and time budget; compare bits per character and samples, and explain "
                    "the difference.",
        epilog="Reuse models: --char-checkpoint runs/char_vs_word/char --word-checkpoint runs/word_level_book/model",
    )
    add_book_option(p, default=None)
    p.add_argument("--word-tokenizer", default=WORD_TOKENIZER, help=f"default: {WORD_TOKENIZER}")
    p.add_argument("--char-checkpoint", metavar="DIR", default=None, help="reuse this character model")
    p.add_argument("--word-checkpoint", metavar="DIR", default=None, help="reuse this word model")
    add_prompt_option(p)
    p.add_argument("--temperature", type=float, default=0.8, help="temperature of the compared samples (default: 0.8)")
    p.add_argument("--samples", type=int, default=5, help="samples per model for the statistics (default: 5)")
    p.add_argument("--sample-chars", type=int, default=400,
                   help="length of each sample in characters; the word model gets as many words as make "
                        "about that many characters (default: 400)")
    add_training_options(p, time_budget=90.0, checkpoint=False)
    add_out_option(p, "char_vs_word")
    return p


def sample_stats(model, prompt: str, max_tokens: int, args, index: NgramIndex) -> dict:
    bundle = model.bundle
    (greedy,) = generate(bundle.model, bundle.tokenizer, prompt, max_tokens=max_tokens,
                         sample=SampleConfig(greedy=True))
    texts = generate(bundle.model, bundle.tokenizer, prompt, max_tokens=max_tokens,
                     sample=SampleConfig(temperature=args.temperature), num_samples=args.samples, seed=args.seed)
    continuations = [t[len(prompt):] for t in texts]
    loop = find_text_loop(greedy[len(prompt):])
    return {
        "greedy": greedy,
        "greedy_shown": "..." + mark_loop(greedy[len(prompt):], loop),
        "greedy_loop": None if loop is None else {"ngram": list(loop.ngram), "start_token": loop.start,
                                                  "repeats": loop.repeats},
        "samples": texts,
        "real_words": statistics.fmean(index.seen_share(c, 1) for c in continuations),
        "real_bigrams": statistics.fmean(index.seen_share(c, 2) for c in continuations),
        "distinct_2": statistics.fmean(distinct_n(text_tokens(c), 2) for c in continuations),
        "invented": [w for c in continuations for w in index.unseen(c)][:12],
    }


def explain(char: dict, word: dict, budget: str) -> str:
    """The printed paragraph: what the two numbers mean, with this run's figures in it."""
    c_bpc, w_bpc = char["validation"]["bits_per_char"], word["validation"]["bits_per_char"]
    better = "the word model" if w_bpc < c_bpc else "the character model"
    return (
        f"Both models read the same book for {budget}, with the same network; only the unit differs. "
        f"Bits per character divide the same total surprise by the same characters, so they compare "
        f"directly: {better} predicts this book's held-out text better "
        f"({c_bpc:.2f} bits per character for characters, {w_bpc:.2f} for words). "
        f"The character model chooses among {char['vocab_size']} symbols at every letter: it must learn "
        f"spelling before it can learn grammar, and it can spell anything -- which is why "
        f"{1 - char['real_words']:.0%} of the words in its samples are not in the book at all. "
        f"The word model chooses among {word['vocab_size']:,} whole words, so every word it writes is real "
        f"({word['real_words']:.0%}), its steps cover about "
        f"{word['chars_per_token']:.1f} characters each, and it sees whole phrases within one short window; "
        f"but it sees each rare word only a few times and cannot write a word outside its vocabulary"
        + (f", and it lumps {word['validation']['unk_rate']:.1%} of the validation words into <unk>, which "
           f"makes its figures look a little better than they are" if word["validation"]["unk_rate"] else "")
        + f". Given more time, both improve; the character model "
        f"mainly on spelling, the word model mainly on which words follow which "
        f"(real word pairs: {char['real_bigrams']:.0%} for characters, {word['real_bigrams']:.0%} for words)."
    )


def _show_side_by_side(say, results: dict, args: argparse.Namespace, prompt: str) -> None:
    """The two models' figures as one table, then each model's greedy and temperature samples."""
    char, word = results["char"], results["word"]
    say(f"\n{'':34}{'characters':>12}{'words':>12}")
    rows = [
        ("vocabulary (tokens)", lambda r: f"{r['vocab_size']:,}"),
        ("characters per token", lambda r: f"{r['chars_per_token']:.2f}"),
        ("validation bits per character", lambda r: f"{r['validation']['bits_per_char']:.3f}"),
        ("validation perplexity per word", lambda r: f"{r['validation']['ppl_word']:.1f}"),
        ("validation <unk> rate", lambda r: f"{r['validation']['unk_rate']:.2%}"),
        (f"samples (T={args.temperature:g}): real words", lambda r: f"{r['real_words']:.0%}"),
        ("samples: real word pairs", lambda r: f"{r['real_bigrams']:.0%}"),
        ("samples: distinct bigrams", lambda r: f"{r['distinct_2']:.0%}"),
        ("greedy: loops from token",
         lambda r: str(r["greedy_loop"]["start_token"] + 1) if r["greedy_loop"] else "no loop"),
    ]
    for label, cell in rows:
        say(f"{label:34}{cell(char):>12}{cell(word):>12}")

    for name, r in results.items():
        loop = r["greedy_loop"]
        say(f"\n--- {name} model, greedy ---")
        say(show_text(r["greedy_shown"]))
        if loop:
            say(f"  -> loops from token {loop['start_token'] + 1}: \"{describe_ngram(loop['ngram'])}\" "
                f"x {loop['repeats']:.1f}")
        say(f"--- {name} model, temperature {args.temperature:g} ---")
        say(show_text("..." + r["samples"][0][len(prompt):]))
    if char["invented"]:
        say(f"\nwords the character model made up: {', '.join(char['invented'])}")


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    say = Report(out)
    SampleConfig(temperature=args.temperature).validate()
    for name in ("samples", "sample_chars"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.book is None:  # judge both on one book: a reused model's own, else the default
        from wordgen.training.checkpoint import load_config

        reused = args.word_checkpoint or args.char_checkpoint
        args.book = load_config(Path(reused)).corpus if reused else DEFAULT_BOOK

    models = {
        "char": obtain_model(args, tokenizer="char", out=out / "char", checkpoint=args.char_checkpoint),
        "word": obtain_model(args, tokenizer=args.word_tokenizer, out=out / "word", checkpoint=args.word_checkpoint),
    }
    say(f"book: {args.book}")
    index = NgramIndex.from_texts(models["word"].dataset["train"]["text"])
    prompt = prompt_text(args, models["word"])
    say("prompt:\n" + (show_text(prompt) if prompt.strip() else "  (none: a new line)"))
    results = {}
    for name, model in models.items():
        bundle = model.bundle
        say(f"{name}: {model.describe()}")
        metrics = evaluate_validation(model, args.eval_chars)  # the same text for both
        chars_per_token = metrics.num_chars / metrics.num_tokens
        max_tokens = max(1, round(args.sample_chars / chars_per_token))
        results[name] = {
            "checkpoint": bundle.config.out, "vocab_size": bundle.tokenizer.vocab_size,
            "train_seconds": model.trained.seconds if model.trained else None,
            "time_budget": bundle.config.time_budget, "max_steps": bundle.config.max_steps,
            "validation": metrics.to_dict(), "chars_per_token": chars_per_token, "sample_tokens": max_tokens,
            **sample_stats(model, prompt, max_tokens, args, index),
        }
    char, word = results["char"], results["word"]

    _show_side_by_side(say, results, args, prompt)

    if all(m.trained for m in models.values()):
        budget = f"{args.time_budget:g} s each" + (f" (at most {args.max_steps} steps)" if args.max_steps else "")
    else:  # a reused model brings its own budget: say which, since it may differ
        budget = "the budgets their checkpoints record (" + ", ".join(
            f"{n}: {r['time_budget'] or '-'} s / {r['max_steps'] or '-'} steps" for n, r in results.items()) + ")"
    say("\n" + explain(char, word, budget))
    say(f"\noutputs: {out}/  (report.txt, results.json); finished in {time.perf_counter() - start:.0f} s")
    say.save({"book": args.book, **results})


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
