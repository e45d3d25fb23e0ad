"""Compare tokenizations fairly: one model, one split, one budget per tokenizer.

`compare(settings)` trains the shared LSTM once per tokenizer spec -- same
corpus split, same seed, same stopping rule -- evaluates every model on the
corpus's `test` split (validation only picks the best checkpoint), draws one
sample from a common prompt, and writes

    OUT/runs/<name>/     one ordinary checkpoint folder per tokenizer
    OUT/results.json     everything, including the learning curves
    OUT/results.csv      one row per tokenizer (and per evaluation text)
    OUT/report.md        the table plus the rules it was measured by
    OUT/comparison.png   bits per character, and validation bits per character
                         against wall-clock seconds (see `wordgen.plots`)

The rules (also written into every report):

* One NLL total per model and text; per token, per character of the original
  text, and per whitespace-separated word of it are three divisions of it
  (`wordgen.evaluate`).
* `<unk>` makes a closed vocabulary look better than it is. With
  `unk_penalty=True` each `<unk>` token is also charged the cost of spelling
  the text it hides (`unk_pieces`) with the character model of the same
  comparison (`spelling_costs`), or -- when none was trained, and always for
  the character model's own `<unk>` -- uniformly over the C characters seen in
  training (`uniform_spelling_cost`).
* Models are matched either by size (the same embedding/hidden sizes) or by
  parameter count (`match="params"`: the hidden size, and with it the tied
  embedding, is scaled per tokenizer; `match_hidden_size`).

Tokenizer lists (`parse_tokenizer_list`) are comma-separated although a spec
may contain commas itself: a comma starts a new spec only when what follows is
a tokenizer NAME followed by ':' or ',' or the end; `key=value` after a comma
belongs to the spec before. A list containing ';' is split on ';' alone.

Deliberately not here: printing (the CLI prints the strings this module
returns), plotting (`wordgen.plots`), choosing hyper-parameters per tokenizer
(every model gets the same settings, which favours none), and repeated seeds or
confidence intervals (one seed per comparison; run it again with --seed).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from wordgen import checkpoint as ckpt
from wordgen.config import ModelConfig, SampleConfig, TrainConfig
from wordgen.corpora import load_corpus, read_text_file
from wordgen.data import encode_split, row_text, split_text
from wordgen.errors import ConfigError, WordgenError
from wordgen.evaluate import IGNORE, Metrics, evaluate_split, evaluate_text
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import (
    CharTokenizer,
    HFTokenizer,
    Tokenizer,
    WordTokenizer,
    parse_tokenizer_spec,
    train_tokenizer,
)

REPORT_FILE = "report.md"
CSV_FILE = "results.csv"
JSON_FILE = "results.json"
PLOT_FILE = "comparison.png"
RUNS_DIR = "runs"

MARK_OPTIMISTIC = "†"  # <unk> occurred and was not charged
MARK_PENALISED = "‡"  # <unk> occurred and was charged its spelling cost


class CompareError(WordgenError):
    """A comparison cannot be set up as asked (bad list, bad target, existing output)."""


# ---------------------------------------------------------------- tokenizer lists

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
        raise CompareError("give at least one tokenizer, e.g. --tokenizers char,word,bpe:2000")
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


# ---------------------------------------------------------------- matching sizes


def count_parameters(config: ModelConfig) -> int:
    """Parameters of the model `config` describes, counted without building its weights.

    The parameter search calls this dozens of times per tokenizer, so the plain
    model is counted by formula: embedding V*E; per recurrent layer G*H*(input
    + H) weights and 2*G*H biases (G = 4 gates for an LSTM, 3 for a GRU, as
    torch.nn stores them); output H*V weights unless tied, plus V biases.
    Any other output layer (the adaptive softmax) is built on the meta device,
    which has shapes but no memory, and counted by the model itself.
    tests/test_compare.py checks both against `LSTMLanguageModel.num_parameters`.
    """
    if getattr(config, "softmax", "full") != "full":
        with torch.device("meta"):
            return LSTMLanguageModel(copy.deepcopy(config)).num_parameters()
    v, e, h = config.vocab_size, config.embedding_dim, config.hidden_size
    gates = 4 if config.rnn_type == "lstm" else 3
    recurrent = sum(gates * h * ((e if layer == 0 else h) + h) + 2 * gates * h for layer in range(config.num_layers))
    return v * e + recurrent + (0 if config.tie_weights else h * v) + v


def _scaled(config: ModelConfig, hidden: int, base: ModelConfig) -> ModelConfig:
    c = copy.deepcopy(config)
    c.hidden_size = hidden
    # Tied weights force embedding == hidden; untied ones keep the base ratio.
    c.embedding_dim = hidden if c.tie_weights else max(1, round(hidden * base.embedding_dim / base.hidden_size))
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
            raise CompareError(f"a parameter target of {target:,} needs a hidden size above 65536; lower --params")
    low = high // 2  # params(low) < target <= params(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if params(mid) < target else (low, mid)
    best = low if target - params(low) < params(high) - target else high
    return _scaled(base, best, base)


# ---------------------------------------------------------------- <unk> penalty


def unk_pieces(tokenizer: Tokenizer, text: str) -> list[str]:
    """The text each `<unk>` token of `tokenizer.encode(text)` stands for, in order.

    Word and char tokenizers: the words / characters missing from the
    vocabulary (and a literal "<unk>"); Hugging Face tokenizers: the offsets of
    their unk tokens. A registered class can provide `unk_pieces(text)` itself;
    otherwise a text with `<unk>` in it raises CompareError, as does any
    disagreement with `count_unk`, so a penalty is never silently wrong.
    """
    hook = getattr(tokenizer, "unk_pieces", None)
    unk = tokenizer.unk_id
    if callable(hook):
        pieces = list(hook(text))
    elif unk is None:
        return []
    elif isinstance(tokenizer, HFTokenizer):
        encoding = tokenizer.hf_tokenizer.encode(text, add_special_tokens=False)
        pieces = [text[a:b] for i, (a, b) in zip(encoding.ids, encoding.offsets) if i == unk]
    elif isinstance(tokenizer, (WordTokenizer, CharTokenizer)):
        units = WordTokenizer.split(text) if isinstance(tokenizer, WordTokenizer) else list(text)
        pieces = [u for u in units if tokenizer.token_to_id(u) in (None, unk)]
    else:
        pieces = None
    expected = tokenizer.count_unk(tokenizer.encode(text))
    if pieces is None and expected:
        raise CompareError(
            f"cannot tell which text the <unk> tokens of the {tokenizer.kind!r} tokenizer stand for; "
            "give its class an unk_pieces(text) method, or drop --unk-penalty"
        )
    if pieces is not None and len(pieces) != expected:
        raise CompareError(
            f"the {tokenizer.kind!r} tokenizer produced {expected} <unk> tokens but {len(pieces)} unknown "
            "pieces were found; --unk-penalty cannot be charged exactly"
        )
    return pieces or []


def uniform_spelling_cost(word: str, num_symbols: int) -> float:
    """Nats to spell `word` one character at a time, each of `num_symbols` equally likely."""
    if num_symbols < 1:
        raise ConfigError(f"a uniform spelling needs at least 1 symbol, got {num_symbols}")
    return len(word) * math.log(num_symbols)


@torch.inference_mode()
def spelling_costs(
    model: LSTMLanguageModel, tokenizer: Tokenizer, words: Sequence[str], *, context: str = " ", batch_size: int = 256
) -> list[float]:
    """Nats to spell each word with a character model: -sum log p(char | context + chars before).

    Every word starts from a fresh (zero) state after `context` -- a single
    space, the usual left neighbour of a word -- and nothing else is charged:
    not the context itself, not what follows the word. A character the model
    never saw costs its p(<unk>). Words are scored in padded batches (N, L);
    padding sits after each word, so it cannot change the word's own cost.
    """
    if not isinstance(tokenizer, CharTokenizer):
        raise CompareError(f"spelling costs need a character-level model, not a {tokenizer.kind!r} one")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    start = tokenizer.encode(context)
    costs: list[float] = []
    for first in range(0, len(words), batch_size):
        seqs = [start + tokenizer.encode(w) for w in words[first : first + batch_size]]
        width = max(len(s) for s in seqs) - 1
        if width < 1:  # only empty words (or no context): nothing to predict
            costs.extend(0.0 for _ in seqs)
            continue
        inputs = torch.zeros(len(seqs), width, dtype=torch.long)  # (N, L)
        targets = torch.full((len(seqs), width), IGNORE, dtype=torch.long)  # (N, L)
        for i, s in enumerate(seqs):
            inputs[i, : len(s) - 1] = torch.tensor(s[:-1])
            targets[i, : len(s) - 1] = torch.tensor(s[1:])
        logits, _ = model(inputs.to(device))  # (N, L, V), zero initial state per row
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), targets.to(device), ignore_index=IGNORE, reduction="none"
        )  # (N, L)
        costs.extend(nll.sum(dim=1).tolist())
    model.train(was_training)
    return costs


@dataclass
class Speller:
    """What an `<unk>` costs: a character model, or a uniform choice among `num_symbols`."""

    num_symbols: int  # C: distinct training characters + 1 (the unseen-character symbol)
    model: LSTMLanguageModel | None = None
    tokenizer: Tokenizer | None = None
    source: str = "uniform"  # the char spec whose model spells, or "uniform"
    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        if self.model is None:
            return f"uniform over C = {self.num_symbols} characters: len(word) * ln C"
        return f"spelled by the `{self.source}` model, from a fresh state after one space"

    def cost(self, pieces: Iterable[str]) -> float:
        """Total nats for all `pieces` (repeated words are scored once)."""
        pieces = list(pieces)
        new = sorted(set(pieces) - set(self._cache))
        if self.model is None:
            self._cache.update((w, uniform_spelling_cost(w, self.num_symbols)) for w in new)
        elif new:
            self._cache.update(zip(new, spelling_costs(self.model, self.tokenizer, new)))
        return math.fsum(self._cache[p] for p in pieces)


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    """One model on one text: the plain metrics, and what `<unk>` spelling adds."""

    raw: Metrics  # exactly what `wordgen evaluate` reports
    penalty: float = 0.0  # nats added by the <unk> penalty (0 when it is off)
    penalty_by: str | None = None  # Speller.describe(), or None when the penalty is off

    @property
    def metrics(self) -> Metrics:
        """The figures a report shows: per token, per char and per word from one total."""
        return dataclasses.replace(self.raw, nll=self.raw.nll + self.penalty)

    def to_dict(self) -> dict:
        m = self.metrics
        return {
            **m.to_dict(),
            "tokens_per_char": m.num_tokens / max(1, m.num_chars),
            "raw_nll": self.raw.nll,
            "raw_bits_per_char": self.raw.bits_per_char,
            "unk_penalty_nats": self.penalty,
            "unk_penalty_bits_per_char": self.penalty / math.log(2) / max(1, m.num_chars),
            "unk_penalty_by": self.penalty_by,
        }


def score_split(model, tokenizer: Tokenizer, split, speller: Speller | None = None) -> Score:
    """Score a corpus split (rows joined as `wordgen.data` joins them)."""
    raw = evaluate_split(model, tokenizer, split)
    if speller is None:
        return Score(raw)
    pieces = [p for text in split["text"] for p in unk_pieces(tokenizer, row_text(text))]
    return Score(raw, speller.cost(pieces), speller.describe())


def score_text(model, tokenizer: Tokenizer, text: str, speller: Speller | None = None) -> Score:
    """Score one string, counted exactly as given."""
    raw = evaluate_text(model, tokenizer, text)
    if speller is None:
        return Score(raw)
    return Score(raw, speller.cost(unk_pieces(tokenizer, text)), speller.describe())


# ---------------------------------------------------------------- the comparison


@dataclass
class CompareSettings:
    base: TrainConfig  # corpus, model sizes, batch, stop rule, seed; tokenizer and out are per run
    tokenizers: list[str]  # specs, e.g. parse_tokenizer_list("char,word,bpe:2000")
    out: str  # report folder; checkpoints go to out/runs/<name>
    match: str = "size"  # "size": same embedding/hidden sizes; "params": same parameter count
    params: int | None = None  # target for match="params" (None: the median-vocabulary default model)
    unk_penalty: bool = False
    eval_corpus: str | None = None  # a text file scored as well as the test split
    eval_chars: int | None = 10_000  # characters of validation per periodic check (None: all)
    prompt: str = ""  # common prompt of the samples ("" starts a new line)
    sample_chars: int = 160  # characters of continuation kept per sample
    temperature: float = 0.8
    overwrite: bool = False

    def validate(self) -> None:
        self.base.validate()
        if self.match not in ("size", "params"):
            raise CompareError(f"match must be 'size' or 'params', got {self.match!r}")
        if self.params is not None and self.match != "params":
            raise CompareError("a parameter target (--params) only makes sense with --match params")
        if self.params is not None and self.params < 1:
            raise CompareError(f"--params must be a positive number of parameters, got {self.params}")
        if self.eval_chars is not None and self.eval_chars < 1:
            raise CompareError(f"--eval-chars must be at least 1, got {self.eval_chars}")
        if self.sample_chars < 0:
            raise CompareError(f"--sample-chars must be >= 0, got {self.sample_chars}")
        SampleConfig(temperature=self.temperature).validate()
        if not self.tokenizers:
            raise CompareError("give at least one tokenizer")


@dataclass
class Row:
    """One tokenizer's run."""

    tokenizer: str
    name: str
    checkpoint: str
    vocab_size: int
    parameters: int
    embedding_dim: int
    hidden_size: int
    steps: int
    tokens_seen: int
    train_seconds: float
    wall_seconds: float  # tokenizer + training + evaluation + sample, for this row
    tokens_per_second: float
    sample: str
    history: list[dict]
    test: Score | None = None
    eval_text: Score | None = None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("test", "eval_text")}
        d["test"] = self.test.to_dict() if self.test else None
        d["eval_text"] = self.eval_text.to_dict() if self.eval_text else None
        return d


