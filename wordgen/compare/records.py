"""What a comparison is asked to do and what it found: CompareSettings in; Row and Comparison out.

Also the names of the files a comparison writes and its error kind, so that every
module of the package agrees on them. Plain dataclasses: nothing here trains,
scores or writes anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wordgen.config import SampleConfig, TrainConfig
from wordgen.errors import WordgenError
from wordgen.training.plan import SOURCES, flat

if TYPE_CHECKING:
    from wordgen.compare.score import Score

REPORT_FILE = "report.md"
CSV_FILE = "results.csv"
JSON_FILE = "results.json"
PLOT_FILE = "comparison.png"
RUNS_DIR = "runs"
SHARED, PER_TOKENIZER = "shared", "per-tokenizer"  # CompareSettings.recipe


class CompareError(WordgenError):
    """A comparison cannot be set up as asked (bad list, bad target, existing output)."""


@dataclass
class CompareSettings:
    base: TrainConfig  # corpus, model sizes, batch, stop rule, seed; tokenizer and out are per run
    tokenizers: list[str]  # specs, e.g. parse_tokenizer_list("char,word,bpe:2000")
    out: str  # report folder; checkpoints go to out/runs/<name>
    match: str = "size"  # "size": same embedding/hidden sizes; "params": same parameter count
    params: int | None = None  # target for match="params" (None: the median-vocabulary default model)
    # SHARED: one recipe for every tokenizer (wordgen.compare.recipe); PER_TOKENIZER: the size
    # rule's own choice for each, which makes the rows differ in more than the tokenization.
    recipe: str = SHARED
    # Charged by default: an uncharged <unk> makes a closed vocabulary look better than it is.
    unk_penalty: bool = True
    eval_corpus: str | None = None  # a text file scored as well as the test split
    eval_chars: int | None = 10_000  # characters of validation per periodic check (None: all)
    prompt: str = ""  # common prompt of the samples ("" starts a new line)
    sample_chars: int = 160  # characters of continuation kept per sample
    temperature: float = 0.8
    overwrite: bool = False
    seeds: int = 1  # runs per tokenizer, seeds base.seed .. base.seed + seeds - 1 (the split stays base.seed's)
    # Where the base's settings came from (dotted TrainConfig field -> a key of
    # wordgen.training.plan.SOURCES, e.g. {"lr": "flag"}); saved in each run's config.json.
    sources: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        self.base.validate()
        if self.recipe not in (SHARED, PER_TOKENIZER):
            raise CompareError(f"CompareSettings.recipe must be {SHARED!r} or {PER_TOKENIZER!r}, got {self.recipe!r}")
        if self.base.eval_tokens != TrainConfig().eval_tokens:
            # The cap in tokens would read another stretch of text for every tokenizer.
            raise CompareError("a comparison sets each run's periodic validation from CompareSettings.eval_chars "
                               "(the same characters for every tokenizer); leave CompareSettings.base.eval_tokens "
                               "at its default")
        unknown = sorted(set(self.sources) - set(flat(TrainConfig())))
        if unknown or not set(self.sources.values()) <= set(SOURCES):
            raise CompareError(f"CompareSettings.sources must map TrainConfig fields to one of {', '.join(SOURCES)}; "
                               f"got {self.sources!r}")
        if self.match not in ("size", "params"):
            raise CompareError(f"CompareSettings.match must be 'size' or 'params', got {self.match!r}")
        if self.params is not None and self.match != "params":
            raise CompareError("a parameter target (CompareSettings.params) only makes sense with CompareSettings.match "
                               "'params'")
        if self.params is not None and self.params < 1:
            raise CompareError(f"CompareSettings.params must be a positive number of parameters, got {self.params}")
        if self.eval_chars is not None and self.eval_chars < 1:
            raise CompareError(f"CompareSettings.eval_chars must be at least 1, got {self.eval_chars}")
        if self.sample_chars < 0:
            raise CompareError(f"CompareSettings.sample_chars must be >= 0, got {self.sample_chars}")
        SampleConfig(temperature=self.temperature).validate()
        if not self.tokenizers:
            raise CompareError("CompareSettings.tokenizers is empty: give at least one tokenizer")
        if self.seeds < 1:
            raise CompareError(f"CompareSettings.seeds must be at least 1, got {self.seeds}")


@dataclass
class Row:
    """One run: one tokenizer, one seed."""

    tokenizer: str
    name: str
    seed: int
    checkpoint: str
    vocab_size: int
    parameters: int
    embedding_dim: int
    hidden_size: int
    steps: int
    tokens_seen: int
    train_seconds: float
    wall_seconds: float  # training + evaluation + sample, for this row (tokenizers are trained before)
    tokens_per_second: float
    chars_seen: float  # characters of training text read: tokens x the training text's characters per token
    sample: str
    history: list[dict]
    recipe: dict = field(default_factory=dict)  # the run's recipe fields as trained (wordgen.compare.recipe)
    cpu: dict = field(default_factory=dict)  # wordgen.cpu.CpuWatch during the run: how busy the rest of the machine was
    thread_changes: list = field(default_factory=list)  # (seconds, torch threads) as wordgen.cpu set them
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
    recipe_note: str  # how the recipe was chosen (wordgen.compare.recipe), in words
    test_text: str  # description of the test text
    eval_text: str | None
    seconds: float
    machine: dict  # wordgen.device.machine_info(), with the load average before and after
    budget: str = ""  # which stop rule was equal for every model, and what it favours (report.budget_note)
    files: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        s = self.settings
        return {
            "settings": {
                "corpus": s.base.corpus, "tokenizers": s.tokenizers, "out": s.out,
                "train": s.base.to_dict(), "match": s.match, "params": s.params, "recipe": s.recipe,
                "unk_penalty": s.unk_penalty, "eval_corpus": s.eval_corpus, "eval_chars": s.eval_chars,
                "prompt": s.prompt, "sample_chars": s.sample_chars, "temperature": s.temperature,
                "seeds": list(self.seeds),
            },
            "target_params": self.target_params, "matched_by": self.target_note, "recipe": self.recipe_note,
            "unk_penalty_by": self.penalty_note, "test_text": self.test_text, "eval_text": self.eval_text,
            "seconds": self.seconds, "machine": self.machine, "budget": self.budget,
            "rows": [r.to_dict() for r in self.rows],  # every run, in the order they ran
        }

    @property
    def seeds(self) -> range:
        s = self.settings
        return range(s.base.seed, s.base.seed + s.seeds)

    def runs_of(self, tokenizer: str) -> list[Row]:
        """The runs of one tokenizer spec, one per seed."""
        return [r for r in self.rows if r.tokenizer == tokenizer]
