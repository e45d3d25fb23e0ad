"""The command line's options, built from the settings' field metadata, and back.

`add_settings` turns the fields made with `config.setting()` into argparse options (flag,
help, choices and the default shown from the config the options apply to);
`settings_from` turns the parsed options back into that config, with the fields the
command line gave (`sources`); `for_command_line` names the flags in a library error,
which names fields (`TrainConfig.epochs` -> `--epochs`). `build_parser()` holds the
`wordgen` commands. wordgen.cli and wordgen/tasks/ use these; benchmarks/ too for their shared options.

Not here: parsing argv, printing, training (wordgen.cli); the settings themselves (config.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex

from wordgen import __version__, lab
from wordgen.config import ModelConfig, SampleConfig, TrainConfig
from wordgen.errors import CheckpointError, UsageError, WordgenError

GIVEN = "_given_settings"  # namespace attribute: the setting paths the command line gave
SIZE_RULE_NOTE = ("A default of 'size rule' means that the size rule chooses the value from the training "
                  "text's size, the vocabulary and the budget when training starts; config.json records it.")
TRAIN_ONLY = ("streaming", "dist_timeout")  # of `wordgen train` only


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: `wordgen: error: ...` and exit 2, like every other error.

    argparse's own `error` prints the whole usage block first (13 lines for `train`);
    this one raises UsageError, which main() prints on one line. Subparsers are made
    with the parser's own class, so they inherit it.
    """

    def error(self, message: str):
        text = " ".join(message.split())  # argparse's messages may wrap
        raise UsageError(f"{text} (see {self.prog} --help)")


class _Setting(argparse.Action):
    """argparse's "store" (or, with nargs=0, "store_const"), noting that the command line gave the value."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})


# ---------------------------------------------------------------- fields -> options -> fields


def _options(config, prefix: str = ""):
    """(path, field, value) of every field of `config` with an option; nested settings as "model.hidden_size"."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _options(value, f"{prefix}{f.name}.")
        elif "flag" in f.metadata:
            yield prefix + f.name, f, value


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def flags_for(config, paths) -> list[str]:
    """The options of `config`'s settings at `paths` ("model.hidden_size" -> "--hidden-size"), in `paths`' order."""
    flags = {path: flag_of(f) for path, f, _ in _options(config)}
    return [flags[path] for path in paths]


def _is_bool(f: dataclasses.Field) -> bool:
    return "bool" in (part.strip() for part in f.type.split("|"))


def _help(f: dataclasses.Field, value) -> str:
    meta = f.metadata
    if value is None:
        shown = "size rule" if meta["size_rule"] else meta["unset"]
    elif isinstance(value, bool):
        shown = None  # the flag's name says what it does
    else:
        shown = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    return (meta["help"] + (f" (default: {shown})" if shown else "")).replace("%", "%%")


def add_settings(container, config, names: list[str] | None = None, *, skip: tuple[str, ...] = ()) -> None:
    """Add an option for each field of `config` that has one (those in `names`, in that order, if given).

    `config` gives the defaults shown by --help and kept in the namespace; a setting left to
    the size rule shows "(default: size rule)". container: a parser or an argument group.
    """
    table = {path: (f, value) for path, f, value in _options(config)}
    for path in names or [p for p in table if p not in skip]:
        f, value = table[path]
        kwargs = dict(dest=path, default=value, help=_help(f, value), action=_Setting)
        if _is_bool(f):
            kwargs.update(nargs=0, const=not flag_of(f).startswith("--no-"))
        else:
            kinds = {part.strip() for part in f.type.split("|")}
            kind = _count if f.metadata["count"] else int if "int" in kinds else float if "float" in kinds else str
            kwargs.update(type=kind, choices=f.metadata["choices"])
            kwargs["metavar"] = None if f.metadata["choices"] else f.metadata["metavar"] or f.name.upper()
        container.add_argument(flag_of(f), **kwargs)