@dataclass
class Comparison:
    settings: CompareSettings
    rows: list[Row]
    target_params: int | None  # what match="params" aimed at
    target_note: str  # how the models were matched, in words
    penalty_note: str | None  # how <unk> was charged, or None when it was not
    test_text: str  # description of the test text
    eval_text: str | None
    seconds: float
    machine: dict
    files: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        s = self.settings
        return {
            "settings": {
                "corpus": s.base.corpus, "tokenizers": s.tokenizers, "out": s.out,
                "train": s.base.to_dict(), "match": s.match, "params": s.params,
                "unk_penalty": s.unk_penalty, "eval_corpus": s.eval_corpus, "eval_chars": s.eval_chars,
                "prompt": s.prompt, "sample_chars": s.sample_chars, "temperature": s.temperature,
            },
            "target_params": self.target_params, "matched_by": self.target_note,
            "unk_penalty_by": self.penalty_note, "test_text": self.test_text, "eval_text": self.eval_text,
            "seconds": self.seconds, "machine": self.machine,
            "rows": [r.to_dict() for r in self.rows],
        }


@dataclass
class _Plan:
    spec: str
    name: str
    out: Path
    tokenizer: Tokenizer  # trained up front only to validate and size things
    model: ModelConfig = None
    eval_tokens: int | None = None


