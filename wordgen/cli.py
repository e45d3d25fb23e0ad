"""The `wordgen` command: the only module that parses arguments or prints (the option
tables themselves are in options.py, built from the settings' fields).

    wordgen lab [--corpus BOOK]          train a word model on Shakespeare or your book, then show every sampler
    wordgen train --corpus X --out DIR   train on any corpus with any tokenizer
    wordgen generate DIR --prompt TEXT   sample text from a checkpoint, printed as it comes (or --output FILE)
    wordgen evaluate DIR --corpus X      bits per character / perplexity per word on held-out text
    wordgen corpora                      list the built-in corpora and plays
    wordgen serve DIR [DIR]              a local web playground over one or two checkpoints

Bad input (a missing file, an unknown tokenizer, a negative temperature, a
damaged checkpoint, a device this machine lacks, an option argparse cannot read...)
prints one line, `wordgen: error: ...`, and exits with status 2 -- no traceback, and
nothing already saved is touched; the settings a library error names (`TrainConfig.epochs`)
are shown as their flags (`--epochs`). A runtime failure (a full disk, a process of a
multi-process run lost, a crash) is one line too, with status 1; WORDGEN_DEBUG=1 shows a
crash's traceback instead. The statuses per error kind: wordgen.errors. Ctrl-C or SIGTERM
during training finishes the step, saves, prints `wordgen: interrupted at step N; resume
with: ...` and exits with 130 / 143 (wordgen.training.stopping).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

from wordgen import lab
from wordgen.config import SampleConfig, TrainConfig
from wordgen.errors import DEBUG_VARIABLE, CorpusError, StorageError, UsageError, WordgenError, failure_line
from wordgen.options import build_parser, command_base, for_command_line, resume_command, settings_from
from wordgen.training.stopping import Interrupted, exit_on_next_signal, sigterm_interrupts

# ---------------------------------------------------------------- commands


def _print_metrics(title: str, metrics) -> None:
    print(f"{title}: {metrics.num_tokens:,} tokens, {metrics.num_chars:,} characters, {metrics.num_words:,} words")
    print(f"  perplexity per token  {metrics.ppl_token:10.2f}")
    print(f"  bits per character    {metrics.bits_per_char:10.3f}")
    print(f"  perplexity per word   {metrics.ppl_word:10.2f}")
    if metrics.num_unk:
        print(f"  <unk> rate            {metrics.unk_rate:10.2%}   (unseen words share one <unk>: "
              "the figures above are optimistic)")


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
    limits = {name: getattr(args, name) for name in ("time_budget", "epochs", "max_steps", "max_chars")
              if name in given}
    config = replace(load_config(Path(args.resume)), **limits, out=args.resume, dist_timeout=args.dist_timeout)
    return config, {name: "flag" for name in (*limits, "dist_timeout") if name in given}


def _refuse_missing_device(args) -> None:
    """A device this machine lacks (--device mps / cuda without one) is refused before any work."""
    from wordgen.device import resolve_device

    resolve_device(args.device)


def cmd_train(args) -> None:
    _refuse_missing_device(args)
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
    _refuse_missing_device(args)
    samplers = lab.lab_samplers(top_k=args.top_k, top_p=args.top_p)  # checked before training
    # The same settings and default prompt as `python -m wordgen.tasks.word_level_book --book` and the notebook.
    config, sources = book_settings(args.corpus, args)
    result = _run_training(config, sources=sources, overwrite=True)
    prompt = default_prompt(config.corpus, result.dataset) if args.prompt is None else args.prompt
    metrics = score_validation(result.bundle, result.dataset)
    print()
    _print_metrics("validation (whole split, best checkpoint)", metrics)
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


def cmd_generate(args) -> None:
    from wordgen.generation.decode import stream
    from wordgen.training.checkpoint import Bundle

    sample, _ = settings_from(args, SampleConfig())
    sample.validate()  # before loading anything: bad settings fail fast
    if args.max_tokens < 0:
        raise WordgenError(f"--max-tokens must be >= 0, got {args.max_tokens}")
    if args.num_samples < 1:
        raise WordgenError(f"--num-samples must be at least 1, got {args.num_samples}")
    prompt = _read_prompt_file(args.prompt_file) if args.prompt_file else args.prompt
    output = Path(args.output).expanduser() if args.output else None
    if output and output.is_dir():
        raise UsageError(f"--output {args.output} is a folder; give the name of the file to write")
    cache = _neural_cache(args)  # before loading anything: bad settings fail fast
    if args.against and not args.copies:
        raise UsageError("--against only applies with --copies")
    _refuse_missing_device(args)
    bundle = Bundle.load(args.checkpoint, device=args.device)
    copies_of = _copy_index(args.against, bundle.config) if args.copies else None
    out = io.StringIO() if output else sys.stdout  # a file is written whole at the end, never half
    for i in range(args.num_samples):
        # One sample at a time so each is printed as it is drawn; sample i uses
        # seed + i, so `--num-samples 3` repeats `--seed S`, `S+1`, `S+2`.
        if args.num_samples > 1:
            out.write(f"--- sample {i + 1} ---\n")
        out.write(prompt)
        pieces = []
        for (piece,) in stream(bundle.model, bundle.tokenizer, prompt, max_tokens=args.max_tokens,
                               sample=sample, seed=args.seed + i, cache=cache):
            out.write(piece)
            out.flush()
            pieces.append(piece)
        out.write("\n")
        if copies_of is not None:
            out.write(f"[{copies_of.copies(''.join(pieces)).describe()}]\n")
    if output:
        from wordgen import _io

        try:
            _io.atomic_write_text(output, out.getvalue())
        except OSError as err:
            raise StorageError(f"cannot write {output} ({err.strerror or _io.first_line(err)})") from None
        samples = f"{args.num_samples} samples" if args.num_samples > 1 else "the sample"
        print(f"wrote {samples} to {output}")


def _copy_index(against: str | None, config):
    """The index --copies looks in: the file --against names, else the checkpoint's own training text."""
    from wordgen.analysis.copying import CopyIndex

    if against is None:
        return CopyIndex.from_training_corpus(config)
    from wordgen.corpora import read_text_file

    return CopyIndex.from_texts([read_text_file(Path(against))])