def settings_from(args: argparse.Namespace, config):
    """`config` with the settings the command line gave, and those fields: (copy, {"model.hidden_size": "flag"}).

    Only options given on the command line change `config`; what they were not given stays
    as `config` has it (the defaults --help showed, when it is the config the options were built from).
    """
    given = getattr(args, GIVEN, set())
    values = {path: getattr(args, path) for path, f, _ in _options(config) if path in given}
    zero_is_none = {path for path, f, _ in _options(config) if f.metadata["zero_is_none"]}
    values = {path: None if path in zero_is_none and value == 0 else value for path, value in values.items()}
    return _replaced(config, values), {path: "flag" for path in values}


def _replaced(config, values: dict, prefix: str = ""):
    changes = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = _replaced(value, values, f"{prefix}{f.name}.")
        elif prefix + f.name in values:
            changes[f.name] = values[prefix + f.name]
    return dataclasses.replace(config, **changes)


def _count(text: str) -> int:
    """A positive count written as 2000000, 2_000_000 or 2e6 (argparse type)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of characters such as 2000000 or 2e6, got {text!r}")
    if not value >= 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number of characters of at least 1, got {text!r}")
    return int(value)


# ---------------------------------------------------------------- field names -> flags in errors

_SETTINGS = {"TrainConfig": TrainConfig(), "ModelConfig": ModelConfig(), "SampleConfig": SampleConfig()}
_KEYWORDS = {"train(resume=True)": "--resume DIR", "train(overwrite=True)": "--overwrite"}
# `wordgen compare`'s own options are named after these CompareSettings fields (see _compare).
_COMPARE_FIELDS = {"tokenizers", "out", "match", "params", "recipe", "unk_penalty", "eval_corpus", "eval_chars",
                   "prompt", "sample_chars", "temperature", "seeds", "overwrite"}
_COMPARE_NEGATED = {"unk_penalty"}  # on by default: False is said with --no-FLAG
_NAME = re.compile(r"\b(TrainConfig|ModelConfig|SampleConfig|CompareSettings)((?:\.\w+)+)"
                   r"(?:=('[^']*'|\"[^\"]*\"|[\w.+-]*\w))?")


def _flag_text(owner: str, path: str, value: str | None) -> str | None:
    """`--epochs`, `--no-tie-weights`, `--eval-tokens 0`... for one field name, or None when it has no flag."""
    if owner == "CompareSettings":
        if path.startswith("base."):
            return _flag_text("TrainConfig", path.removeprefix("base."), value)
        if path not in _COMPARE_FIELDS:
            return None
        flag, boolean, zero_is_none = "--" + path.replace("_", "-"), value in ("True", "False"), path == "eval_chars"
        const = True
    else:
        fields = {p: f for p, f, _ in _options(_SETTINGS[owner])}
        if path not in fields:
            return None
        f = fields[path]
        flag, boolean, zero_is_none = flag_of(f), _is_bool(f), f.metadata["zero_is_none"]
        const = not flag.startswith("--no-")
    if value is None:
        return flag
    value = value.strip("'\"")
    if boolean:
        if owner == "CompareSettings" and path in _COMPARE_NEGATED and value == "False":
            return "--no-" + flag.removeprefix("--")
        return flag if value == str(const) else None
    return f"{flag} 0" if value == "None" and zero_is_none else f"{flag} {value}"


def for_command_line(err: WordgenError, renames: dict[str, str] | None = None) -> str:
    """The error's message with the settings it names as the flags that set them.

    `TrainConfig.epochs` -> `--epochs`, `ModelConfig.tie_weights=False` -> `--no-tie-weights`,
    `train(overwrite=True)` -> `--overwrite`; a field without a flag keeps its name. A
    CheckpointError's field names stay: they speak of the settings saved in config.json.
    renames: other flags for some fields, e.g. {"TrainConfig.corpus": "--book"} in the tasks.
    """
    text = str(err)
    for keyword, flag in _KEYWORDS.items():
        text = text.replace(keyword, flag)
    if isinstance(err, CheckpointError):
        return text

    def flag(match: re.Match) -> str:
        owner, path, value = match.group(1), match.group(2)[1:], match.group(3)
        if (renames or {}).get(f"{owner}.{path}") and value is None:
            return renames[f"{owner}.{path}"]
        return _flag_text(owner, path, value) or match.group(0)

    return _NAME.sub(flag, text)


def resume_command(checkpoint) -> str:
    """The command that continues an interrupted run in `checkpoint` (for Interrupted.describe)."""
    return f"wordgen train --resume {shlex.quote(str(checkpoint))}"


# ---------------------------------------------------------------- the wordgen commands


def command_base(command: str) -> TrainConfig:
    """The TrainConfig that the training options of `command` apply to (and whose values --help shows)."""
    if command == "lab":
        return lab.lab_train_config()
    if command == "compare":
        # Short runs need frequent, cheap checks to draw learning curves; the checks count
        # against the time budget, so each reads only CompareSettings.eval_chars characters.
        return dataclasses.replace(TrainConfig(), eval_interval=20)
    return dataclasses.replace(TrainConfig(), out=None)  # `wordgen train` has no default folder


def _training_groups(parser: argparse.ArgumentParser, command: str, skip: tuple[str, ...]) -> None:
    """The command's TrainConfig options, then its ModelConfig options, each under a heading."""
    base = command_base(command)
    paths = [path for path, _, _ in _options(base) if path not in skip]
    add_settings(parser.add_argument_group("training settings", SIZE_RULE_NOTE), base,
                 [path for path in paths if not path.startswith("model.")])
    add_settings(parser.add_argument_group("model settings"), base, [path for path in paths if path.startswith("model.")])