def _machine(load_before: tuple) -> dict:
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "load_average_before": load_before, "load_average_after": load_after,
    }


def compare(settings: CompareSettings, *, progress: bool = False, log: Callable[[str], None] | None = None) -> Comparison:
    """Train and score one model per tokenizer, write the report files, return everything.

    Every check that can fail on bad input (list, specs and their options,
    corpus, evaluation text, stop rule, sizes, existing output) runs before the
    first model is trained. `log` receives one line per stage (the CLI prints
    them); `progress` shows each run's tqdm bar.
    """
    from wordgen.train import train  # late: importing this module stays light

    log = log or (lambda message: None)
    started = time.perf_counter()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    settings.validate()
    base = settings.base
    out = Path(settings.out)

    # --- everything that can go wrong, before any training ---
    dataset = load_corpus(base.corpus, seed=base.seed, stage_directions=base.stage_directions)
    test_full = split_text(dataset["test"])
    test_chars = len(test_full)
    if not test_full.strip():
        raise CompareError(f"the test split of {base.corpus!r} is empty: there is nothing to evaluate on")
    eval_text = read_text_file(settings.eval_corpus) if settings.eval_corpus else None  # CorpusError if empty
    train_texts = dataset["train"]["text"]
    names: set[str] = set()
    plans: list[_Plan] = []
    for spec in settings.tokenizers:
        log(f"checking tokenizer {spec} ...")
        tokenizer = train_tokenizer(spec, train_texts)  # bad option values (bpe:0) fail here
        name = run_name(spec)
        while name in names:
            name += "_"
        names.add(name)
        plan = _Plan(spec, name, out / RUNS_DIR / name, tokenizer)
        if settings.eval_chars is not None:
            # Periodic validation reads the same stretch of text for every tokenizer.
            val = encode_split(dataset["validation"], tokenizer)
            plan.eval_tokens = max(2, math.ceil(settings.eval_chars / max(1e-9, val.chars_per_token)))
        if settings.unk_penalty:  # refuse a tokenizer whose <unk> cannot be charged now, not after training
            for text in dataset["test"]["text"]:
                unk_pieces(tokenizer, row_text(text))
            if eval_text is not None:
                unk_pieces(tokenizer, eval_text)
        plans.append(plan)

    vocab_sizes = [p.tokenizer.vocab_size for p in plans]
    target, note = None, (
        f"same sizes: embedding {base.model.embedding_dim}, hidden {base.model.hidden_size}, "
        f"{base.model.num_layers} {base.model.rnn_type.upper()} layer(s); parameter counts differ with the vocabulary"
    )
    if settings.match == "params":
        if settings.params is not None:
            target, source = settings.params, "given with --params"
        else:
            median = statistics.median_low(vocab_sizes)
            target = count_parameters(dataclasses.replace(base.model, vocab_size=median))
            which = next(p.spec for p in plans if p.tokenizer.vocab_size == median)
            source = (f"the default-size model (embedding {base.model.embedding_dim}, hidden "
                      f"{base.model.hidden_size}) with the median vocabulary ({which}, {median:,} tokens)")
        note = (f"about the same number of parameters: target {target:,}, {source}; the hidden size "
                "(and the tied embedding) is scaled per tokenizer, layers stay the same")
    for plan in plans:
        if target is None:
            plan.model = dataclasses.replace(base.model, vocab_size=plan.tokenizer.vocab_size)
        else:
            plan.model = match_hidden_size(base.model, plan.tokenizer.vocab_size, target)
        plan.model.validate()

    if not settings.overwrite:
        taken = [str(p.out) for p in plans if ckpt.is_checkpoint(p.out)]
        if (out / JSON_FILE).exists():
            taken.insert(0, str(out / JSON_FILE))
        if taken:
            raise CompareError(f"{taken[0]} already exists; pass --overwrite to replace the comparison in {out}")

    # --- training: one run per tokenizer, identical settings but tokenizer and size ---
    rows: list[Row] = []
    bundles = {}
    sample_config = SampleConfig(temperature=settings.temperature)
    for i, plan in enumerate(plans, 1):
        row_start = time.perf_counter()
        config = copy.deepcopy(base)
        config.tokenizer, config.out, config.model = plan.spec, str(plan.out), copy.deepcopy(plan.model)
        config.eval_tokens = plan.eval_tokens
        log(f"[{i}/{len(plans)}] training {plan.spec}: vocabulary {plan.tokenizer.vocab_size:,}, "
            f"{count_parameters(plan.model):,} parameters")
        result = train(config, overwrite=settings.overwrite, progress=progress)
        bundle = result.bundle
        bundles[plan.spec] = bundle
        test = score_split(bundle.model, bundle.tokenizer, result.dataset["test"])
        text = _sample(bundle, settings.prompt, settings.sample_chars, sample_config, base.seed) if settings.sample_chars else ""
        rows.append(Row(
            tokenizer=plan.spec, name=plan.name, checkpoint=str(plan.out),
            vocab_size=bundle.tokenizer.vocab_size, parameters=bundle.model.num_parameters(),
            embedding_dim=plan.model.embedding_dim, hidden_size=plan.model.hidden_size,
            steps=result.steps, tokens_seen=result.tokens_seen, train_seconds=result.seconds,
            wall_seconds=time.perf_counter() - row_start, tokens_per_second=result.tokens_per_second,
            sample=text, history=result.history, test=test,
        ))
        log(f"[{i}/{len(plans)}] {plan.spec}: {result.steps} steps in {result.seconds:.0f} s, "
            f"test {test.raw.bits_per_char:.3f} bits/char")

    # --- scoring with the penalty (needs the char model, wherever it is in the list) ---
    penalty_note = None
    if settings.unk_penalty:
        num_symbols = CharTokenizer.train_from_texts(train_texts).vocab_size
        uniform = Speller(num_symbols)
        char_spec = next((r.tokenizer for r in rows if isinstance(bundles[r.tokenizer].tokenizer, CharTokenizer)), None)
        speller = (Speller(num_symbols, bundles[char_spec].model, bundles[char_spec].tokenizer, char_spec)
                   if char_spec else uniform)
        penalty_note = (f"each <unk> is charged the cost of spelling the text it hides: {speller.describe()}"
                        + (f"; the `{char_spec}` model's own <unk> characters: {uniform.describe()}" if char_spec else ""))
    for row in rows:
        bundle = bundles[row.tokenizer]
        speller_here = None
        if settings.unk_penalty:
            speller_here = uniform if isinstance(bundle.tokenizer, CharTokenizer) else speller
            pieces = [p for text in dataset["test"]["text"] for p in unk_pieces(bundle.tokenizer, row_text(text))]
            row.test = Score(row.test.raw, speller_here.cost(pieces), speller_here.describe())
        if eval_text is not None:
            row.eval_text = score_text(bundle.model, bundle.tokenizer, eval_text, speller_here)

    comparison = Comparison(
        settings=settings, rows=rows, target_params=target, target_note=note, penalty_note=penalty_note,
        test_text=f"the test split of {base.corpus} ({test_chars:,} characters)",
        eval_text=(f"{settings.eval_corpus} ({len(eval_text):,} characters)" if eval_text is not None else None),
        seconds=time.perf_counter() - started, machine=_machine(load_before),
    )
    comparison.files = write_report(comparison, out)
    return comparison


