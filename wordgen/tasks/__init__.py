"""The lab as runnable scripts: `python -m wordgen.tasks.NAME --help` for each.

    word_level_book     the lab itself: a book, from scratch and from a base; greedy loop vs temperature, top-k, top-p
    char_vs_word        the lesson's character model against the lab's word model, same budget
    tokenizer_sweep     BPE vocabulary size against bits per character and tokens per character
    embeddings          nearest neighbours and a 2-D map of the learned word embeddings
    temperature_study   loops, diversity, invented words and likelihood from T = 0.1 to 2.0

They come with the package, so they run from any folder. Each task finishes in under
five minutes on two CPU cores with its defaults, prints what it found, and writes its
outputs (checkpoints, report.txt, results.json, plots) under `runs/TASK/` of the current
folder (word_level_book trains two models by default, from scratch and from a shipped base,
each for the budget: twice the time, unless --base none). Tasks that train take
`--checkpoint DIR` to reuse a trained model instead.

This package holds what the tasks share: the training options (wordgen's own,
from wordgen.options), training or loading a model, error handling, and the report
that is printed and saved. Its "the lab on any book" part (`book_settings`,
`default_prompt`) is also what `wordgen lab --corpus BOOK` and the lab notebook run, so
a book gets the same run with the same defaults wherever it is started.
Everything a task computes comes from `wordgen` (the analysis in
`wordgen.analysis.textstats`, `wordgen.evaluate` and `wordgen.analysis.embeddings`); none of it lives here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wordgen import Bundle, Metrics, TrainConfig, WordgenError, lab, load_corpus, train
from wordgen.analysis.textstats import token_offsets
from wordgen.device import resolve_device
from wordgen.errors import DEBUG_VARIABLE, CheckpointError, UsageError, failure_line
from wordgen.lab import score_validation
from wordgen.memory import limit_arenas
from wordgen.options import add_settings, for_command_line, resume_command, settings_from
from wordgen.tokenization.registry import parse_tokenizer_spec
from wordgen.training.finetune import Base
from wordgen.training.plan import apply_settings, flat
from wordgen.training.stopping import Interrupted, exit_on_next_signal, sigterm_interrupts

DEFAULT_BOOK = lab.LAB_CORPUS
WORD_TOKENIZER = lab.WORD_TOKENIZER
# On a book other than the plays the default prompt is the opening of its validation text,
# at least this many words: the model continues a passage of the book it never saw. A one-word prompt ("The") leaves the
# LSTM's state almost where it started, and there a briefly trained model's next word is
# nearly uniform over the vocabulary (9.2 of at most 9.2 nats), so every sampler at T <= 1
# began with the same rare word; a few lines in, the state is informative.
PROMPT_WORDS = 8
PROMPT_DEFAULT_HELP = (f"{lab.LAB_PROMPT!r} on the built-in plays ({lab.LAB_CORPUS}), else the opening lines of "
                       f"the book's validation text, {PROMPT_WORDS}+ words")


# ---------------------------------------------------------------- options


def add_book_option(parser: argparse.ArgumentParser, default: str | None = DEFAULT_BOOK) -> None:
    parser.add_argument(
        "--book", default=default,
        help="the text to learn from: a built-in corpus (shakespeare, shakespeare:macbeth, ...; see "
             "`wordgen corpora`) or any .txt file -- a Project Gutenberg e-book works as downloaded"
             + (f" (default: {default})" if default else " (default: the checkpoint's own corpus, else "
                f"{DEFAULT_BOOK})"),
    )


def add_training_options(parser: argparse.ArgumentParser, *, time_budget: float, checkpoint: bool = True,
                         epochs: float | None = None, eval_chars: int = 100_000) -> None:
    """The options of every task that trains: budget, model size, batching, seed, progress bar.

    The training settings are wordgen's own options (wordgen.options) over the lab's
    config. With `epochs`, a model stops after that many passes over the book or at the
    time budget, whichever comes first (the budget then only guards a slow machine).
    """
    g = parser.add_argument_group("training")
    if checkpoint:
        g.add_argument("--checkpoint", metavar="DIR", default=None,
                       help="reuse the model in this checkpoint folder (from `wordgen train` or another task) "
                            "instead of training one")
    add_settings(g, lab.lab_train_config(time_budget=time_budget, epochs=epochs), [
        "time_budget", *(["epochs"] if epochs is not None else []), "max_steps", "model.embedding_dim",
        "model.hidden_size", "model.num_layers", "model.dropout", "batch_size", "seq_len", "seed", "device"])
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--eval-chars", type=int, default=eval_chars,
                   help="measure on the first this many characters of the validation split, cut at a line "
                        f"end; 0 means all of it (default: {eval_chars or 'all of it'})")


def add_prompt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", default=None,
                        help="text every sample continues; write \\n for a line break, '' to start at a new "
                             f"line (default: {PROMPT_DEFAULT_HELP})")


def prompt_text(args: argparse.Namespace, model: Model) -> str:
    """--prompt with a typed backslash-n made a line break, or by default `default_prompt` of the model's book."""
    if args.prompt is not None:
        return args.prompt.replace("\\n", "\n")
    return default_prompt(model.book, model.dataset)


