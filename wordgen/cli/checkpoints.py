"""The commands that use trained checkpoints: `wordgen generate`, `evaluate`, `serve`, and `corpora`.

Not here: parsing (wordgen.options), generation and scoring themselves (wordgen.generation, wordgen.evaluate).
"""

from __future__ import annotations

import io
import json
import shlex
import sys
import warnings
from pathlib import Path

from wordgen.cli.common import print_metrics, refuse_missing_device
from wordgen.config import SampleConfig
from wordgen.errors import StorageError, UsageError, WordgenError
from wordgen.options import settings_from


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
    refuse_missing_device(args)
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
    refuse_missing_device(args)
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
        print_metrics(title, metrics)


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
    refuse_missing_device(args)
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
        init = playground.info()["checkpoints"][0]["init"]
        if len(args.checkpoints) == 1 and init:
            print(f"fine-tuned from {init}: `wordgen serve {shlex.quote(args.checkpoints[0])} {shlex.quote(init)}` "
                  "shows it beside its base")
        print("Ctrl-C stops it", flush=True)
        try:
            run(create_app(playground), sock)
        finally:
            playground.close()
    finally:
        sock.close()