def _sample(bundle, prompt: str, chars: int, sample: SampleConfig, seed: int) -> str:
    """Prompt + about `chars` characters of continuation, whatever the tokenization.

    Every tokenizer shows the same length of text rather than the same number
    of tokens, so drawing stops as soon as `chars` characters have come out.
    """
    from wordgen.generate import stream

    text = ""
    # The cap only guards against a model that keeps drawing empty pieces.
    for (piece,) in stream(bundle.model, bundle.tokenizer, prompt, max_tokens=4 * chars + 16, sample=sample, seed=seed):
        text += piece
        if len(text) >= chars:
            break
    return prompt + text[:chars]


# ---------------------------------------------------------------- tables and files

_COLUMNS = [
    # (header, key, format); keys are looked up in table_rows' dicts
    ("tokenizer", "label", "{}"),
    ("vocab", "vocab_size", "{:,}"),
    ("params", "parameters", "{:,}"),
    ("hidden", "hidden_size", "{}"),
    ("tokens/char", "tokens_per_char", "{:.3f}"),
    ("train tokens/s", "tokens_per_second", "{:,.0f}"),
    ("wall s", "wall_seconds", "{:.0f}"),
    ("ppl/token", "ppl_token", "{:.2f}"),
    ("bits/char", "bits_per_char", "{:.3f}"),
    ("ppl/word", "ppl_word", "{:.1f}"),
    ("<unk> rate", "unk_rate", "{:.2%}"),
]
_EVAL_COLUMNS = [c for c in _COLUMNS if c[1] in ("label", "tokens_per_char", "ppl_token", "bits_per_char", "ppl_word", "unk_rate")]


