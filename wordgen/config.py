"""Settings as plain dataclasses, with their defaults commented where they are set.

`ModelConfig` describes the network (it is what `config.json` in a checkpoint
holds, with the tokenizer spec and the corpus beside it), `TrainConfig` a
training run, `SampleConfig` one way of drawing text. Each validates itself
(`validate()` raises `ConfigError` with a one-line message) and round-trips
through JSON-friendly dicts. Nothing here imports torch or reads files.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from wordgen.errors import ConfigError


def _from_dict(cls, d: dict):
    """Build dataclass `cls` from a dict, refusing keys it does not know and values of the wrong type."""
    if not isinstance(d, dict):
        raise ConfigError(f"{cls.__name__} settings must be a JSON object, not {type(d).__name__}")
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} setting(s): {', '.join(unknown)}")
    for name, value in d.items():
        if not _has_type(value, fields[name]):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ConfigError(f"{cls.__name__} setting {name!r} must be {fields[name]}, got {shown}")
    return cls(**d)


def _has_type(value: object, annotation: str) -> bool:
    """Whether `value` fits a field annotation as this module writes them ("int", "float | None", ...).

    The annotations are strings (`from __future__ import annotations`); a bool is not
    taken for a number, an int is taken for a float (JSON writes 1.0 as 1 in some tools).
    """
    for kind in (part.strip() for part in annotation.split("|")):
        if kind == "None" and value is None:
            return True
        if isinstance(value, bool):
            if kind == "bool":
                return True
            continue
        if (kind == "int" and isinstance(value, int)) or (kind == "float" and isinstance(value, (int, float))):
            return True
        if kind == "str" and isinstance(value, str):
            return True
        if kind == "list[int]" and isinstance(value, list) and all(_has_type(v, "int") for v in value):
            return True
        if kind == "ModelConfig" and isinstance(value, ModelConfig):
            return True
    return False


@dataclass
class ModelConfig:
    vocab_size: int = 0  # filled in from the tokenizer
    # Sizes, like TrainConfig's learning rate and precision, won a search for the best
    # character-level bits per character after 10 minutes on 2 CPU cores (benchmarks/README.md).
    embedding_dim: int = 384  # = hidden_size by default so the weights can be tied
    hidden_size: int = 384
    num_layers: int = 2
    dropout: float = 0.2  # between layers and before the output layer
    rnn_type: str = "lstm"  # "lstm" or "gru"
    tie_weights: bool = True  # share input embedding and output matrix (Press & Wolf 2017)
    # "full": one linear layer over the whole vocabulary, then softmax. "adaptive": the
    # exact, normalised adaptive softmax of Grave et al. 2017 ("Efficient softmax
    # approximation for GPUs"): frequent tokens in a small head, rare ones in smaller
    # tail clusters -- several times cheaper for word vocabularies of 10 000+. It has its
    # own output matrices, so it cannot be tied to the embedding.
    softmax: str = "full"
    # Ids where the adaptive clusters start (ids must be sorted by frequency, as the word
    # and BPE tokenizers give them). None: 2000 and 10000 where below vocab_size - 1, else
    # a quarter of the vocabulary (tiny vocabularies, e.g. in tests).
    adaptive_cutoffs: list[int] | None = None

    def validate(self) -> None:
        if self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be at least 1, got {self.vocab_size}")
        for name in ("embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.rnn_type not in ("lstm", "gru"):
            raise ConfigError(f"rnn_type must be 'lstm' or 'gru', got {self.rnn_type!r}")
        if self.softmax not in ("full", "adaptive"):
            raise ConfigError(f"softmax must be 'full' or 'adaptive', got {self.softmax!r}")
        if self.softmax == "adaptive":
            self.check_adaptive_tie()
            cutoffs = self.resolved_cutoffs()
            if not cutoffs or any(b <= a for a, b in zip([0, *cutoffs], cutoffs)) or cutoffs[-1] >= self.vocab_size:
                raise ConfigError(
                    f"adaptive softmax needs increasing cutoffs between 1 and vocab_size - 1 "
                    f"({self.vocab_size - 1}), got {cutoffs}; a vocabulary this small needs no adaptive softmax"
                )
            if self.hidden_size // 4 ** len(cutoffs) < 1:  # each tail cluster projects 4x narrower
                raise ConfigError(f"hidden size {self.hidden_size} is too small for {len(cutoffs)} adaptive "
                                  f"clusters; it must be at least {4 ** len(cutoffs)}")
        if self.tie_weights and self.embedding_dim != self.hidden_size:
            raise ConfigError(
                f"tied weights need embedding_dim == hidden_size "
                f"({self.embedding_dim} != {self.hidden_size}); pass --no-tie-weights"
            )

    def check_adaptive_tie(self) -> None:
        """Checked before the vocabulary is known, so a bad flag fails before training."""
        if self.softmax == "adaptive" and self.tie_weights:
            raise ConfigError("the adaptive softmax has its own output matrices and cannot share the "
                              "embedding; pass --no-tie-weights with --softmax adaptive")

    def resolved_cutoffs(self) -> list[int]:
        if self.adaptive_cutoffs is not None:
            return list(self.adaptive_cutoffs)
        return [c for c in (2000, 10000) if c < self.vocab_size - 1] or [max(1, self.vocab_size // 4)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return _from_dict(cls, d)


@dataclass
class TrainConfig:
    corpus: str = "shakespeare"  # built-in name, a path, or hf:NAME[:CONFIG]
    tokenizer: str = "word"  # char, word, bpe[:VOCAB], hf:PATH or a registered name
    out: str = "runs/word"  # checkpoint folder
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 32  # B parallel token streams
    seq_len: int = 64  # T: tokens per truncated-BPTT window
    lr: float = 6e-3  # AdamW peak learning rate
    weight_decay: float = 0.01
    warmup_steps: int = 50  # linear warm-up, then cosine decay to lr_min_ratio * lr
    lr_min_ratio: float = 0.1
    grad_clip: float = 1.0  # max global gradient norm (LSTMs explode without it)
    epochs: float | None = None  # stop after this many passes over the training stream
    max_steps: int | None = None  # ...or after this many optimizer steps
    time_budget: float | None = None  # ...or after this many seconds of training
    # ...or after this many characters of training text: tokens read x the training text's
    # characters per token, so a char model and a word model given the same number read
    # the same amount of text (a time or step budget lets the cheaper tokenizer read more).
    max_chars: int | None = None
    eval_interval: int = 100  # steps between validations (and checkpoints)
    eval_tokens: int | None = 200_000  # cap on validation tokens per periodic check (None: all)
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:1, mps
    # "bf16": the forward pass and loss under torch.autocast in bfloat16 (weights, optimizer
    # and evaluation stay float32); "fp32": none; "auto": bf16 where the device has bfloat16
    # units (device.bf16_is_fast), else fp32. config.json records what "auto" chose. The
    # speed-up and its effect on the loss are measured in benchmarks/README.md.
    precision: str = "auto"
    stage_directions: bool = False  # keep Shakespeare's stage directions in the text

    def validate(self) -> None:
        if self.batch_size < 1 or self.seq_len < 1:
            raise ConfigError("batch size and sequence length must be at least 1")
        if self.lr <= 0 or not math.isfinite(self.lr):
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if self.epochs is not None and self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"--max-steps must be at least 1, got {self.max_steps}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise ConfigError(f"--time-budget must be positive seconds, got {self.time_budget}")
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"--chars must be at least 1 character, got {self.max_chars}")
        if self.epochs is None and self.max_steps is None and self.time_budget is None and self.max_chars is None:
            raise ConfigError("say when to stop: give --epochs, --max-steps, --chars or --time-budget")
        if self.eval_interval < 1:
            raise ConfigError(f"--eval-interval must be at least 1, got {self.eval_interval}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        if self.grad_clip <= 0:
            raise ConfigError(f"gradient clip must be positive, got {self.grad_clip}")
        self.model.check_adaptive_tie()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["model"] = ModelConfig.from_dict(d.get("model", {}))
        return _from_dict(cls, d)


@dataclass
class SampleConfig:
    """How the next token is drawn. greedy wins over everything else.

    temperature 0 also means greedy; top_k and top_p filter the distribution
    *after* the temperature is applied and can be combined.
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def validate(self) -> None:
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top-p must be in (0, 1], got {self.top_p}")

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0

    def describe(self) -> str:
        if self.is_greedy:
            return "greedy"
        parts = [f"temperature {self.temperature:g}"]
        if self.top_k is not None:
            parts.append(f"top-k {self.top_k}")
        if self.top_p is not None:
            parts.append(f"top-p {self.top_p:g}")
        return ", ".join(parts)