def _add_cache_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--cache", action="store_true",
                   help=f"{what} with a neural cache (Grave et al. 2017): what followed similar moments earlier "
                        "in the same text becomes likelier; nothing is retrained (default: off)")
    p.add_argument("--cache-window", type=int, default=None, help="with --cache: positions kept (default: 2000)")
    p.add_argument("--cache-theta", type=float, default=None,
                   help="with --cache: sharpness of the match between positions (default: 0.3)")
    p.add_argument("--cache-lambda", type=float, default=None,
                   help="with --cache: the cache's share of the distribution, in (0, 1) (default: 0.1)")


def _lab(sub) -> None:
    p = sub.add_parser("lab", help="the lab end to end: the built-in Shakespeare, or your book with --corpus",
                       description=f"Train a word-level LSTM ({lab.LAB_TIME_BUDGET:g} s by default) on the "
                                   "built-in plays or on your own book (--corpus book.txt, e.g. a Project "
                                   "Gutenberg e-book as downloaded) into --out (replaced on each run), print "
                                   "validation perplexity per token, bits per character and perplexity per word, "
                                   "then generate from the same prompt with greedy decoding, temperatures "
                                   + "/".join(f"{t:g}" for t in lab.LAB_TEMPERATURES) + ", top-k and top-p. "
                                   "The same run as python -m wordgen.tasks.word_level_book --book BOOK.")
    _training_groups(p, "lab", TRAIN_ONLY)
    p.add_argument("--prompt", default=None,
                   help=f"prompt for every sampler (default: {lab.LAB_PROMPT!r} on the built-in plays, else the "
                        "opening lines of the book's validation text)")
    p.add_argument("--max-tokens", type=int, default=lab.LAB_MAX_TOKENS,
                   help=f"tokens per sample (default: {lab.LAB_MAX_TOKENS})")
    p.add_argument("--top-k", type=int, default=lab.LAB_TOP_K,
                   help=f"k of the top-k sample (default: {lab.LAB_TOP_K})")
    p.add_argument("--top-p", type=float, default=lab.LAB_TOP_P,
                   help=f"p of the top-p sample (default: {lab.LAB_TOP_P})")


def _train(sub) -> None:
    p = sub.add_parser("train", help="train a model and write a checkpoint folder",
                       description="Train the shared LSTM language model on a corpus with a tokenizer. Give at "
                                   "least one of --epochs, --max-steps, --chars, --time-budget.")
    _training_groups(p, "train", ())
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the run saved in DIR (model, optimizer, step, RNG); stop limits may be raised; "
                        "a run of N processes resumes in any number of them")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in --out")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan of the run, every setting and where it came from, and exit without "
                        "training (the corpus and the tokenizer are prepared to count the text)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train in N processes on this machine (DistributedDataParallel, started through "
                        "torchrun's launcher; gloo on CPUs, NCCL on GPUs); --batch-size is their batch together. "
                        "For several machines run torchrun yourself: torchrun --nnodes ... -m wordgen train ...")