def _label(row: Row, score: Score) -> str:
    if not score.raw.num_unk:
        return row.tokenizer
    return f"{row.tokenizer} {MARK_PENALISED if score.penalty_by else MARK_OPTIMISTIC}"


def table_rows(comparison: Comparison, which: str = "test") -> list[dict]:
    """Flat dicts, one per tokenizer, of the figures for `which` ('test' or 'eval_text')."""
    out = []
    for row in comparison.rows:
        score = getattr(row, which)
        if score is None:
            continue
        d = {k: v for k, v in row.to_dict().items() if k not in ("history", "test", "eval_text")}
        d.update(score.to_dict(), label=_label(row, score), text=which)
        out.append(d)
    return out


def _cell(text: str, width: int = 40) -> str:
    # A sample may hold newlines and bars; inside a Markdown table both would break
    # the row. The full samples are in report.md below the table and in the files.
    text = " ".join(text.replace("\n", " ⏎ ").split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict], columns=None, sample: bool = False) -> str:
    """A Markdown table with padded columns (readable as plain text too)."""
    columns = list(columns or _COLUMNS)
    header = [c[0] for c in columns] + (["sample"] if sample else [])
    body = [[fmt.format(r[key]) for _, key, fmt in columns] + ([_cell(r["sample"])] if sample else []) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    numeric = [False] + [True] * (len(columns) - 1) + ([False] if sample else [])

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if n else (":" + "-" * (w + 1)) for w, n in zip(widths, numeric)) + "|"
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def footnotes(comparison: Comparison) -> list[str]:
    """The lines a reader needs under the table: marks, penalty, matching, texts."""
    notes = [
        f"Evaluated on {comparison.test_text}; validation only chose each run's best checkpoint.",
        f"Models matched by {comparison.target_note}.",
    ]
    rows = [r for r in comparison.rows if r.test and r.test.raw.num_unk]
    if any(not r.test.penalty_by for r in rows):
        notes.append(f"{MARK_OPTIMISTIC} <unk> occurs and is not charged: unseen words share one token, so these "
                     "figures are optimistic (rerun with --unk-penalty).")
    if comparison.penalty_note:
        notes.append(f"{MARK_PENALISED} {comparison.penalty_note[0].upper()}{comparison.penalty_note[1:]}.")
    return notes