def add_out_option(parser: argparse.ArgumentParser, task: str) -> None:
    parser.add_argument("--out", default=f"runs/{task}",
                        help=f"folder for this task's outputs; models it trains are replaced on each run "
                             f"(default: runs/{task})")


# ---------------------------------------------------------------- the lab on any book


# The lab's settings that a run from a base (--init) takes from the base instead: its shape, and
# the optimizer and learning rate of fine-tuning. Flags still set them.
FROM_BASE = ("model.embedding_dim", "model.hidden_size", "model.num_layers", "model.tie_weights", "optimizer", "lr",
             "grad_clip")


def book_settings(book: str, args: argparse.Namespace | None = None, task: dict | None = None, *,
                  base_wins: bool = False) -> tuple[TrainConfig, dict[str, str]]:
    """The lab's settings for `book` (wordgen.lab.task_config), then `task`'s own, then the flags in `args`.

    `wordgen lab --corpus BOOK`, every task that trains and the lab notebook start here.
    Returns the config and where each of its settings came from ("lab", "task", "flag"), for the plan.
    In a run from a base (`init`) the base's FROM_BASE settings replace the lab's, and with
    `base_wins` flags' too (where the flags size another model beside it, as in word_level_book).
    """
    config, sources = lab.task_config(book)
    if book == lab.LAB_CORPUS:
        sources["corpus"] = "lab"  # the lab's own book, not a choice of the task's
    if task:
        config, sources = apply_settings(config, task, "task", sources)
    if args is not None:
        config, given = settings_from(args, config)
        sources = {**sources, **given}
    if config.init:  # a base brings its own shape and recipe (wordgen.training.finetune): the lab's yield
        defaults = flat(TrainConfig())
        reset = {name: defaults[name] for name in FROM_BASE if base_wins or sources.get(name) != "flag"}
        config, _ = apply_settings(config, reset, "default")
        sources = {name: source for name, source in sources.items() if name not in reset}
    # Tying needs equal sizes; untie rather than refuse a student's choice of sizes.
    if config.model.tie_weights is None and config.model.embedding_dim != config.model.hidden_size:
        config.model.tie_weights = False
    return config, sources


def default_prompt(book: str, dataset) -> str:
    """What every sampler continues unless told otherwise: see PROMPT_DEFAULT_HELP."""
    if book == lab.LAB_CORPUS:
        return lab.LAB_PROMPT
    text = lab.validation_text(dataset)
    end = words = 0
    for line in text.splitlines(keepends=True):  # whole lines, so the continuation starts a line
        end, words = end + len(line), words + len(line.split())
        if words >= PROMPT_WORDS:
            break
    return text[:end]


# ---------------------------------------------------------------- models


@dataclass
class Model:
    """A model ready for the task, with the corpus it is judged on."""

    bundle: Bundle
    dataset: object  # the DatasetDict: train / validation / test
    book: str
    trained: object = None  # the TrainResult when this run trained it, None when loaded

    def describe(self) -> str:
        cfg = self.bundle.config
        size = f"{cfg.model.num_layers}x{cfg.model.hidden_size} {cfg.model.rnn_type.upper()}"
        text = (f"{cfg.tokenizer} model ({self.bundle.tokenizer.vocab_size:,} tokens, {size}, "
                f"{self.bundle.model.num_parameters():,} parameters)")
        if self.trained is not None:
            r = self.trained
            text += (f": trained {r.steps} steps, {r.tokens_seen:,} tokens in {r.seconds:.0f} s "
                     f"({r.tokens_per_second:,.0f} tokens/s)")
        return text


def train_config(args: argparse.Namespace, *, book: str, tokenizer: str, out: Path,
                 init: str | None = None) -> tuple[TrainConfig, dict]:
    """`book_settings` with this task's tokenizer, folder and budget: the config and its settings' sources.

    With `init` (a base spec) the run starts from that base, in its shape whatever the shape flags say.
    """
    task = {"tokenizer": tokenizer, "out": str(out), "time_budget": args.time_budget,
            "epochs": getattr(args, "epochs", None), **({"init": init} if init else {})}
    return book_settings(book, args, task, base_wins=init is not None)


def obtain_model(args: argparse.Namespace, *, tokenizer: str, out: Path, checkpoint: str | None = None) -> Model:
    """Load `checkpoint` if one is given, else train `tokenizer`'s model on --book into `out`.

    A loaded model is judged on --book when given, else on the corpus it was
    trained on, split with its own seed (so its validation text is the one it
    never saw).
    """
    resolve_device(args.device)  # a device this machine lacks is refused before any work
    if checkpoint:
        bundle = Bundle.load(checkpoint, device=args.device)
        book = args.book or bundle.config.corpus
        dataset = load_corpus(book, seed=bundle.config.seed, stage_directions=bundle.config.stage_directions)
        return Model(bundle=bundle, dataset=dataset, book=book)
    book = args.book or DEFAULT_BOOK
    config, sources = train_config(args, book=book, tokenizer=tokenizer, out=out)
    result = train(config, sources=sources, overwrite=True, progress=not args.quiet)
    return Model(bundle=result.bundle, dataset=result.dataset, book=book, trained=result)


