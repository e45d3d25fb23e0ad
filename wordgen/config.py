"""Settings as plain dataclasses, with their defaults commented where they are set.

`ModelConfig` describes the network (it is what `config.json` in a checkpoint
holds, with the tokenizer spec and the corpus beside it), `TrainConfig` a
training run, `SampleConfig` one way of drawing text. Each validates itself
(`validate()` raises `ConfigError` with a one-line message that names the field,
e.g. `TrainConfig.epochs`) and round-trips through JSON-friendly dicts. A field
made with `setting()` also carries its command-line option (flag, help, choices):
wordgen.options builds the options of `wordgen` and of the tasks from it.

Not here: torch, files, argparse (wordgen.options), the size rule that fills in
the fields left at None (wordgen.training.sizerule).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from wordgen.errors import ConfigError


def setting(default=None, help: str = "", *, flag: str | None = None, choices: tuple[str, ...] | None = None,
            metavar: str | None = None, size_rule: bool = False, unset: str | None = None,
            zero_is_none: bool = False, count: bool = False):
    """A dataclass field that is also a command-line option (wordgen.options reads the metadata).

    flag: the option, by default the field's name with dashes (`max_steps` -> `--max-steps`);
    a flag starting with `--no-` sets a bool field to False, any other flag of a bool sets it
    to True. size_rule: None is chosen by the size rule, and --help says so. unset: what None
    means otherwise, for --help. zero_is_none: the option's value 0 stands for None.
    count: a whole number that may be written 2e6 or 2_000_000.
    """
    return field(default=default, metadata=dict(help=help, flag=flag, choices=choices, metavar=metavar,
                                                size_rule=size_rule, unset=unset, zero_is_none=zero_is_none, count=count))


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
    # Fields left at None are chosen from the training text by the size rule
    # (wordgen.training.sizerule) when train() starts; config.json records the values chosen.
    # A model built directly from a config needs its sizes; dropouts still None are then off.
    embedding_dim: int | None = setting(help="token embedding size (the hidden size when the weights are tied)",
                                        size_rule=True)
    hidden_size: int | None = setting(help="recurrent hidden size", size_rule=True)
    num_layers: int = setting(2, "stacked recurrent layers")
    # --- Regularisers for small data (Merity et al. 2017, "Regularizing and Optimizing LSTM
    # Language Models", the AWD-LSTM). All act in train mode only; eval mode (and the
    # generation stepper) computes the plain network.
    dropout: float | None = setting(  # AWD-LSTM "dropout"
        help="dropout on the top layer's output, before the softmax", size_rule=True)
    input_dropout: float | None = setting(help="dropout on the embedded input", size_rule=True)  # "dropouti"
    hidden_dropout: float | None = setting(help="dropout between recurrent layers", size_rule=True)  # "dropouth"
    # True: one dropout mask per sequence and batch row, shared by every time step (variational
    # or "locked" dropout, Gal & Ghahramani 2016); False: a fresh mask per element and step.
    locked_dropout: bool = setting(True, "a fresh dropout mask at every time step instead of one per sequence",
                                   flag="--no-locked-dropout")
    # Every occurrence of a word dropped at once, the rest scaled by 1/(1-p) (Gal & Ghahramani
    # 2016, section 4; AWD-LSTM "dropoute").
    embedding_dropout: float | None = setting(help="share of whole words dropped from the embedding per batch",
                                              size_rule=True)
    # One DropConnect mask per batch, the same at every time step (Wan et al. 2013; AWD-LSTM
    # "wdrop"), so the recurrence itself stays cuDNN's / oneDNN's.
    weight_dropout: float | None = setting(help="DropConnect on the hidden-to-hidden weights", size_rule=True)
    # AR alpha * mean(dropped top output ^ 2) and temporal AR beta * mean((h_t - h_{t-1}) ^ 2) of
    # the top layer, added to the training loss only (Merity et al. 2017, section 4.6).
    activation_reg: float = setting(0.0, "activation regularisation alpha")
    temporal_activation_reg: float = setting(0.0, "temporal activation regularisation beta")
    rnn_type: str = setting("lstm", "recurrent cell", flag="--rnn", choices=("lstm", "gru"))
    # Share the input embedding and the output matrix (Press & Wolf 2017). None: tied when the
    # output layer is the full softmax (the adaptive one has its own matrices and cannot be).
    tie_weights: bool | None = setting(
        help="use a separate output matrix instead of reusing the input embedding (the adaptive softmax "
             "always has its own)", flag="--no-tie-weights")
    # "adaptive": the exact, normalised adaptive softmax of Grave et al. 2017 ("Efficient softmax
    # approximation for GPUs"): frequent tokens in a small head, rare ones in smaller tail
    # clusters. It has its own output matrices, so it cannot be tied to the embedding. None: the
    # size rule's choice (adaptive from sizerule.ADAPTIVE_VOCAB tokens); a model built by hand gets "full".
    softmax: str | None = setting(
        help="output layer: the full softmax, or the exact adaptive softmax (Grave et al. 2017), several "
             "times faster for word vocabularies of 10 000+", choices=("full", "adaptive"), size_rule=True)
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
            raise ConfigError(f"ModelConfig.vocab_size must be at least 1, got {self.vocab_size}")
        self.check_settings()
        if self.output_layer() == "adaptive":
            cutoffs = self.resolved_cutoffs()
            if not cutoffs or any(b <= a for a, b in zip([0, *cutoffs], cutoffs)) or cutoffs[-1] >= self.vocab_size:
                raise ConfigError(
                    f"the adaptive softmax needs ModelConfig.adaptive_cutoffs increasing between 1 and "
                    f"vocab_size - 1 ({self.vocab_size - 1}), got {cutoffs}; a vocabulary this small needs "
                    "no adaptive softmax"
                )
        missing = [f"ModelConfig.{name}" for name in ("embedding_dim", "hidden_size") if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} not chosen yet: give a value, or let "
                              "wordgen.training.sizerule.resolve choose it from the training text")
        clusters = len(self.resolved_cutoffs())
        if self.output_layer() == "adaptive" and self.hidden_size // 4 ** clusters < 1:
            # each tail cluster projects 4x narrower
            raise ConfigError(f"ModelConfig.hidden_size must be at least {4 ** clusters} for {clusters} adaptive "
                              f"clusters, got {self.hidden_size}")

    def check_settings(self) -> None:
        """The checks that need no vocabulary and allow fields left to the size rule."""
        for name in ("embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)}")
        for name in DROPOUTS:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"ModelConfig.{name} must be in [0, 1), got {value}")
        for name in ("activation_reg", "temporal_activation_reg"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise ConfigError(f"ModelConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.rnn_type not in ("lstm", "gru"):
            raise ConfigError(f"ModelConfig.rnn_type must be 'lstm' or 'gru', got {self.rnn_type!r}")
        if self.softmax not in (None, "full", "adaptive"):
            raise ConfigError(f"ModelConfig.softmax must be 'full' or 'adaptive', got {self.softmax!r}")
        self.check_adaptive_tie()
        if self.tied() and None not in (self.embedding_dim, self.hidden_size) and self.embedding_dim != self.hidden_size:
            raise ConfigError(
                f"tied weights need ModelConfig.embedding_dim == ModelConfig.hidden_size "
                f"({self.embedding_dim} != {self.hidden_size}); or untie them: ModelConfig.tie_weights=False"
            )

    def check_adaptive_tie(self) -> None:
        """Checked before the vocabulary is known, so a bad setting fails before training."""
        if self.softmax == "adaptive" and self.tie_weights is True:
            raise ConfigError("the adaptive softmax has its own output matrices and cannot share the embedding: "
                              "ModelConfig.softmax='adaptive' needs ModelConfig.tie_weights None or False")

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
    corpus: str = setting(  # built-in name, a path, or hf:NAME[:CONFIG]
        "shakespeare",
        "what to train or evaluate on: a built-in corpus (`shakespeare`, `shakespeare:macbeth`; see `wordgen "
        "corpora`), a .txt file, a folder of them or a glob (Project Gutenberg headers are stripped), or a "
        "Hugging Face dataset `hf:NAME[:CONFIG]` (needs the network unless NAME is a local folder)")
    tokenizer: str = setting(
        "word", "char, word (word:min_freq=2,max_vocab=10000), bpe (bpe:VOCAB, e.g. bpe:2000), "
                "hf:PATH/tokenizer.json, or a name given to register_tokenizer")
    out: str = setting("runs/word", "checkpoint folder to write")
    # Fine-tuning (wordgen.training.finetune): a new run that starts from another model's weights.
    init: str | None = setting(
        help="start from this model's weights (fine-tuning): a checkpoint folder, a shipped base (base:word, "
             "base:bpe) or hf:ORG/NAME, a Hub repository that holds a checkpoint folder",
        metavar="CKPT", unset="from scratch")
    init_sha256: str | None = None  # the SHA-256 of the base's weights, filled in by the run for config.json
    model: ModelConfig = field(default_factory=ModelConfig)
    # The optimisation recipe -- batch, window, optimizer, learning rate, clip -- left at None is
    # chosen by the size rule from the vocabulary (wordgen.training.sizerule.RECIPES); the
    # searches behind each recipe are in docs/development/log.md.
    batch_size: int | None = setting(help="parallel token streams B", size_rule=True)
    seq_len: int | None = setting(help="tokens per truncated-BPTT window T", size_rule=True)
    lr: float | None = setting(help="peak learning rate", size_rule=True)
    # "sgd": plain SGD (with weight_decay as an L2 term, as torch.optim.SGD does), which
    # generalises better than Adam on word-level LSTM language models (Merity et al. 2017,
    # section 3; Wilson et al. 2017) and is what pytorch/examples' word_language_model uses.
    optimizer: str | None = setting(
        help="adamw, or plain sgd (word_language_model's recipe: learning rate 20, gradient clip 0.25); the "
             "size rule picks sgd for word-sized vocabularies", choices=("adamw", "sgd"), size_rule=True)
    # AdamW's decoupled decay (Loshchilov & Hutter 2019), or SGD's L2 term, on the matrices only
    # (embedding, recurrent and output weights), never on biases, as is usual since "Bag of
    # Tricks" (He et al. 2019): pulling a bias towards zero regularises nothing. decay_vectors=True
    # decays every parameter, as wordgen did before (kept so older checkpoints resume exactly).
    weight_decay: float | None = setting(help="weight decay on the weight matrices, AdamW's or SGD's L2",
                                         size_rule=True)
    decay_vectors: bool = False
    warmup_steps: int = 50  # linear warm-up, then cosine decay to lr_min_ratio * lr
    lr_min_ratio: float = 0.1
    grad_clip: float | None = setting(help="largest global gradient norm (LSTMs explode without a clip)",
                                      size_rule=True)
    # The stop rules: the run ends at the first one reached; at least one is needed.
    epochs: float | None = setting(help="stop after this many passes over the training text")
    max_steps: int | None = setting(help="stop after this many optimizer steps")
    time_budget: float | None = setting(help="stop training after this many seconds", metavar="SECONDS")
    # Counted as tokens read x the training text's characters per token, so a char model and a
    # word model given the same number read the same text (a time or step budget lets the
    # cheaper tokenizer read more).
    max_chars: int | None = setting(
        help="stop after reading N characters of training text (2e6 or 2000000): models with different "
             "tokenizers then read the same text", flag="--chars", metavar="N", count=True)
    # None: every half pass, so that early stopping sees a small book often.
    eval_interval: int | None = setting(help="steps between validations and checkpoints",
                                        unset="every half pass, 10 to 100 steps")
    # Early stopping on validation (Prechelt 1998, "Early Stopping -- But When?"): after `patience`
    # validations without a new best, the learning rate is divided by `plateau_factor` and training
    # goes on from the best weights; after `plateau_drops` such drops the run stops and says so.
    patience: int | None = setting(
        3, "validations without a new best before the learning rate drops, then before training stops early; "
           "0: never stop early", zero_is_none=True)
    plateau_drops: int = 1
    plateau_factor: float = 4.0
    # None: the plan chooses (wordgen.training.plan.eval_slice): the whole split, or as much of
    # its start as keeps the checks near 5 % of training's compute. 0: the whole split always.
    eval_tokens: int | None = setting(
        None, "validation tokens per check during training, from the start of the split; 0: the whole split",
        unset="the whole split, or its start, so that checks cost about 5 % of training")
    seed: int = setting(0, "seeds the split, the initialisation, dropout and sampling")
    device: str = setting("auto", "auto, cpu, cuda, cuda:N, mps")
    # "bf16": the forward pass and loss under torch.autocast in bfloat16 (weights, optimizer and
    # evaluation stay float32); "auto": bf16 where the device has bfloat16 units
    # (device.bf16_is_fast). config.json records what "auto" chose.
    precision: str = setting(
        "auto", "bf16: train under bfloat16 autocast, faster where the CPU or GPU has bfloat16 units; auto: bf16 "
                "where it has them, else fp32", choices=("auto", "fp32", "bf16"))
    stage_directions: bool = setting(False, "keep Shakespeare's stage directions as [bracketed] lines")
    # Datasets' IterableDataset: Hub datasets are not copied to arrow first, folders are read
    # file by file when reached (wordgen.corpora).
    streaming: bool = setting(
        False, "read the corpus as a stream: hf: datasets through datasets' streaming (no arrow copy), folders "
               "and globs one file at a time when reached; the encoded tokens still go to the cache (see "
               "docs/guides/scale.md)")
    # A process of a multi-process (torchrun) run that hangs stops the run instead of the others
    # waiting for it forever.
    dist_timeout: float = setting(
        600.0, "with several processes: how long one waits for the others at any one message before it stops "
               "with an error", metavar="SECONDS")

    def validate(self) -> None:
        for name in ("batch_size", "seq_len"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.lr is not None and (self.lr <= 0 or not math.isfinite(self.lr)):
            raise ConfigError(f"TrainConfig.lr: the learning rate must be positive, got {self.lr}")
        if self.epochs is not None and self.epochs <= 0:
            raise ConfigError(f"TrainConfig.epochs must be positive, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"TrainConfig.max_steps must be at least 1, got {self.max_steps}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise ConfigError(f"TrainConfig.time_budget must be positive seconds, got {self.time_budget}")
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"TrainConfig.max_chars must be at least 1 character, got {self.max_chars}")
        if self.epochs is None and self.max_steps is None and self.time_budget is None and self.max_chars is None:
            raise ConfigError("say when to stop: give TrainConfig.epochs, TrainConfig.max_steps, "
                              "TrainConfig.max_chars or TrainConfig.time_budget")
        if self.weight_decay is not None and not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in (None, "adamw", "sgd"):
            raise ConfigError(f"TrainConfig.optimizer must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"TrainConfig.patience must be at least 1, got {self.patience} "
                              "(TrainConfig.patience=None never stops early)")
        if self.plateau_drops < 0 or not self.plateau_factor > 1:
            raise ConfigError("TrainConfig.plateau_drops must be >= 0 and TrainConfig.plateau_factor above 1, "
                              f"got {self.plateau_drops} and {self.plateau_factor}")
        if self.eval_interval is not None and self.eval_interval < 1:
            raise ConfigError(f"TrainConfig.eval_interval must be at least 1, got {self.eval_interval}")
        if self.eval_tokens is not None and (self.eval_tokens < 0 or self.eval_tokens == 1):
            raise ConfigError(f"TrainConfig.eval_tokens must be 0 (the whole split) or at least 2, "
                              f"got {self.eval_tokens}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"TrainConfig.precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"TrainConfig.grad_clip must be positive, got {self.grad_clip}")
        if not self.dist_timeout > 0:
            raise ConfigError(f"TrainConfig.dist_timeout must be positive seconds, got {self.dist_timeout}")
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

    greedy: bool = setting(False, "always take the most likely token (ignores the others)")
    temperature: float = setting(1.0, "divide the logits by this; < 1 is safer, > 1 wilder, 0 means greedy")
    top_k: int | None = setting(help="sample only among the K most likely tokens", metavar="K")
    top_p: float | None = setting(
        help="sample only among the smallest set of tokens whose probability reaches P, in (0, 1]", metavar="P")

    def validate(self) -> None:
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"SampleConfig.temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"SampleConfig.top_k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"SampleConfig.top_p must be in (0, 1], got {self.top_p}")

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