def _read_prompt_file(name: str) -> str:
    """The text of --prompt-file, exactly (line breaks as they are, the last one included): the prompt."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise UsageError(f"--prompt-file {name} is a folder; give a text file")
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--prompt-file {name} does not exist") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"--prompt-file {name} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise UsageError(f"cannot read --prompt-file {name} ({err.strerror or err})") from None


def cmd_evaluate(args) -> None:
    from wordgen._io import default_cache_dir
    from wordgen.corpora import load_corpus
    from wordgen.evaluate import evaluate_corpus, evaluate_split, evaluate_text
    from wordgen.training.checkpoint import Bundle

    cache = _neural_cache(args)  # before loading anything: bad settings fail fast
    _refuse_missing_device(args)
    bundle = Bundle.load(args.checkpoint, device=args.device)
    if args.text_file:
        from wordgen.corpora import read_text_file

        text = read_text_file(Path(args.text_file))
        metrics = evaluate_text(bundle.model, bundle.tokenizer, text, cache=cache)
        title = args.text_file
    else:
        own = bundle.config.corpus
        corpus = args.corpus or own
        stage = args.stage_directions or bundle.config.stage_directions
        streaming = args.streaming or bundle.config.streaming
        dataset = load_corpus(corpus, seed=bundle.config.seed, stage_directions=stage, streaming=streaming)
        if args.split or _same_corpus(corpus, own):
            split = args.split or "test"
            # Through the cache: a large split is encoded once into a token store and scored from the map.
            metrics = evaluate_split(bundle.model, bundle.tokenizer, dataset[split], cache_dir=default_cache_dir(),
                                     cache=cache)
            title = f"{corpus} [{split} split" + ("" if _same_corpus(corpus, own) else
                                                  f" of a corpus this model was not trained on ({own})") + "]"
        else:
            metrics = evaluate_corpus(bundle.model, bundle.tokenizer, dataset, cache=cache)
            title = (f"{corpus} [whole text, all {metrics.num_chars:,} characters: not this model's training "
                     f"corpus ({own}); if the model saw part of it in training, the figures are optimistic]")
    if cache is not None:
        title += f" (with the neural cache: window {cache.window}, theta {cache.theta:g}, lambda {cache.lam:g})"
    if args.json:
        print(json.dumps({"text": title, **metrics.to_dict(), "cache": _cache_dict(cache)}, indent=2))
    else:
        _print_metrics(title, metrics)


def _neural_cache(args):
    """The neural cache that --cache asks for (wordgen.generation.cache), or None."""
    given = [f"--cache-{name}" for name in ("window", "theta", "lambda") if getattr(args, f"cache_{name}") is not None]
    if not args.cache:
        if given:
            raise UsageError(f"{given[0]} only applies with --cache")
        return None
    from wordgen.generation.cache import Cache

    return Cache(**{k: v for k, v in (("window", args.cache_window), ("theta", args.cache_theta),
                                       ("lam", args.cache_lambda)) if v is not None})


def _cache_dict(cache) -> dict | None:
    return None if cache is None else {"window": cache.window, "theta": cache.theta, "lambda": cache.lam}


def _same_corpus(spec: str, own: str) -> bool:
    """Whether `spec` names the checkpoint's own corpus (the same spec, or the same file or folder)."""
    if spec.strip() == own.strip():
        return True
    a, b = Path(spec.strip()).expanduser(), Path(own.strip()).expanduser()
    try:
        return a.exists() and b.exists() and a.resolve() == b.resolve()
    except OSError:
        return False


