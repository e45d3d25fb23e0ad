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
    # Fields left at None are chosen from the training text by wordgen.training.sizerule.choose when
    # train() starts (the size rule: width and regularisation from the number of training
    # tokens, the vocabulary and the budget); config.json records the values chosen. Give a
    # number to fix one. The rule and the search behind it: benchmarks/README.md. A model
    # built directly from a config needs its sizes; dropouts still None are then off.
    embedding_dim: int | None = None  # = hidden_size when None and the weights are tied
    hidden_size: int | None = None
    num_layers: int = 2
    # --- Regularisers for small data (Merity et al. 2017, "Regularizing and Optimizing LSTM
    # Language Models", the AWD-LSTM). All act in train mode only; eval mode (and the
    # generation stepper) computes the plain network.
    dropout: float | None = None  # on the top layer's output, before the softmax (AWD-LSTM "dropout")
    input_dropout: float | None = None  # on the embedded input of the first layer ("dropouti")
    hidden_dropout: float | None = None  # between stacked recurrent layers ("dropouth")
    # True: one dropout mask per sequence and batch row, shared by every time step (variational
    # or "locked" dropout, Gal & Ghahramani 2016); False: a fresh mask per element and step.
    locked_dropout: bool = True
    # Whole words dropped from the embedding for a batch (every occurrence of the word at once),
    # the rest scaled by 1/(1-p) (Gal & Ghahramani 2016, section 4; AWD-LSTM "dropoute").
    embedding_dropout: float | None = None
    # DropConnect on the hidden-to-hidden matrices W_hh: one mask per batch, the same at every
    # time step (Wan et al. 2013; AWD-LSTM "wdrop"); the recurrence itself stays cuDNN/oneDNN's.
    weight_dropout: float | None = None
    # Activation regularisation (AR) alpha * mean(dropped top output ^ 2) and temporal AR
    # beta * mean((h_t - h_{t-1}) ^ 2) of the top layer, added to the training loss only
    # (Merity et al. 2017, section 4.6; their alpha 2, beta 1).
    activation_reg: float = 0.0
    temporal_activation_reg: float = 0.0
    rnn_type: str = "lstm"  # "lstm" or "gru"
    # Share the input embedding and the output matrix (Press & Wolf 2017). None: tied when the
    # output layer is the full softmax (the adaptive one has its own matrices and cannot be).
    tie_weights: bool | None = None
    # "full": one linear layer over the whole vocabulary, then softmax. "adaptive": the
    # exact, normalised adaptive softmax of Grave et al. 2017 ("Efficient softmax
    # approximation for GPUs"): frequent tokens in a small head, rare ones in smaller
    # tail clusters -- several times cheaper for word vocabularies of 10 000+. It has its
    # own output matrices, so it cannot be tied to the embedding. None: chosen by the size
    # rule (wordgen.training.sizerule: adaptive from ADAPTIVE_VOCAB tokens on); a model built by
    # hand without the rule gets "full".
    softmax: str | None = None
    # Ids where the adaptive clusters start (ids must be sorted by frequency, as the word
    # and BPE tokenizers give them). None: 2000 and 10000 where below vocab_size - 1, else
    # a quarter of the vocabulary (tiny vocabularies, e.g. in tests).
    adaptive_cutoffs: list[int] | None = None

    def unresolved(self) -> list[str]:
        """The fields still left to the size rule (None)."""
        return [name for name in AUTO_MODEL_FIELDS if getattr(self, name) is None]

    def output_layer(self) -> str:
        """'full' or 'adaptive': the softmax, 'full' while the size rule has not chosen one."""
        return self.softmax or "full"

    def tied(self) -> bool:
        """Whether the output matrix is the embedding: tie_weights, or when None, whether the softmax is full."""
        return self.output_layer() == "full" if self.tie_weights is None else self.tie_weights

    def rate(self, name: str) -> float:
        """A dropout probability; one left at None (never chosen, e.g. a model built by hand) is 0."""
        return getattr(self, name) or 0.0

    def validate(self) -> None:
        """Check a config a model can be built from: vocabulary and sizes known.

        Dropouts may still be None (a model built outside train(), where the size rule
        runs): the model then leaves them off.
        """
        if self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be at least 1, got {self.vocab_size}")
        self.check_settings()
        if self.output_layer() == "adaptive":
            cutoffs = self.resolved_cutoffs()
            if not cutoffs or any(b <= a for a, b in zip([0, *cutoffs], cutoffs)) or cutoffs[-1] >= self.vocab_size:
                raise ConfigError(
                    f"adaptive softmax needs increasing cutoffs between 1 and vocab_size - 1 "
                    f"({self.vocab_size - 1}), got {cutoffs}; a vocabulary this small needs no adaptive softmax"
                )
        missing = [name for name in ("embedding_dim", "hidden_size") if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} not chosen yet: give a value, or let "
                              "wordgen.training.sizerule.resolve choose it from the training text")
        if self.output_layer() == "adaptive" and self.hidden_size // 4 ** len(self.resolved_cutoffs()) < 1:
            # each tail cluster projects 4x narrower
            raise ConfigError(f"hidden size {self.hidden_size} is too small for {len(self.resolved_cutoffs())} "
                              f"adaptive clusters; it must be at least {4 ** len(self.resolved_cutoffs())}")

    def check_settings(self) -> None:
        """The checks that need no vocabulary and allow fields left to the size rule."""
        for name in ("embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in DROPOUTS:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value}")
        for name in ("activation_reg", "temporal_activation_reg"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.rnn_type not in ("lstm", "gru"):
            raise ConfigError(f"rnn_type must be 'lstm' or 'gru', got {self.rnn_type!r}")
        if self.softmax not in (None, "full", "adaptive"):
            raise ConfigError(f"softmax must be 'full' or 'adaptive', got {self.softmax!r}")
        self.check_adaptive_tie()
        if self.tied() and None not in (self.embedding_dim, self.hidden_size) and self.embedding_dim != self.hidden_size:
            raise ConfigError(
                f"tied weights need embedding_dim == hidden_size "
                f"({self.embedding_dim} != {self.hidden_size}); pass --no-tie-weights"
            )

    def check_adaptive_tie(self) -> None:
        """Checked before the vocabulary is known, so a bad flag fails before training."""
        if self.softmax == "adaptive" and self.tie_weights is True:
            raise ConfigError("the adaptive softmax has its own output matrices and cannot share the "
                              "embedding; leave tie_weights at None (or False) with softmax='adaptive'")

    def resolved_cutoffs(self) -> list[int]:
        if self.adaptive_cutoffs is not None:
            return list(self.adaptive_cutoffs)
        return [c for c in (2000, 10000) if c < self.vocab_size - 1] or [max(1, self.vocab_size // 4)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        # A config.json written before the regularisers existed used `dropout` everywhere,
        # with a fresh mask per step, and nothing else: read it back as exactly that run.
        if not isinstance(d, dict):
            return _from_dict(cls, d)  # refused there, in one line
        # Written before the size rule chose the output layer: these were the defaults then.
        d = {"softmax": "full", "tie_weights": True, **d}
        legacy = {"input_dropout": d.get("dropout", 0.2), "hidden_dropout": d.get("dropout", 0.2),
                  "locked_dropout": False, "embedding_dropout": 0.0, "weight_dropout": 0.0,
                  "activation_reg": 0.0, "temporal_activation_reg": 0.0}
        return _from_dict(cls, {**legacy, **d} if "dropout" in d else d)


# The dropout probabilities of ModelConfig, each checked to be in [0, 1).
DROPOUTS = ("dropout", "input_dropout", "hidden_dropout", "embedding_dropout", "weight_dropout")
# The ModelConfig fields the size rule fills in when they are None.
AUTO_MODEL_FIELDS = ("embedding_dim", "hidden_size", "softmax", *DROPOUTS)


@dataclass
class TrainConfig:
    corpus: str = "shakespeare"  # built-in name, a path, or hf:NAME[:CONFIG]
    tokenizer: str = "word"  # char, word, bpe[:VOCAB], hf:PATH or a registered name
    out: str = "runs/word"  # checkpoint folder
    model: ModelConfig = field(default_factory=ModelConfig)
    # The optimisation recipe -- batch, window, optimizer, learning rate, clip -- left at None is
    # chosen by the size rule from the vocabulary (wordgen.training.sizerule.RECIPES): character-sized
    # vocabularies get AdamW at 6e-3, batches of 32 x 64 and clip 1 (the char search in
    # benchmarks/README.md); word vocabularies plain SGD at lr 20, clip 0.25, batches of 20 x 35,
    # which beat AdamW on a book (benchmarks/README.md, "The size rule").
    batch_size: int | None = None  # B parallel token streams
    seq_len: int | None = None  # T: tokens per truncated-BPTT window
    lr: float | None = None  # peak learning rate
    # "adamw", or "sgd": plain SGD (with weight_decay as an L2 term, as torch.optim.SGD does),
    # which generalises better than Adam on word-level LSTM language models (Merity et al.
    # 2017, section 3; Wilson et al. 2017) and is what pytorch/examples' word_language_model
    # uses, at lr 20 with the gradient norm clipped at 0.25.
    optimizer: str | None = None
    # Weight decay: AdamW's decoupled decay (Loshchilov & Hutter 2019), or SGD's L2 term. None:
    # chosen with the recipe and the dropouts by wordgen.training.sizerule. It applies to the matrices only (embedding, recurrent
    # and output weights), never to biases, as is usual since "Bag of Tricks" (He et al. 2019):
    # pulling a bias towards zero regularises nothing. decay_vectors=True decays every
    # parameter, as wordgen did before (kept so older checkpoints resume exactly).
    weight_decay: float | None = None
    decay_vectors: bool = False
    warmup_steps: int = 50  # linear warm-up, then cosine decay to lr_min_ratio * lr
    lr_min_ratio: float = 0.1
    grad_clip: float | None = None  # max global gradient norm (LSTMs explode without it)
    epochs: float | None = None  # stop after this many passes over the training stream
    max_steps: int | None = None  # ...or after this many optimizer steps
    time_budget: float | None = None  # ...or after this many seconds of training
    # ...or after this many characters of training text: tokens read x the training text's
    # characters per token, so a char model and a word model given the same number read
    # the same amount of text (a time or step budget lets the cheaper tokenizer read more).
    max_chars: int | None = None
    # Steps between validations (and checkpoints). None: every half pass over the training text,
    # at most every 100 steps and at least every 10, so early stopping sees a small book often.
    eval_interval: int | None = None
    # Early stopping on validation (Prechelt 1998, "Early Stopping -- But When?"): after
    # `patience` validations in a row without a new best, the learning rate is divided by
    # `plateau_factor` and training goes on from the best weights; after `plateau_drops` such
    # drops the run stops and says so (TrainResult.early_stop). None: never stop early.
    patience: int | None = 3
    plateau_drops: int = 1
    plateau_factor: float = 4.0
    eval_tokens: int | None = 200_000  # cap on validation tokens per periodic check (None: all)
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:1, mps
    # "bf16": the forward pass and loss under torch.autocast in bfloat16 (weights, optimizer
    # and evaluation stay float32); "fp32": none; "auto": bf16 where the device has bfloat16
    # units (device.bf16_is_fast), else fp32. config.json records what "auto" chose. The
    # speed-up and its effect on the loss are measured in benchmarks/README.md.
    precision: str = "auto"
    stage_directions: bool = False  # keep Shakespeare's stage directions in the text
    # Read the corpus as a stream (datasets' IterableDataset): Hub datasets are not copied
    # to arrow first, folders are read file by file when reached (wordgen.corpora).
    streaming: bool = False
    # Seconds a process of a multi-process (torchrun) run waits for the others at any one
    # message before it gives up with an error: a process that hangs stops the run.
    dist_timeout: float = 600.0

    def validate(self) -> None:
        if (self.batch_size is not None and self.batch_size < 1) or (self.seq_len is not None and self.seq_len < 1):
            raise ConfigError("batch size and sequence length must be at least 1")
        if self.lr is not None and (self.lr <= 0 or not math.isfinite(self.lr)):
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
        if self.weight_decay is not None and not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in (None, "adamw", "sgd"):
            raise ConfigError(f"optimizer must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"--patience must be at least 1, got {self.patience}")
        if self.plateau_drops < 0 or not self.plateau_factor > 1:
            raise ConfigError("plateau_drops must be >= 0 and plateau_factor above 1")
        if self.eval_interval is not None and self.eval_interval < 1:
            raise ConfigError(f"--eval-interval must be at least 1, got {self.eval_interval}")
        if self.eval_tokens is not None and self.eval_tokens < 2:
            raise ConfigError(f"--eval-tokens must be at least 2 (or 0 for the whole split), got {self.eval_tokens}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"gradient clip must be positive, got {self.grad_clip}")
        if not self.dist_timeout > 0:
            raise ConfigError(f"--dist-timeout must be positive seconds, got {self.dist_timeout}")
        self.model.check_settings()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if "model" in d and "decay_vectors" not in d:
            # Written before the weight decay was split by parameter kind, and before early
            # stopping: resume such a run as it was (one decayed group, no stopping).
            d.setdefault("decay_vectors", True)
            d.setdefault("patience", None)
            d.setdefault("optimizer", "adamw")
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