def _generate(sub) -> None:
    p = sub.add_parser("generate", help="generate text from a checkpoint",
                       description="Generate text from a checkpoint folder, printed as it is sampled, or written to --output FILE.")
    p.add_argument("checkpoint", help="checkpoint folder written by `wordgen train`")
    prompt = p.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default="", help="text to continue; write --prompt=TEXT when it starts with \"-\" (default: start a new line)")
    prompt.add_argument("--prompt-file", metavar="FILE", default=None,
                        help="continue the text of this UTF-8 file, exactly as it is (its last line break too)")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="write the samples to FILE (replaced whole, never left half-written) instead of printing "
                        "them; only where they went is printed")
    p.add_argument("--max-tokens", type=int, default=100, help="tokens to generate per sample (default: 100)")
    add_settings(p, SampleConfig())
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same text (default: 0)")
    p.add_argument("--num-samples", type=int, default=1, help="independent samples to draw (default: 1)")
    add_settings(p, TrainConfig(), ["device"])
    _add_cache_options(p, "generate")
    p.add_argument("--copies", action="store_true",
                   help="after each sample, say the longest stretch of words it copies from the training text "
                        "(the checkpoint's own corpus, train split; or --against FILE) (default: off)")
    p.add_argument("--against", metavar="FILE", default=None,
                   help="with --copies: look for copied stretches in this text file instead")


def _evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a checkpoint on held-out text",
                       description="Perplexity per token, bits per character and perplexity per word of a "
                                   "checkpoint on a corpus split or a whole text file.")
    p.add_argument("checkpoint", help="checkpoint folder written by `wordgen train`")
    add_settings(p, dataclasses.replace(TrainConfig(), corpus=None), ["corpus", "stage_directions"])
    p.add_argument("--split", choices=["train", "validation", "test"], default=None,
                   help="which split of --corpus to score. Default: the test split of the checkpoint's own "
                        "corpus (split with its seed, so the text is unseen); a --corpus that is not the "
                        "checkpoint's own is scored whole, all of its text, unless --split is given")
    p.add_argument("--text-file", default=None, help="score this whole UTF-8 text file instead of a split")
    p.add_argument("--streaming", action="store_true",
                   help="read the corpus as a stream (default: as the checkpoint was trained); the encoded "
                        "split goes to the cache and is scored from there")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_cache_options(p, "score")
    add_settings(p, TrainConfig(), ["device"])


def _serve(sub) -> None:
    p = sub.add_parser("serve", help="open a local web playground over one or two checkpoints",
                       description="Serve a web page to play with checkpoints: streaming generation with each "
                                   "token's probability and candidates, picking the next word by hand, the "
                                   "tokenization of a text, and per-token surprisal; two checkpoints side by "
                                   "side. Needs the serve extra: pip install -e \".[serve]\".")
    p.add_argument("checkpoints", nargs="+", metavar="CKPT",
                   help="checkpoint folders written by `wordgen train`, or base models (base:word, base:bpe, "
                        "hf:ORG/NAME), e.g. a fine-tuned run beside its base")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens it to "
                        "the network)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0: any free port)")
    p.add_argument("--max-concurrent", type=int, default=4, metavar="N",
                   help="model calls that may run at once; more get HTTP 503 'busy' (default: 4)")
    add_settings(p, TrainConfig(), ["device"])