def summary(comparison: Comparison) -> str:
    """The table(s) and notes, as the CLI prints them."""
    parts = [markdown_table(table_rows(comparison, "test"), sample=True), "", *footnotes(comparison)]
    if comparison.eval_text:
        parts += ["", f"Also evaluated on {comparison.eval_text}:", "",
                  markdown_table(table_rows(comparison, "eval_text"), _EVAL_COLUMNS)]
    return "\n".join(parts)


def report_markdown(comparison: Comparison, plot_name: str | None = PLOT_FILE) -> str:
    """report.md: settings, the rules, the table with samples, the plot."""
    s, base = comparison.settings, comparison.settings.base
    stop = ", ".join(f"{label} {value:g}" for label, value in (
        ("time budget (s)", base.time_budget), ("epochs", base.epochs), ("max steps", base.max_steps))
        if value is not None)
    m = comparison.machine
    lines = [
        f"# Tokenizer comparison on `{base.corpus}`",
        "",
        f"Tokenizers: {', '.join(f'`{t}`' for t in s.tokenizers)}. Every model: {base.model.num_layers} "
        f"{base.model.rnn_type.upper()} layer(s), dropout {base.model.dropout:g}, batch {base.batch_size} x "
        f"{base.seq_len} tokens, learning rate {base.lr:g}, seed {base.seed}; each stopped at: {stop}.",
        f"Whole comparison: {comparison.seconds:.0f} s on {m['cpu_count']} CPU cores ({m['torch_threads']} torch "
        f"threads); load average before {_load(m['load_average_before'])}, after {_load(m['load_average_after'])} "
        "(time budgets are wall-clock, so a busy machine trains less).",
        "",
        "## Results",
        "",
        markdown_table(table_rows(comparison, "test"), sample=True),
        "",
        *(f"- {n}" for n in footnotes(comparison)),
    ]
    if comparison.eval_text:
        lines += ["", f"### Also evaluated on {comparison.eval_text}", "",
                  markdown_table(table_rows(comparison, "eval_text"), _EVAL_COLUMNS)]
    if plot_name:
        lines += ["", f"![bits per character and learning curves]({plot_name})"]
    prompt = repr(s.prompt) if s.prompt else "a new line"
    lines += ["", "## Samples", "",
              f"Prompt: {prompt}; temperature {s.temperature:g}, seed {base.seed}; {s.sample_chars} characters each.", ""]
    for row in comparison.rows:
        lines += [f"**{row.tokenizer}**", "", "```", row.sample.strip("\n"), "```", ""]
    lines += [
        "## How the figures are measured",
        "",
        "- One total negative log-likelihood (NLL) per model and text. Perplexity per token = exp(NLL / tokens); "
        "bits per character = NLL / ln 2 / characters of the *original* text; perplexity per word = "
        "exp(NLL / whitespace-separated words of the original text). Only the last two compare across tokenizers.",
        "- The first token of a text has no context and is charged ln(vocabulary size).",
        "- Vocabularies and BPE merges are learned on the training split only.",
        "- A word model maps every unseen word to one `<unk>` token whose probability covers all of them at once, "
        "so its figures are optimistic; the `<unk>` rate is reported beside them"
        + (" and each `<unk>` is charged its spelling cost (see the notes above)." if s.unk_penalty
           else " (rerun with `--unk-penalty` to charge each `<unk>` the cost of spelling its word)."),
        f"- Models are matched by {comparison.target_note}.",
        "- Tokens/char is measured on the evaluation text; train tokens/s counts the validation pauses; wall s "
        "covers the tokenizer, training, evaluation and the sample of that row.",
        f"- Periodic validation reads the first {s.eval_chars:,} characters of the validation split for every "
        "tokenizer (the learning curves); the table uses the whole test split." if s.eval_chars else
        "- Periodic validation reads the whole validation split (the learning curves).",
        f"- Checkpoints: `{Path(s.out) / RUNS_DIR}/<name>`; `wordgen evaluate <checkpoint> --split test` "
        "reproduces the bits per character without the `<unk>` penalty (`raw_bits_per_char` in results.json).",
    ]
    return "\n".join(lines) + "\n"


