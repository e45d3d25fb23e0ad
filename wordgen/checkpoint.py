"""A checkpoint is one self-contained folder, in the Hugging Face style.

    config.json          what was trained: model sizes, tokenizer spec, corpus, settings
    tokenizer.json       the tokenizer itself (Hugging Face's own format for bpe/hf)
    model.safetensors    the weights with the best validation loss
    trainer_state.pt     everything needed to resume: latest weights, optimizer,
                         step, data position, recurrent state, RNG state
    metrics.jsonl        one JSON line per validation (written by training)

Loading never unpickles arbitrary objects: weights come from safetensors and
the trainer state through `torch.load(..., weights_only=True)`, which accepts
only tensors and plain containers. Every file but metrics.jsonl is written through
`wordgen._io.atomic_write` (a temporary name, fsync, rename), so a crash in the
middle of a save leaves the previous file whole and all files get the same mode.
metrics.jsonl is appended to, one line per validation. Everything a later session
needs travels in the folder: copy it anywhere and generate the same text.

Not here: the training loop (wordgen.train) and how a tokenizer serialises
itself (its own `save`); this module only decides where each file goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from wordgen import _io
from wordgen.config import TrainConfig
from wordgen.errors import CheckpointError, WordgenError
from wordgen.device import resolve_device
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import Tokenizer, load_tokenizer

FORMAT = "wordgen-checkpoint"
VERSION = 1
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.jsonl"


def is_checkpoint(path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


@dataclass
class Bundle:
    """A trained model with the tokenizer and the config that belong to it."""

    model: LSTMLanguageModel
    tokenizer: Tokenizer
    config: TrainConfig

    @classmethod
    def load(cls, path, device: str = "auto") -> Bundle:
        path = Path(path)
        config = load_config(path)
        try:
            tokenizer = load_tokenizer(path / TOKENIZER_FILE)
        except WordgenError as err:
            raise CheckpointError(f"{path}: bad {TOKENIZER_FILE}: {err}") from None
        if tokenizer.vocab_size != config.model.vocab_size:
            raise CheckpointError(
                f"{path}: {TOKENIZER_FILE} has {tokenizer.vocab_size} tokens but the model "
                f"expects {config.model.vocab_size}; the folder mixes two checkpoints"
            )
        model = LSTMLanguageModel(config.model)
        load_weights(path, model)
        model.to(resolve_device(device)).eval()
        return cls(model=model, tokenizer=tokenizer, config=config)


def save_config(path: Path, config: TrainConfig) -> None:
    doc = {"format": FORMAT, "version": VERSION, **config.to_dict()}
    _io.atomic_write_text(Path(path) / CONFIG_FILE, json.dumps(doc, indent=2) + "\n")


def save_tokenizer(path: Path, tokenizer: Tokenizer) -> None:
    # The tokenizer writes its own format to the temporary file; _io then gives it the
    # folder's one file mode and renames it into place, whatever a plug-in's save does.
    _io.atomic_write(Path(path) / TOKENIZER_FILE, tokenizer.save)


def save_weights(path: Path, model: LSTMLanguageModel) -> None:
    # save_model (not save_file) because tied weights share one tensor, which
    # save_file refuses; save_model stores it once and load_model restores the tie.
    _io.atomic_write(Path(path) / WEIGHTS_FILE, lambda tmp: save_model(model, tmp))


def load_config(path: Path) -> TrainConfig:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file; a checkpoint is a folder with {CONFIG_FILE} in it")
    file = path / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(f"{path} is not a wordgen checkpoint: it has no {CONFIG_FILE}")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file} is damaged (not valid JSON: {err})") from None
    if not isinstance(doc, dict) or doc.pop("format", None) != FORMAT:
        raise CheckpointError(f"{path} is not a wordgen checkpoint ({CONFIG_FILE} lacks format '{FORMAT}')")
    version = doc.pop("version", None)
    if version != VERSION:
        raise CheckpointError(f"{path} was written by checkpoint format v{version}; this wordgen reads v{VERSION}")
    try:
        return TrainConfig.from_dict(doc)
    except (WordgenError, TypeError) as err:
        raise CheckpointError(f"{file} is damaged: {err}") from None


def load_weights(path: Path, model: LSTMLanguageModel) -> None:
    file = Path(path) / WEIGHTS_FILE
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {WEIGHTS_FILE}: training did not reach its first validation")
    try:
        missing, unexpected = load_model(model, file, strict=False)
    except (SafetensorError, RuntimeError, OSError, ValueError) as err:
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{file} does not fit config.json (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )


def save_trainer_state(path: Path, state: dict) -> None:
    _io.atomic_write(Path(path) / STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_trainer_state(path: Path) -> dict:
    file = Path(path) / STATE_FILE
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {STATE_FILE} to resume from")
    try:
        # weights_only=True: only tensors and plain Python containers, never code.
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None


def append_metrics(path: Path, row: dict) -> None:
    """Add one validation's row to metrics.jsonl.

    An append, not an atomic rewrite: the file grows by one line per validation and
    rewriting it whole each time would cost more the longer a run goes. open()
    creates it with the same mode as `_io.FILE_MODE` (both follow the umask).
    """
    with open(Path(path) / METRICS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
