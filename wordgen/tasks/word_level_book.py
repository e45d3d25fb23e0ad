"""The lab itself: take a book, train a word-level generator on it, and look at what each sampler writes.

    python -m wordgen.tasks.word_level_book                          # Shakespeare, 150 s of training
    python -m wordgen.tasks.word_level_book --book alice.txt         # any Project Gutenberg .txt as downloaded

Trains a word-level LSTM (or reuses one with --checkpoint), prints its
validation metrics, then generates from one prompt with greedy decoding (and
points out where it falls into a loop, and which n-gram it repeats),
the lab's temperatures (wordgen.lab), top-k and top-p. It is the same run as
`wordgen lab --corpus BOOK`: the same settings (`book_settings`), default prompt
(`default_prompt`), samplers, sample length and scoring on the whole validation
split; this task prints a longer report and can reuse a model. Writes
runs/word_level_book/{model/, report.txt, results.json}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wordgen import lab
from wordgen.analysis.copying import EXPLAIN, CopyIndex
from wordgen.analysis.textstats import describe_ngram, text_tokens
from wordgen.lab import draw_samples
from wordgen.tasks import (
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

PROG = "python -m wordgen.tasks.word_level_book"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The word-level text generation lab: train on any book, then compare greedy decoding "
                    "(its loop found and shown) with temperature, top-k and top-p sampling.",
        epilog="Example: python -m wordgen.tasks.word_level_book --book pg11.txt --prompt 'Alice was'\n"
               "Reuse the model afterwards: --checkpoint runs/word_level_book/model",
    )
    add_book_option(p, default=None)
    p.add_argument("--tokenizer", default=WORD_TOKENIZER,
                   help=f"the tokenizer to train with (default: {WORD_TOKENIZER})")
    add_prompt_option(p)
    p.add_argument("--max-tokens", type=int, default=lab.LAB_MAX_TOKENS,
                   help=f"words (tokens) per sample (default: {lab.LAB_MAX_TOKENS})")
    p.add_argument("--top-k", type=int, default=lab.LAB_TOP_K,
                   help=f"k for the top-k sample (default: {lab.LAB_TOP_K})")
    p.add_argument("--top-p", type=float, default=lab.LAB_TOP_P,
                   help=f"p for the top-p sample (default: {lab.LAB_TOP_P})")
    add_training_options(p, time_budget=lab.LAB_TIME_BUDGET, eval_chars=0)  # all of it, as the lab
    add_out_option(p, "word_level_book")
    return p


def describe_loop(loop, num_tokens: int) -> str:
    if loop is None:
        return "no loop (no stretch of the sample repeats itself 3 times)"
    until = "to the end of the sample" if loop.end == num_tokens else f"until token {loop.end}"
    return (f"LOOP from token {loop.start + 1} (character {loop.char_start + 1}) of the continuation: "
            f"the {loop.period}-gram \"{describe_ngram(loop.ngram)}\" repeats {loop.repeats:.1f} times, {until}")


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    say = Report(out)
    samplers = lab.lab_samplers(top_k=args.top_k, top_p=args.top_p)  # checked before minutes of training

    model = obtain_model(args, tokenizer=args.tokenizer, out=out / "model", checkpoint=args.checkpoint)
    bundle = model.bundle
    say(f"book: {model.book}")
    say(model.describe())
    metrics = evaluate_validation(model, args.eval_chars)
    say(f"validation text: {metrics.num_words:,} words, {metrics.num_chars:,} characters")
    say(f"  bits per character   {metrics.bits_per_char:8.3f}")
    say(f"  perplexity per word  {metrics.ppl_word:8.1f}")
    say(f"  perplexity per token {metrics.ppl_token:8.1f}")
    say(f"  <unk> rate           {metrics.unk_rate:8.2%}   (all unknown words share one <unk>, "
        "which flatters the two perplexities)")

    prompt = prompt_text(args, model)
    opening = " (the opening of the validation text)" if args.prompt is None and prompt != lab.LAB_PROMPT else ""
    say(f"\nprompt{opening}:\n" + (show_text(prompt) if prompt.strip() else "  (none: a new line)"))
    say(f"every sampler continues it with seed {args.seed}, so where two samples differ, the sampler made "
        "the difference")
    copies_of = CopyIndex.from_split(model.dataset["train"])  # as the lab does: is a sample copying the book?
    samples = draw_samples(bundle, prompt, samplers, max_tokens=args.max_tokens, seed=args.seed, copies_of=copies_of)
    for sample in samples:
        say(f"\n--- {sample.sampler.describe()} ---")
        say(show_text("..." + mark_loop(sample.continuation, sample.loop)))  # the point where it turns, marked
        tokens = text_tokens(sample.continuation)
        say(f"  -> {describe_loop(sample.loop, len(tokens))}; distinct bigrams {sample.distinct_2:.0%}")
        say(f"  -> {sample.copies.describe()}")
    say(f"\n(copied stretches: {EXPLAIN})")

    greedy_loop = samples[0].loop
    say("\nWhat to notice: greedy decoding always takes the most likely word, so as soon as the model's state "
        "comes back to where it was, the same words follow again" +
        ((" -- here from its very first token." if greedy_loop.start == 0 else
          f" -- here after {greedy_loop.start} tokens of the continuation.") if greedy_loop else
         " (this sample did not loop within its length; try --max-tokens 200).") +
        " Low temperatures stay close to that; around 0.8-1.0 the text varies and reads most like the "
        "book; at 1.8 rare words become almost as likely as common ones and the text falls apart. "
        "Top-k and top-p sample at temperature 1 but cut off the unlikely tail: variety with fewer "
        "wild words.")
    say(f"\noutputs: {out}/  (model/, report.txt, results.json); finished in {time.perf_counter() - start:.0f} s")
    say.save({
        "book": model.book, "checkpoint": str(out / "model") if model.trained else args.checkpoint,
        "validation": metrics.to_dict(), "prompt": prompt, "samples": [s.to_dict() for s in samples],
        "train_seconds": model.trained.seconds if model.trained else None,
    })


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
