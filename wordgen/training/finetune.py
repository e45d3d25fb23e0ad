"""Fine-tuning: a new run that starts from another checkpoint's weights (`TrainConfig.init`, `--init`).

`Base.open(spec)` finds and loads the base: a checkpoint folder, ``base:NAME`` (the
models shipped with wordgen, wordgen/bases/NAME) or ``hf:ORG/NAME[@REVISION]`` (a Hub
repository that holds a checkpoint folder, fetched with huggingface_hub's
`snapshot_download`, which reads its local cache under ``HF_HUB_OFFLINE=1``). Every
path goes through the same checked loader (`Bundle.load`); the base is named in
config.json by the spec and the SHA-256 of its weights.

The new run's vocabulary keeps every id of the base, so its rows carry over as they are:

* characters: the base's alphabet, then the book's characters it lacks;
* words: the base's words, then the book's own words (by the run's word spec, its
  frequency rule) that the base lacks, most frequent first;
* BPE and any other tokenizer: the base's, unchanged.

`Base.load_into` copies the weights; a row added for a new token (embedding, output
weights and bias) starts as the mean of the base's rows: ULMFiT's implementation
(fastai) starts the words its pretraining never saw the same way (Howard & Ruder 2018).

Not here: the recipe's numbers (the size rule's and `FINETUNE_LR_SHARE` below are read
by wordgen.training.plan through `Base.settings`), the training loop.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from wordgen.config import ModelConfig, TrainConfig
from wordgen.data import default_cache_dir, encode_split, iter_texts, row_text
from wordgen.errors import CheckpointError, ConfigError
from wordgen.tokenization import CharTokenizer, Tokenizer, WordTokenizer, train_tokenizer
from wordgen.tokenization.registry import parse_tokenizer_spec
from wordgen.training.checkpoint import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, Bundle, member
from wordgen.training.prepare import corpus_for
from wordgen.training.sizerule import RECIPES

BASES = Path(__file__).resolve().parent.parent / "bases"  # the shipped base models, one folder each
# The model fields a fine-tuned model takes from its base: its shape.
SHAPE_FIELDS = ("embedding_dim", "hidden_size", "num_layers", "rnn_type", "tie_weights", "softmax",
                "adaptive_cutoffs", "locked_dropout")
# The dropouts a fine-tuning run takes from its base when the caller leaves them out: the
# network has already learned under them, and on a small book the size rule's stronger ones
# (set for a model learning from nothing) scored worse (docs/development/log.md).
DROPOUT_FIELDS = ("dropout", "input_dropout", "hidden_dropout", "embedding_dropout", "weight_dropout")
# The peak learning rate of a fine-tuning run, as a share of the recipe's from-scratch rate:
# a full rate in the first steps would undo much of what the base learned (ULMFiT lowers it
# too). Chosen by the search in docs/development/log.md, "The fine-tuning recipe".
FINETUNE_LR_SHARE = 0.25


def shipped_bases() -> list[str]:
    """The names `base:NAME` accepts: the folders under wordgen/bases/ that hold a checkpoint."""
    if not BASES.is_dir():
        return []
    return sorted(p.name for p in BASES.iterdir() if (p / "config.json").is_file())


def base_folder(spec: str) -> Path:
    """The local folder a base spec names; an `hf:` one is fetched (or found in the local cache) first."""
    if spec.startswith("base:"):
        name = spec[len("base:"):]
        if name not in shipped_bases():
            names = ", ".join(f"base:{n}" for n in shipped_bases()) or "none in this install"
            raise ConfigError(f"TrainConfig.init: no shipped base model {spec!r} (shipped: {names})")
        return BASES / name
    if spec.startswith("hf:"):
        return _from_hub(spec[len("hf:"):])
    return Path(spec)


def _from_hub(name: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo, _, revision = name.partition("@")
    try:
        return Path(snapshot_download(repo_id=repo, revision=revision or None))
    except LocalEntryNotFoundError:
        raise CheckpointError(f"hf:{name} is not in the local Hugging Face cache and the Hub cannot be reached "
                              "(offline, or HF_HUB_OFFLINE=1 is set)") from None
    except (RepositoryNotFoundError, HFValidationError) as err:
        raise CheckpointError(f"hf:{name}: no such model repository on the Hugging Face Hub "
                              f"({str(err).splitlines()[0]})") from None


def _copy_snapshot(snapshot: Path, copy: Path) -> None:
    """The checkpoint files of a huggingface_hub snapshot, copied; a link must stay inside its repository's cache."""
    repository = snapshot.parent.parent.resolve()  # models--ORG--NAME/snapshots/COMMIT
    for name in (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE):
        file = snapshot / name
        if not file.exists():
            continue  # the loader names what is missing
        if not file.resolve().is_relative_to(repository):
            raise CheckpointError(f"{file} is a link to {file.resolve()}, outside its Hugging Face repository")
        shutil.copyfile(file.resolve(), copy / name)


