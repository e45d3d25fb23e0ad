"""The lab itself: take a book, train a word-level generator on it, and look at what each sampler writes.

    python -m wordgen.tasks.word_level_book                          # Shakespeare, 150 s of training
    python -m wordgen.tasks.word_level_book --book alice.txt         # any Project Gutenberg .txt as downloaded
    python -m wordgen.tasks.word_level_book --base none              # only the model from scratch

Trains a word-level LSTM (or reuses one with --checkpoint), prints its
validation metrics, then generates from one prompt with greedy decoding (and
points out where it falls into a loop, and which n-gram it repeats),
the lab's temperatures (wordgen.lab), top-k and top-p. It is the same run as
`wordgen lab --corpus BOOK`: the same settings (`book_settings`), default prompt
(`default_prompt`), samplers, sample length and scoring on the whole validation
split; this task prints a longer report and can reuse a model.

Beside it, the task fine-tunes a shipped base model on the same book with the same
budget (--time-budget, --max-steps, --batch-size, --seq-len, --seed: the same text and
the same stop): --base, by default base:word for a word tokenizer and base:bpe for a BPE
one (none for others). The base keeps its own shape, optimizer and learning rate
(wordgen.training.finetune), so the size flags shape only the model from scratch. The
report puts both scores in one table and each sampler's two samples one under the other,
"from scratch" and "fine-tuned from SPEC". A bad --base (unknown, or of another kind than
the tokenizer) is refused before any training. --base none gives the single-model run.
--checkpoint reuses one model and compares nothing (a --base beside it is refused): the
budget a comparison needs is the one that trained the model, which the task does not know.

Writes runs/word_level_book/{model/, finetuned/, report.txt, results.json}; results.json's
"base" block (null without a comparison) holds the base's spec, its weights' SHA-256 as the
fine-tuned config.json records it, the fine-tuned model's validation metrics and samples,
and how its vocabulary grew.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wordgen import lab
from wordgen.analysis.copying import EXPLAIN, CopyIndex
from wordgen.analysis.textstats import describe_ngram, text_tokens
from wordgen.device import resolve_device
from wordgen.errors import UsageError
from wordgen.lab import draw_samples
from wordgen.tasks import (
    WORD_TOKENIZER,
    Model,
    Report,
    add_book_option,
    add_out_option,
    add_prompt_option,
    add_training_options,
    evaluate_validation,
    fine_tune_model,
    mark_loop,
    obtain_model,
    open_base,
    prompt_text,
    run_task,
    show_text,
)
from wordgen.tokenization.registry import parse_tokenizer_spec

PROG = "python -m wordgen.tasks.word_level_book"
DEFAULT_BASES = {"word": "base:word", "bpe": "base:bpe"}  # by the kind of --tokenizer; other kinds: none
SCRATCH = "from scratch"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The word-level text generation lab: train on any book, from scratch and (with the same "
                    "budget) from a shipped base model, then compare greedy decoding (its loop found and shown) "
                    "with temperature, top-k and top-p sampling, the two models' samples side by side.",
        epilog="Example: python -m wordgen.tasks.word_level_book --book pg11.txt --prompt 'Alice was'\n"
               "Only the model from scratch, as fast as before: --base none\n"
               "Reuse the model afterwards (one model, no comparison): --checkpoint runs/word_level_book/model",
    )
    add_book_option(p, default=None)
    p.add_argument("--tokenizer", default=WORD_TOKENIZER,
                   help=f"the tokenizer to train with (default: {WORD_TOKENIZER})")
    p.add_argument("--base", default=None, metavar="SPEC",
                   help="also fine-tune this base model on the book with the same budget, and compare it with the "
                        "model from scratch: base:word, base:bpe, a checkpoint folder or hf:ORG/NAME, of the "
                        "tokenizer's kind; it keeps its own shape, so the size options shape only the model from "
                        "scratch; 'none' trains only that one (default: base:word for a word tokenizer, base:bpe "
                        "for a bpe one, else none; none with --checkpoint, which refuses a --base)")
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


def base_spec(args: argparse.Namespace) -> str | None:
    """The --base to compare against, None for none (module docstring)."""
    if args.checkpoint:
        if args.base not in (None, "none"):
            raise UsageError("--base trains a model from the base beside one from scratch; --checkpoint reuses a "
                             "trained model and compares nothing: give one of them")
        return None
    if args.base is None:
        return DEFAULT_BASES.get(parse_tokenizer_spec(args.tokenizer)[0])
    return None if args.base == "none" else args.base


def say_scores(say: Report, labels: list[str], metrics: list) -> None:
    """The validation figures: one column per model, headed by its label when there are two."""
    widths = [max(8, len(label)) for label in labels]
    if len(labels) > 1:
        say("  " + " " * 21 + "  ".join(label.rjust(w) for label, w in zip(labels, widths)))
    rows = [("bits per character", lambda m: f"{m.bits_per_char:.3f}"),
            ("perplexity per word", lambda m: f"{m.ppl_word:.1f}"),
            ("perplexity per token", lambda m: f"{m.ppl_token:.1f}"),
            ("<unk> rate", lambda m: f"{m.unk_rate:.2%}")]
    for name, value in rows:
        line = f"  {name:20} " + "  ".join(value(m).rjust(w) for m, w in zip(metrics, widths))
        say(line + ("   (all unknown words share one <unk>, which flatters the two perplexities)"
                    if name == "<unk> rate" and len(labels) == 1 else ""))
    if len(labels) > 1:
        say("  (all unknown words share one <unk>, which flatters the two perplexities; bits per character")
        say("  compare the two fairly, perplexity per token does not: their vocabularies differ)")


def say_samples(say: Report, samplers: list, labels: list[str], drawn: list[list]) -> None:
    """Each sampler's samples, one per model (`drawn[m][i]`: model m, sampler i), labelled when there are two."""
    for i, sampler in enumerate(samplers):
        say(f"\n--- {sampler.describe()} ---")
        for label, samples in zip(labels, drawn):
            sample = samples[i]
            if len(labels) > 1:
                say(f"{label}:")
            say(show_text("..." + mark_loop(sample.continuation, sample.loop)))  # the point where it turns, marked
            tokens = text_tokens(sample.continuation)
            say(f"  -> {describe_loop(sample.loop, len(tokens))}; distinct bigrams {sample.distinct_2:.0%}")
            say(f"  -> {sample.copies.describe()}")


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    say = Report(out)
    samplers = lab.lab_samplers(top_k=args.top_k, top_p=args.top_p)  # checked before minutes of training
    resolve_device(args.device)  # a device this machine lacks is refused before any work, the base's loading too
    spec = base_spec(args)
    base = open_base(spec, args.tokenizer) if spec else None  # a bad --base, likewise

    model = obtain_model(args, tokenizer=args.tokenizer, out=out / "model", checkpoint=args.checkpoint)
    models: list[Model] = [model]
    if base is not None:
        models.append(fine_tune_model(args, base, tokenizer=args.tokenizer, out=out / "finetuned",
                                      dataset=model.dataset))
    labels = [SCRATCH, f"fine-tuned from {spec}"][: len(models)]
    tuned = models[1] if len(models) > 1 else None
    say(f"book: {model.book}")
    if tuned is None:
        say(model.describe())
    else:
        for label, each in zip(labels, models):
            say(f"{label}: {each.describe()}")
        growth = tuned.trained.growth
        say(f"  base {spec}, weights SHA-256 {tuned.bundle.config.init_sha256[:12]}"
            + (f"; {growth.describe()}" if growth is not None else ""))
    metrics = [evaluate_validation(each, args.eval_chars) for each in models]
    say(f"validation text: {metrics[0].num_words:,} words, {metrics[0].num_chars:,} characters")
    say_scores(say, labels, metrics)

    prompt = prompt_text(args, model)
    opening = " (the opening of the validation text)" if args.prompt is None and prompt != lab.LAB_PROMPT else ""
    say(f"\nprompt{opening}:\n" + (show_text(prompt) if prompt.strip() else "  (none: a new line)"))
    say(f"every sampler continues it with seed {args.seed}, so where two samples differ, the sampler made "
        "the difference" + (" (or the model: each sampler's two samples follow each other)" if tuned else ""))
    copies_of = CopyIndex.from_split(model.dataset["train"])  # as the lab does: is a sample copying the book?
    drawn = [draw_samples(each.bundle, prompt, samplers, max_tokens=args.max_tokens, seed=args.seed,
                          copies_of=copies_of) for each in models]
    say_samples(say, samplers, labels, drawn)
    say(f"\n(copied stretches: {EXPLAIN})")

    samples = drawn[0]
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
    if tuned is not None:
        better = metrics[1].bits_per_char < metrics[0].bits_per_char
        say(f"\nThe base had read many books before this one, so the same budget went to this book's own words and "
            f"style instead of to English itself: here the fine-tuned model scores "
            f"{metrics[1].bits_per_char:.3f} bits per character against {metrics[0].bits_per_char:.3f} from "
            f"scratch ({'better' if better else 'not better: a longer budget or a longer book may change that'}). "
            "Compare the pairs above: which one keeps to the book, which one drifts?")
    folders = "model/, finetuned/" if tuned else "model/"
    say(f"\noutputs: {out}/  ({folders}, report.txt, results.json); finished in {time.perf_counter() - start:.0f} s")
    say.save({
        "book": model.book, "checkpoint": str(out / "model") if model.trained else args.checkpoint,
        "validation": metrics[0].to_dict(), "prompt": prompt, "samples": [s.to_dict() for s in samples],
        "train_seconds": model.trained.seconds if model.trained else None,
        "base": None if tuned is None else base_block(spec, tuned, metrics[1], drawn[1], out / "finetuned"),
    })


def base_block(spec: str, tuned: Model, metrics, samples, folder: Path) -> dict:
    """results.json's "base": the base's identity, and the fine-tuned model's scores, samples and vocabulary."""
    growth = tuned.trained.growth
    return {
        "spec": spec, "sha256": tuned.bundle.config.init_sha256, "checkpoint": str(folder),
        "validation": metrics.to_dict(), "samples": [s.to_dict() for s in samples],
        "train_seconds": tuned.trained.seconds, "steps": tuned.trained.steps,
        "vocabulary_added": None if growth is None else growth.added,
        "unk_book": None if growth is None else growth.unk_book,
        "unk_merged": None if growth is None else growth.unk_merged,
    }


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv, renames={"TrainConfig.init": "--base"})


if __name__ == "__main__":
    sys.exit(main())
