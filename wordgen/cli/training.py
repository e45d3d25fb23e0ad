"""The commands that train: `wordgen lab`, `train` and `compare`; each prints what it did.

Not here: parsing (wordgen.options), the training itself (wordgen.training).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from wordgen import lab
from wordgen.cli.common import print_metrics, refuse_missing_device
from wordgen.config import TrainConfig
from wordgen.errors import CorpusError, WordgenError
from wordgen.options import command_base, flags_for, settings_from


def _run_training(config: TrainConfig, *, sources: dict[str, str] | None = None, resume: bool = False,
                  overwrite: bool = False, quiet: bool = False):
    from wordgen.training.loop import train  # imported late: `wordgen corpora --help` stays instant

    speaks = os.environ.get("RANK", "0") in ("", "0")  # of a torchrun run's processes, rank 0 speaks
    result = train(config, sources=sources, resume=resume, overwrite=overwrite, progress=not quiet,
                   log=lambda line: print(line, flush=True) if speaks else None)
    if not speaks:
        return result
    model = result.bundle.model
    done = (f"resumed at step {result.start_step}, trained {result.steps - result.start_step} more to step "
            f"{result.steps}" if result.start_step else f"trained {result.steps} steps")
    print(f"{done}, {result.tokens_seen:,} tokens in {result.seconds:.0f} s "
          f"({result.tokens_per_second:,.0f} tokens/s); {model.num_parameters():,} parameters, "
          f"vocabulary {result.bundle.tokenizer.vocab_size:,}, {result.bundle.config.precision}")
    if result.early_stop is not None:
        print(result.early_stop.describe())
    return result


# The settings a resumed run takes from the command line: how long it goes on.
RESUMABLE_LIMITS = ("time_budget", "epochs", "max_steps", "max_chars")


def _train_settings(args) -> tuple[TrainConfig, dict[str, str]]:
    """The run's TrainConfig and the fields the command line set in it.

    A new run: the flags over TrainConfig's defaults. --resume DIR: the saved run, with the
    stop limits and the timeout the command line gives (a resumed run keeps its settings).
    """
    if not args.resume:
        config, sources = settings_from(args, command_base("train"))
        return config, {"out": "command", **sources}  # `wordgen train` has no default folder
    from wordgen.training.checkpoint import load_config

    _, given = settings_from(args, TrainConfig())
    limits = {name: getattr(args, name) for name in RESUMABLE_LIMITS if name in given}
    ignored = [path for path in given if path not in (*RESUMABLE_LIMITS, "dist_timeout")]
    if ignored:
        raise WordgenError(f"--resume continues the saved run with its own settings and would ignore "
                           f"{', '.join(flags_for(TrainConfig(), ignored))}; to train from this checkpoint on "
                           f"new text or with new settings, start a new run: --init {args.resume} --out NEW_DIR")
    config = replace(load_config(Path(args.resume)), **limits, out=args.resume, dist_timeout=args.dist_timeout)
    return config, {name: "flag" for name in (*limits, "dist_timeout") if name in given}


def cmd_train(args) -> None:
    refuse_missing_device(args)
    if args.nproc is not None and args.nproc != 1 and not args.dry_run:
        from wordgen.distributed import in_torchrun, launch

        if in_torchrun():
            raise WordgenError("--nproc starts torchrun itself; under torchrun leave it out")
        if not args.resume and not args.out:
            raise WordgenError("say where to write the checkpoint: --out DIR (or continue one with --resume DIR)")
        # The copies run this same command line; the --nproc 1 added last (argparse keeps the
        # last value) makes each of them one process of the run.
        launch([*args.argv, "--nproc", "1"], args.nproc)
        return
    config, sources = _train_settings(args)
    if args.dry_run:
        from wordgen.training.plan import plan_run

        for line in plan_run(config, sources=sources).describe():
            print(line)
        return
    if not config.out:
        raise WordgenError("say where to write the checkpoint: --out DIR (or continue one with --resume DIR)")
    result = _run_training(config, sources=sources, resume=bool(args.resume),
                           overwrite=args.overwrite and not args.resume,
                           quiet=args.quiet)
    if not result.rank:
        print(f"checkpoint: {config.out}")


def cmd_lab(args) -> None:
    from wordgen.analysis.copying import EXPLAIN, CopyIndex
    from wordgen.lab import draw_samples, score_validation
    from wordgen.tasks import book_settings, default_prompt

    start = time.perf_counter()
    refuse_missing_device(args)
    samplers = lab.lab_samplers(top_k=args.top_k, top_p=args.top_p)  # checked before training
    # The same settings and default prompt as `python -m wordgen.tasks.word_level_book --book` and the notebook.
    config, sources = book_settings(args.corpus, args)
    result = _run_training(config, sources=sources, overwrite=True)
    prompt = default_prompt(config.corpus, result.dataset) if args.prompt is None else args.prompt
    metrics = score_validation(result.bundle, result.dataset)
    print()
    print_metrics("validation (whole split, best checkpoint)", metrics)
    try:
        copies_of = CopyIndex.from_split(result.dataset["train"])
    except CorpusError as err:  # a corpus too large to index: the samples come without
        copies_of = None
        print(f"\n(no copied stretches: {err})")
    for sample in draw_samples(result.bundle, prompt, samplers, max_tokens=args.max_tokens, seed=config.seed,
                               copies_of=copies_of):
        print(f"\n--- {sample.sampler.describe()} ---{_describe_loop(sample)}\n{sample.text.strip()}")
        if not sample.continuation.strip():  # else it would look as if nothing came out
            print(f"({len(sample.continuation)} whitespace characters and nothing else)")
        if sample.copies is not None:
            print(f"[{sample.copies.describe()}]")
    if copies_of is not None:
        print(f"\n(copied stretches: {EXPLAIN})")
    print(f"\ncheckpoint: {config.out}   (wordgen generate {config.out} --prompt ...)")
    print(f"lab finished in {time.perf_counter() - start:.0f} s")


def _describe_loop(sample) -> str:
    """'   [loops from token N: "of the king" over and over]', or '' for a sample without a loop."""
    from wordgen.analysis.textstats import describe_ngram

    if sample.loop is None:
        return ""
    return f'   [loops from token {sample.loop.start + 1}: "{describe_ngram(sample.loop.ngram)}" over and over]'


def cmd_compare(args) -> None:
    from wordgen.compare import CompareSettings, compare, parse_tokenizer_list, summary

    base, given = settings_from(args, command_base("compare"))
    settings = CompareSettings(
        base=replace(base, tokenizer=None, out=args.out),  # each run has its own tokenizer and folder
        tokenizers=parse_tokenizer_list(args.tokenizers), out=args.out,
        match="params" if args.params is not None else args.match, params=args.params, recipe=args.recipe,
        unk_penalty=args.unk_penalty, eval_corpus=args.eval_corpus, eval_chars=args.eval_chars or None,
        prompt=args.prompt, sample_chars=args.sample_chars, temperature=args.temperature, overwrite=args.overwrite,
        seeds=args.seeds, sources={"eval_interval": "command", **given},  # compare's own eval_interval default
    )
    comparison = compare(settings, progress=not args.quiet, log=lambda line: print(line, flush=True))
    print()
    print(summary(comparison))
    print(f"\nfinished in {comparison.seconds:.0f} s; report: {comparison.files['report.md']}")
    for key in ("results.csv", "results.json", "comparison.png"):
        print(f"        {comparison.files[key]}")
