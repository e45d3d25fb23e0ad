"""Planning a comparison: the tokenizer list, a folder per run, and model sizes that are fair.

`parse_tokenizer_list` reads a comma-separated list although a spec may contain
commas itself: a comma starts a new spec only when what follows is a tokenizer
NAME followed by ':' or ',' or the end; `key=value` after a comma belongs to the
spec before. A list containing ';' is split on ';' alone.

`plan_runs` trains every tokenizer once, up front, so that a bad spec, an
`<unk>` the penalty could not charge, or an output folder already in use fails
before the first model trains; the runs then reuse these tokenizers.
`match_sizes` gives every run the same model sizes, or (`match="params"`) the
hidden size whose parameter count is nearest a common target
(`match_hidden_size`); under the shared recipe (wordgen.compare.recipe) the base it
starts from already holds the recipe's width and output layer, so only a
parameter-matched width differs between runs.

Not here: training (wordgen.compare.run), scoring, reports.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wordgen.compare.records import JSON_FILE, RUNS_DIR, CompareError, CompareSettings
from wordgen.compare.score import hidden_pieces
from wordgen.config import ModelConfig, TrainConfig
from wordgen.data import default_cache_dir, encode_split, row_text
from wordgen.model import count_parameters
from wordgen.tokenization import Tokenizer, parse_tokenizer_spec, train_tokenizer
from wordgen.training import checkpoint as ckpt
from wordgen.training import sizerule as autosize
from wordgen.training.plan import RULE

# What may follow a separating comma: a NAME then ':', ',' or the end (or nothing
# before ',' / the end, so that "char,,word" reports an empty spec).
_SPEC_START = re.compile(r"\s*(?:[A-Za-z_][A-Za-z0-9_\-]*\s*)?(?=[:,]|$)")


def parse_tokenizer_list(text: str) -> list[str]:
    """'char,word:min_freq=2,max_vocab=10000,bpe:500' -> ['char', 'word:min_freq=2,max_vocab=10000', 'bpe:500'].

    A comma starts a new spec only when it is followed by a NAME and then ':',
    ',' or the end of the list; after a comma, `key=value` (a NAME followed by
    '=') continues the spec before it. Paths are the one thing this cannot
    always tell apart (`hf:/data/a,b` would split at ',b'); a list containing
    ';' is therefore split on ';' only, and commas then stay inside specs.
    Each spec is checked with `parse_tokenizer_spec`; duplicates are refused.
    """
    if not isinstance(text, str) or not text.strip():
        raise CompareError("give at least one tokenizer in CompareSettings.tokenizers, e.g. 'char,word,bpe:2000'")
    if ";" in text:
        parts = text.split(";")
    else:
        parts, start = [], 0
        for i, ch in enumerate(text):
            if ch == "," and _SPEC_START.match(text, i + 1):
                parts.append(text[start:i])
                start = i + 1
        parts.append(text[start:])
    specs = [p.strip() for p in parts]
    if any(not s for s in specs):
        raise CompareError(f"empty tokenizer in the list {text!r} (two separators in a row, or one at an end)")
    seen: set[str] = set()
    for spec in specs:
        parse_tokenizer_spec(spec)  # TokenizerError, one line, names the bad spec
        if spec in seen:
            raise CompareError(f"tokenizer {spec!r} is listed twice")
        seen.add(spec)
    return specs


def run_name(spec: str) -> str:
    """A folder name for a spec: 'bpe:500' -> 'bpe-500' (long ones shortened with a hash)."""
    name = re.sub(r"[^A-Za-z0-9_.]+", "-", spec).strip("-.") or "tokenizer"
    if len(name) > 48:
        name = f"{name[:40]}-{hashlib.sha1(spec.encode()).hexdigest()[:7]}"
    return name


def _scaled(config: ModelConfig, hidden: int, base: ModelConfig) -> ModelConfig:
    c = copy.deepcopy(config)
    c.hidden_size = hidden
    # Tied weights force embedding == hidden; untied ones keep the base ratio.
    c.embedding_dim = hidden if c.tied() else max(1, round(hidden * base.embedding_dim / base.hidden_size))
    return c


def match_hidden_size(base: ModelConfig, vocab_size: int, target: int) -> ModelConfig:
    """`base` with the hidden size (and embedding) whose parameter count is nearest `target`.

    The count grows with the hidden size, so a doubling search followed by a
    bisection finds the nearest integer size; 1 is the floor (a huge vocabulary
    may need more than `target` even then -- the report shows actual counts).
    """
    if target < 1:
        raise CompareError(f"the parameter target must be positive, got {target}")
    base = dataclasses.replace(base, vocab_size=vocab_size)

    def params(h: int) -> int:
        return count_parameters(_scaled(base, h, base))

    if params(1) >= target:
        return _scaled(base, 1, base)
    high = 2
    while params(high) < target:
        high *= 2
        if high > 1 << 16:
            raise CompareError(f"a parameter target of {target:,} needs a hidden size above 65536; "
                               "lower CompareSettings.params")
    low = high // 2  # params(low) < target <= params(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if params(mid) < target else (low, mid)
    best = low if target - params(low) < params(high) - target else high
    return _scaled(base, best, base)


@dataclass
class Plan:
    """One run, decided before any training."""

    spec: str
    name: str  # its folder under OUT/runs
    out: Path
    tokenizer: Tokenizer  # trained once here; the run trains on it
    model: ModelConfig | None = None  # set by match_sizes
    eval_tokens: int = 0  # periodic validation length, the same text for every tokenizer; 0: the whole split
    # The model fields match_sizes set and why (dotted name -> "compare" or "size rule"), for config.json.
    sources: dict[str, str] = dataclasses.field(default_factory=dict)


def plan_runs(settings: CompareSettings, dataset, eval_text: str | None, log: Callable[[str], None]) -> list[Plan]:
    """Train each tokenizer, name its folder, and check what the runs will need of it."""
    out = Path(settings.out)
    names: set[str] = set()
    plans: list[Plan] = []
    for spec in settings.tokenizers:
        log(f"checking tokenizer {spec} ...")
        tokenizer = train_tokenizer(spec, dataset["train"]["text"])  # bad option values (bpe:0) fail here
        name = run_name(spec)
        while name in names:
            name += "_"
        names.add(name)
        plan = Plan(spec, name, out / RUNS_DIR / name, tokenizer)
        if settings.eval_chars is not None:
            # Periodic validation reads the same stretch of text for every tokenizer.
            val = encode_split(dataset["validation"], tokenizer)
            plan.eval_tokens = max(2, math.ceil(settings.eval_chars / max(1e-9, val.chars_per_token)))
        if settings.unk_penalty:  # refuse a tokenizer whose <unk> cannot be charged now, not after training
            for text in dataset["test"]["text"]:
                hidden_pieces(tokenizer, row_text(text))
            if eval_text is not None:
                hidden_pieces(tokenizer, eval_text)
        plans.append(plan)
    return plans


def match_sizes(plans: list[Plan], settings: CompareSettings, base: TrainConfig,
                dataset=None) -> tuple[int | None, str]:
    """Give each plan its ModelConfig from `base`'s; return the parameter target (None: same sizes) and how, in words.

    Fields `base` leaves to the size rule (None; only with the per-tokenizer recipe) are
    filled in per tokenizer by wordgen.training.sizerule from that tokenizer's training
    tokens (`dataset` is needed then); with match="params", a width left to the rule
    starts from autosize.WIDE.
    """
    model = base.model
    if settings.match == "params" and model.hidden_size is None:
        model = dataclasses.replace(model, hidden_size=autosize.WIDE,
                                    embedding_dim=model.embedding_dim or autosize.WIDE)
    if model.hidden_size is None:
        target, note = None, (f"sizes chosen per tokenizer by the size rule (wordgen.training.sizerule), "
                              f"{model.num_layers} {model.rnn_type.upper()} layer(s)")
    else:
        target, note = None, (
            f"same sizes: embedding {model.embedding_dim or model.hidden_size}, hidden {model.hidden_size}, "
            f"{model.num_layers} {model.rnn_type.upper()} layer(s); parameter counts differ with the vocabulary"
        )
    if settings.match == "params":
        if settings.params is not None:
            target, source = settings.params, "given with --params"
        else:
            median = statistics.median_low([p.tokenizer.vocab_size for p in plans])
            target = count_parameters(_resolved_width(_own_softmax(model, median)))
            which = next(p.spec for p in plans if p.tokenizer.vocab_size == median)
            source = (f"the model of hidden size {model.hidden_size} with the median vocabulary "
                      f"({which}, {median:,} tokens)")
        note = (f"about the same number of parameters: target {target:,}, {source}; the hidden size "
                "(and the tied embedding) is scaled per tokenizer, layers stay the same")
    for plan in plans:
        own = _own_softmax(model, plan.tokenizer.vocab_size)  # counted with the output layer it will have
        if target is None:
            plan.model, plan.sources = own, {}
        else:
            plan.model = match_hidden_size(_resolved_width(own), plan.tokenizer.vocab_size, target)
            plan.sources = {"model.hidden_size": "compare", "model.embedding_dim": "compare"}
        if plan.model.unresolved():
            if dataset is None:
                raise CompareError("match_sizes needs the dataset to choose sizes with the size rule")
            tokens = len(encode_split(dataset["train"], plan.tokenizer, cache_dir=default_cache_dir()))
            config = dataclasses.replace(base, model=plan.model)
            plan.model = autosize.resolve(config, tokens, plan.tokenizer.vocab_size)[0].model
        # What was open in the base and is set now came from the rule (the tie follows the softmax).
        plan.sources = {**{f"model.{f.name}": RULE for f in dataclasses.fields(ModelConfig)
                           if getattr(base.model, f.name) is None and getattr(plan.model, f.name) is not None},
                        **plan.sources}
        plan.model.validate()
    return target, note


def run_folder(plan: Plan, seed: int, settings: CompareSettings) -> Path:
    """OUT/runs/NAME with one seed; OUT/runs/NAME/seed-S for each seed S of several."""
    return plan.out if settings.seeds == 1 else plan.out / f"seed-{seed}"


def _own_softmax(model: ModelConfig, vocab_size: int) -> ModelConfig:
    """`model` for this vocabulary, with the output layer the size rule picks for it unless one is given."""
    return dataclasses.replace(model, vocab_size=vocab_size,
                               softmax=model.softmax or autosize.softmax_for(vocab_size))


def _resolved_width(model: ModelConfig) -> ModelConfig:
    """A model whose embedding follows its hidden size where the rule would set it (for counting)."""
    return dataclasses.replace(model, embedding_dim=model.embedding_dim or model.hidden_size)


def refuse_existing(plans: list[Plan], settings: CompareSettings) -> None:
    """Unless CompareSettings.overwrite, an earlier comparison or checkpoint in the way stops everything."""
    if settings.overwrite:
        return
    out = Path(settings.out)
    seeds = range(settings.base.seed, settings.base.seed + settings.seeds)
    folders = [run_folder(p, seed, settings) for seed in seeds for p in plans]
    taken = [str(f) for f in folders if ckpt.is_checkpoint(f)]
    if (out / JSON_FILE).exists():
        taken.insert(0, str(out / JSON_FILE))
    if taken:
        raise CompareError(f"{taken[0]} already exists; CompareSettings.overwrite replaces the comparison in {out}")