def cmd_corpora(args) -> None:
    from wordgen.corpora import list_builtin_corpora, list_shakespeare_plays

    for name, description in list_builtin_corpora():
        print(f"{name:14} {description}")
    print("\nplays (use as shakespeare:SLUG):")
    for slug in list_shakespeare_plays():
        print(f"  {slug}")
    print("\nalso: a path to a .txt file, a folder or a glob; or hf:NAME[:CONFIG] for a Hugging Face dataset")


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


def cmd_serve(args) -> None:
    try:  # the serve extra is optional: the rest of wordgen works without it
        from wordgen.serve.app import create_app
        from wordgen.serve.server import bind, run
    except ImportError as err:
        raise WordgenError(f"wordgen serve needs {err.name or 'fastapi and uvicorn'}: "
                           'pip install -e ".[serve]"') from None
    from wordgen.serve.playground import Limits, Playground

    if args.max_concurrent < 1:
        raise WordgenError(f"--max-concurrent must be at least 1, got {args.max_concurrent}")
    _refuse_missing_device(args)
    sock = bind(args.host, args.port)  # before loading: a port in use fails at once
    try:
        # The page marks unknown words as <unk> itself; a warning per request would flood this terminal.
        warnings.filterwarnings("ignore", message="prompt words not in the vocabulary")
        playground = Playground.load(args.checkpoints, device=args.device,
                                     limits=Limits(max_concurrent=args.max_concurrent))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"wordgen playground: http://{shown}:{port}/  ({', '.join(playground.bundles)})")
        if host in ("127.0.0.1", "::1"):
            print("listening on loopback only: other machines cannot reach it (--host 0.0.0.0 opens it)")
        else:
            print(f"listening on {host}: other machines on the network can reach it, and there is no login")
        print("Ctrl-C stops it", flush=True)
        try:
            run(create_app(playground), sock)
        finally:
            playground.close()
    finally:
        sock.close()


COMMANDS = {"lab": cmd_lab, "train": cmd_train, "generate": cmd_generate,
            "evaluate": cmd_evaluate, "corpora": cmd_corpora, "compare": cmd_compare, "serve": cmd_serve}


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"wordgen: warning: {message}", file=sys.stderr)


def _import_plugins(modules: list[str]) -> None:
    import importlib

    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `--plugin mytok` finds ./mytok.py, as `python -m` would
    for name in modules:
        try:
            importlib.import_module(name.removesuffix(".py"))
        except ImportError as err:
            raise WordgenError(f"cannot import plugin {name!r}: {err}") from None


def _error_line(message: str) -> None:
    # One write of the whole line: the processes of a torchrun run share one stderr, and
    # separate writes of the text and its newline interleave with each other's.
    sys.stderr.write(f"wordgen: error: {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _show_warning
    with sigterm_interrupts():  # also puts the signal handlers back as found when main returns
        try:
            args = build_parser().parse_args(argv)
            args.argv = argv  # `train --nproc N` starts N copies of this command line
            _import_plugins(args.plugin)
            COMMANDS[args.command](args)
        except WordgenError as err:
            _error_line(for_command_line(err))
            return err.exit_code
        except Interrupted as err:  # before KeyboardInterrupt, which it subclasses
            exit_on_next_signal()
            if os.environ.get("RANK", "0") in ("", "0"):  # one process of a torchrun run speaks for all
                print(f"wordgen: {err.describe(resume_command(err.checkpoint))}", file=sys.stderr)
            return err.exit_code
        except KeyboardInterrupt:
            exit_on_next_signal()
            print("wordgen: interrupted; files already saved are intact", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `wordgen generate ... | head`
            return 0
        except Exception as err:  # an OSError nothing wrapped, or a crash: a runtime failure
            if os.environ.get(DEBUG_VARIABLE) == "1":
                raise
            _error_line(failure_line(err))
            return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