def open_base(spec: str, tokenizer: str) -> Base:
    """The base `spec` names (wordgen.training.finetune), refused unless its tokenizer is of `tokenizer`'s kind.

    Opened before any training, so a bad --base fails in a second, not after minutes.
    """
    kind = parse_tokenizer_spec(tokenizer)[0]
    try:
        base = Base.open(spec)
    except CheckpointError as err:  # its message names the folder, not the option
        raise CheckpointError(f"--base {spec}: {err}") from None
    if base.kind != kind:
        raise UsageError(f"--base {spec} is a {base.kind} model, which does not fit --tokenizer {tokenizer} "
                         f"(a {kind} tokenizer): give a {kind} base, or --base none")
    return base


def fine_tune_model(args: argparse.Namespace, base: Base, *, tokenizer: str, out: Path, dataset) -> Model:
    """Fine-tune `base` on --book into `out` with the same budget and batches as a run from scratch.

    The base brings its shape, optimizer and learning rate (wordgen.training.finetune); a word
    base grows its vocabulary by `tokenizer`'s words of the book, any other base keeps its tokenizer.
    `dataset` is the run from scratch's corpus, so both models learn and are judged on the same text.
    """
    book = args.book or DEFAULT_BOOK
    spec = tokenizer if base.kind == "word" else base.bundle.config.tokenizer
    config, sources = train_config(args, book=book, tokenizer=spec, out=out, init=base.spec)
    result = train(config, dataset=dataset, sources=sources, overwrite=True, progress=not args.quiet)
    return Model(bundle=result.bundle, dataset=result.dataset, book=book, trained=result)


def evaluate_validation(model: Model, max_chars: int) -> Metrics:
    """Metrics of `model` on the same stretch of validation text, whatever its tokenizer (0: all of it)."""
    return score_validation(model.bundle, model.dataset, max_chars or None)


# ---------------------------------------------------------------- reporting


class Report:
    """Lines printed as they come and kept, saved at the end as `report.txt` beside the results."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def save(self, results: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "report.txt").write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        (self.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")


LOOP_MARK = "⟦loop⟧ "


def mark_loop(continuation: str, loop, cycles: int = 3) -> str:
    """The continuation with LOOP_MARK where `loop` (a `find_text_loop` result) begins.

    A loop that runs to the end of the text (or into its last, cut-off cycle) is
    shown for `cycles` turns and then cut: three turns make the point, eighty
    fill a screen.
    """
    if loop is None:
        return continuation
    shown = continuation[: loop.char_start] + LOOP_MARK + continuation[loop.char_start:]
    offsets = token_offsets(continuation)
    last = loop.start + cycles * loop.period
    if len(offsets) - loop.end < loop.period and last < len(offsets):
        shown = shown[: offsets[last] + len(LOOP_MARK)].rstrip(" ") + " ...(and so on)"
    return shown


def show_text(text: str, indent: str = "  ") -> str:
    """A sample indented as a block, so it stands apart from the report around it."""
    return "\n".join(indent + line for line in text.strip("\n").splitlines())


# ---------------------------------------------------------------- running


def run_task(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], None],
             argv: list[str] | None, renames: dict[str, str] | None = None) -> int:
    """Parse argv, run body(args); an error -> `prog: error: ...` on one line, with its status (wordgen.errors).

    The settings an error names are shown as the task's flags (--book for TrainConfig.corpus,
    and `renames`, e.g. {"SampleConfig.temperature": "--temperatures"}).

    Errors of the command line itself are one line too (argparse would print its usage
    block first); a stop signal during training -> `prog: interrupted at step N; resume
    with: ...` and 130 / 143 (wordgen.training.stopping).
    """

    def one_line_usage_error(message: str):
        raise UsageError(f"{' '.join(message.split())} (see {parser.prog} --help)")

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    limit_arenas()  # before any thread allocates (wordgen.memory)
    parser.error = one_line_usage_error  # argparse calls self.error for every bad argument
    previous = warnings.showwarning
    warnings.showwarning = one_line_warning
    try:
        with sigterm_interrupts():
            try:
                body(parser.parse_args(argv))
            except WordgenError as err:
                flags = {"TrainConfig.corpus": "--book", **(renames or {})}
                print(f"{prog}: error: {for_command_line(err, flags)}", file=sys.stderr)
                return err.exit_code
            except Interrupted as err:  # before KeyboardInterrupt, which it subclasses
                exit_on_next_signal()
                print(f"{prog}: {err.describe(resume_command(err.checkpoint))}", file=sys.stderr)
                return err.exit_code
            except KeyboardInterrupt:
                exit_on_next_signal()
                print(f"{prog}: interrupted; files already saved are intact", file=sys.stderr)
                return 130
            except Exception as err:  # an OSError nothing wrapped, or a crash: a runtime failure
                if os.environ.get(DEBUG_VARIABLE) == "1":
                    raise
                print(f"{prog}: error: {failure_line(err)}", file=sys.stderr)
                return 1
    finally:
        warnings.showwarning = previous
    return 0