def weights_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    with open(member(folder, WEIGHTS_FILE), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Growth:
    """How the vocabulary grew for the book, and its validation text's <unk> rate before and after."""

    added: int  # tokens the base lacked and the new run has
    unk_book: float | None  # the share of <unk> in the validation split under the book's own vocabulary
    unk_merged: float | None  # ... and under the base's vocabulary grown by the book's words

    def describe(self) -> str:
        line = f"vocabulary: the base's, {self.added:,} token{'s' * (self.added != 1)} of the book added"
        if self.unk_book is not None:
            line += (f"; <unk> in the validation text {self.unk_merged:.2%} (the book's own vocabulary alone: "
                     f"{self.unk_book:.2%})")
        return line


@dataclass(frozen=True)
class Start:
    """A fine-tuning run's starting point (`Base.start`)."""

    config: TrainConfig
    sources: dict[str, str]
    tokenizer: Tokenizer
    dataset: object  # the DatasetDict
    growth: Growth


@dataclass
class Base:
    """A loaded base model and its identity (the spec it was named by, the SHA-256 of its weights)."""

    spec: str
    folder: Path
    bundle: Bundle
    sha256: str

    @classmethod
    def open(cls, spec: str) -> Base:
        folder = base_folder(spec)
        if not spec.startswith("hf:"):
            return cls(spec=spec, folder=folder, bundle=Bundle.load(folder, device="cpu"),
                       sha256=weights_sha256(folder))
        # A Hub snapshot's files are links into the repository's blobs/, which the loader
        # refuses (they lead out of the folder): it reads copies of them instead.
        with tempfile.TemporaryDirectory() as copy:
            _copy_snapshot(folder, Path(copy))
            return cls(spec=spec, folder=folder, bundle=Bundle.load(copy, device="cpu"),
                       sha256=weights_sha256(Path(copy)))

    @property
    def kind(self) -> str:
        return self.bundle.tokenizer.kind

    def settings(self, config: TrainConfig) -> tuple[TrainConfig, dict[str, str]]:
        """`config` with the base's shape, dropouts, tokenizer spec and identity, the fine-tuning rate; where
        each came from. A dropout the caller set is kept.

        A shape field the caller set to something else than its default and the base's is
        refused (a fine-tuned model is the base's network); so is a tokenizer of another kind.
        """
        mine = self.bundle.config
        self._check_tokenizer(config.tokenizer)
        default = ModelConfig()
        for name in SHAPE_FIELDS:  # a field left at its default takes the base's value
            given, base = getattr(config.model, name), getattr(mine.model, name)
            if given not in (getattr(default, name), base) and name != "adaptive_cutoffs":
                raise ConfigError(f"ModelConfig.{name}: the base has {base!r}; a fine-tuned model keeps the base's "
                                  "shape (leave it out)")
        shape = {name: getattr(mine.model, name) for name in SHAPE_FIELDS}
        if mine.model.output_layer() == "adaptive":  # the same clusters: new words join the last one
            shape["adaptive_cutoffs"] = mine.model.resolved_cutoffs()
        sources = {f"model.{name}": "base" for name in SHAPE_FIELDS} | {"init_sha256": "base"}
        for name in DROPOUT_FIELDS:
            if getattr(config.model, name) is None:
                shape[name] = getattr(mine.model, name)
                sources[f"model.{name}"] = "base"
        tokenizer = config.tokenizer if self.kind == "word" else mine.tokenizer
        optimizer = config.optimizer or mine.optimizer
        changes = {"tokenizer": tokenizer, "optimizer": optimizer, "init_sha256": self.sha256}
        if self.kind != "word":
            sources["tokenizer"] = "base"
        if config.optimizer is None:
            sources["optimizer"] = "base"
        if config.lr is None:
            changes["lr"] = round(RECIPES[optimizer]["lr"] * FINETUNE_LR_SHARE, 6)
            sources["lr"] = "fine-tuning"
        return replace(config, model=replace(config.model, **shape), **changes), sources

    def start(self, config: TrainConfig, dataset=None, sources: dict[str, str] | None = None,
              tokenizer: Tokenizer | None = None) -> Start:
        """What a run from this base starts with: its settings, their sources, the corpus and the grown tokenizer."""
        if tokenizer is not None:
            raise ConfigError("a run from a base (TrainConfig.init) uses the base's tokenizer; do not pass one")
        config, mine = self.settings(config)
        dataset = dataset if dataset is not None else corpus_for(config)
        tokenizer, growth = self.tokenizer_for(config.tokenizer, dataset["train"], dataset["validation"])
        return Start(config=config, sources={**(sources or {}), **mine}, tokenizer=tokenizer, dataset=dataset,
                     growth=growth)

    def _check_tokenizer(self, spec: str) -> None:
        kind = parse_tokenizer_spec(spec)[0]
        default = TrainConfig().tokenizer
        if self.kind == "word" and kind != "word":
            raise ConfigError(f"TrainConfig.tokenizer {spec!r} does not fit the base, a word model: leave it out, or "
                              "give a word spec for the book's own words (word:min_freq=2)")
        if self.kind != "word" and spec not in (default, self.bundle.config.tokenizer):
            raise ConfigError(f"TrainConfig.tokenizer {spec!r}: a fine-tuned model uses its base's tokenizer "
                              f"({self.bundle.config.tokenizer}); leave it out")

    def tokenizer_for(self, spec: str, train_split, validation_split=None) -> tuple[Tokenizer, Growth]:
        """The new run's tokenizer: the base's, grown by the book's unseen characters or words (module docstring)."""
        mine = self.bundle.tokenizer
        if isinstance(mine, CharTokenizer):
            seen = set()
            for text in iter_texts(train_split):
                seen.update(row_text(text))
            new = sorted(c for c in seen if mine.token_to_id(c) is None)
            return CharTokenizer([*_tokens(mine), *new]), Growth(len(new), None, None)
        if not isinstance(mine, WordTokenizer):
            return mine, Growth(0, None, None)
        book = train_tokenizer(spec, iter_texts(train_split))
        assert isinstance(book, WordTokenizer)  # _check_tokenizer refused any other spec
        new = [t for t in _tokens(book) if mine.token_to_id(t) is None]
        merged = WordTokenizer([*_tokens(mine), *new], min_freq=book.min_freq, split_compounds=book.split_compounds)
        if validation_split is None:
            return merged, Growth(len(new), None, None)
        return merged, Growth(len(new), unk_share(book, validation_split), unk_share(merged, validation_split))

    def load_into(self, model: torch.nn.Module) -> None:
        """Copy the base's weights into `model`; rows for tokens the base lacked get the mean of its rows."""
        base = self.bundle.model.state_dict()
        target = model.state_dict()  # views of model's own parameters: copying into them sets the model
        if set(base) != set(target):
            raise CheckpointError(f"{self.spec}: the base's tensors do not fit the new model "
                                  f"({sorted(set(base) ^ set(target))[:3]})")
        with torch.no_grad():
            for key, old in base.items():
                new = target[key]
                if new.shape == old.shape:
                    new.copy_(old)
                elif new.dim() and new.shape[1:] == old.shape[1:] and new.shape[0] > old.shape[0]:
                    rows = old.shape[0]  # (V_base, ...) -> (V_new, ...): ids of the base never move
                    new[:rows].copy_(old)
                    new[rows:].copy_(old.mean(dim=0))
                else:
                    raise CheckpointError(f"{self.spec}: {key} is {list(old.shape)} in the base and "
                                          f"{list(new.shape)} in the new model")


def _tokens(tokenizer: Tokenizer) -> list[str]:
    return [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]


def unk_share(tokenizer: Tokenizer, split) -> float:
    """The share of a split's tokens that are <unk> under `tokenizer` (encoded into the cache, where the run
    then finds it)."""
    stream = encode_split(split, tokenizer, cache_dir=default_cache_dir())
    return stream.num_unk / max(1, len(stream))