def _compare(sub) -> None:
    # Its own options are named after the CompareSettings fields in _COMPARE_FIELDS (for_command_line).
    p = sub.add_parser("compare", help="train one model per tokenizer and compare them fairly",
                       description="Train the same model with the same recipe on the same split under the same "
                                   "budget once per tokenizer, evaluate each on the test split, and write "
                                   "report.md, results.csv, results.json, comparison.png and one checkpoint per "
                                   "tokenizer (OUT/runs/NAME). Bits per character and perplexity per word "
                                   "compare across tokenizations; perplexity per token does not. Every <unk> is "
                                   "charged the cost of spelling the text it hides.")
    # No --eval-tokens: a cap in tokens reads a different stretch of text per tokenizer; --eval-chars does not.
    _training_groups(p, "compare", ("tokenizer", "out", "eval_tokens", *TRAIN_ONLY))
    p.add_argument("--tokenizers", "--tokenizer", dest="tokenizers", default="char,word,bpe:500,bpe:2000,bpe:8000",
                   help="tokenizer specs separated by commas; a comma followed by key=value stays inside the "
                        "spec before it (char,word:min_freq=2,max_vocab=10000,bpe:2000); with ';' in the "
                        "list only ';' separates (for paths with commas). Default: char,word,bpe:500,bpe:2000,bpe:8000")
    p.add_argument("--out", required=True, help="report folder; checkpoints go to OUT/runs/NAME")
    p.add_argument("--recipe", choices=["shared", "per-tokenizer"], default="shared",
                   help="shared: every tokenizer trains with one recipe -- optimizer, learning rate and schedule, "
                        "clip, batch and window, dropouts, weight decay, the full softmax tied to the embedding "
                        "(or the --softmax given) -- the size rule's choice for the smallest vocabulary of the "
                        "list, settings given as options kept (default); per-tokenizer: the size rule chooses "
                        "each tokenizer's own (SGD for word-sized vocabularies, the adaptive softmax from 10 000 "
                        "tokens), and the report lists them")
    p.add_argument("--match", choices=["size", "params"], default="size",
                   help="size: every model gets the same embedding and hidden size (--embedding-dim/--hidden-size, "
                        "else the shared recipe's; with --recipe per-tokenizer the size rule's for each) and layers, so "
                        "parameter counts grow with the vocabulary "
                        "(default); params: the hidden size is scaled so every model has about the same number "
                        "of parameters")
    p.add_argument("--params", type=int, default=None, metavar="N",
                   help="parameter target for --match params (default: the model of the recipe's width with "
                        "the median vocabulary of the list)")
    p.add_argument("--unk-penalty", action=argparse.BooleanOptionalAction, default=True,
                   help="charge every <unk> the cost of spelling the text it hides with the char model of the "
                        "comparison (uniform over the training characters when there is none), in the table and "
                        "the ranking (default: on; --no-unk-penalty leaves word models' <unk> uncharged and "
                        "their figures optimistic)")
    p.add_argument("--eval-corpus", default=None, metavar="PATH",
                   help="also evaluate every model on this text file (e.g. another book)")
    p.add_argument("--eval-chars", type=int, default=10_000,
                   help="characters of validation text per periodic check, the same stretch for every "
                        "tokenizer (default: 10000; 0: the whole split)")
    p.add_argument("--prompt", default="", help="common prompt of the samples (default: start a new line)")
    p.add_argument("--sample-chars", type=int, default=160, help="characters per sample (default: 160; 0: none)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="train every tokenizer N times, with seeds SEED..SEED+N-1 (the split stays SEED's); the "
                        "table then shows mean ± standard deviation and 95%% intervals, and marks rows the best "
                        "cannot be told apart from (default: 1; 3 or more for figures to publish)")
    p.add_argument("--overwrite", action="store_true", help="replace a comparison already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="wordgen", description="Word-level text generation lab: train, sample, evaluate and compare."
    )
    parser.add_argument("--version", action="version", version=f"wordgen {__version__}")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="import MODULE first (a .py file in the current folder, or an installed module), so the "
             "tokenizers it registers with wordgen.register_tokenizer can be named by --tokenizer; repeatable",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _lab(sub)
    _train(sub)
    _generate(sub)
    _evaluate(sub)
    sub.add_parser("corpora", help="list the built-in corpora", description="List the built-in corpora and plays.")
    _serve(sub)
    _compare(sub)
    return parser