def _load(load) -> str:
    return "n/a" if not load else " / ".join(f"{x:.2f}" for x in load)


_CSV_FIELDS = [
    "tokenizer", "text", "vocab_size", "parameters", "embedding_dim", "hidden_size", "steps", "tokens_seen",
    "train_seconds", "wall_seconds", "tokens_per_second", "num_tokens", "num_chars", "num_words", "num_unk",
    "tokens_per_char", "nll", "ppl_token", "bits_per_char", "ppl_word", "unk_rate", "raw_bits_per_char",
    "unk_penalty_bits_per_char", "unk_penalty_by", "checkpoint", "sample",
]


def results_csv(comparison: Comparison) -> str:
    """One line per tokenizer and evaluation text ('test', then 'eval_text')."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for which in ("test", "eval_text"):
        writer.writerows(table_rows(comparison, which))
    return buffer.getvalue()


def write_report(comparison: Comparison, out) -> dict:
    """Write report.md, results.csv, results.json and comparison.png into `out`; return their paths."""
    from wordgen.plots import plot_comparison  # matplotlib only when a report is written

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in (REPORT_FILE, CSV_FILE, JSON_FILE, PLOT_FILE)}
    plot_comparison(comparison, files[PLOT_FILE])
    ckpt.atomic_write_text(files[JSON_FILE], json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n")
    ckpt.atomic_write_text(files[CSV_FILE], results_csv(comparison))
    ckpt.atomic_write_text(files[REPORT_FILE], report_markdown(comparison))
    for path in files.values():
        os.chmod(path, 0o644)  # written through mkstemp (0600); a report is meant to be shared
    return {name: str(path) for name, path in files.items()}
