"""A checkpoint is one self-contained folder, in the Hugging Face style.

    config.json          what was trained: model sizes, tokenizer spec, corpus, settings
    tokenizer.json       the tokenizer itself (Hugging Face's own format for bpe/hf)
    model.safetensors    the weights with the best validation loss
    trainer_state.pt     everything needed to resume: latest weights, optimizer,
                         step, data position, recurrent state, RNG state
    metrics.jsonl        one JSON line per validation (written by training)

Loading never unpickles arbitrary objects: weights come from safetensors and
the trainer state through `torch.load(..., weights_only=True)`, which accepts
only tensors and plain containers. Each file is written to a temporary name
and renamed over the old one (an atomic step on POSIX), so a crash in the
middle of a save leaves the previous file whole. Everything a later session
needs travels in the folder: copy it anywhere and generate the same text.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

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


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(tmp_name) for a temp file beside `path`, then rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def is_checkpoint(path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


@dataclass
class Bundle:
    """A trained model with the tokenizer and the config that belong to it."""

    model: LSTMLanguageModel
    tokenizer: Tokenizer
    config: TrainConfig

    def save(self, path) -> None:
        """Write config, tokenizer and weights (the trainer state is separate)."""
        path = Path(path)
        save_config(path, self.config)
        save_tokenizer(path, self.tokenizer)
        save_weights(path, self.model)

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
    atomic_write_text(Path(path) / CONFIG_FILE, json.dumps(doc, indent=2) + "\n")


def save_tokenizer(path: Path, tokenizer: Tokenizer) -> None:
    # Tokenizer.save already writes through a temporary file and a rename.
    Path(path).mkdir(parents=True, exist_ok=True)
    tokenizer.save(Path(path) / TOKENIZER_FILE)


def save_weights(path: Path, model: LSTMLanguageModel) -> None:
    # save_model (not save_file) because tied weights share one tensor, which
    # save_file refuses; save_model stores it once and load_model restores the tie.
    atomic_write(Path(path) / WEIGHTS_FILE, lambda tmp: save_model(model, tmp))


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


def _first_line(err: Exception) -> str:
    """The first line of an error message (at most 200 characters), or the error's type."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def load_weights(path: Path, model: LSTMLanguageModel) -> None:
    file = Path(path) / WEIGHTS_FILE
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {WEIGHTS_FILE}: training did not reach its first validation")
    try:
        missing, unexpected = load_model(model, file, strict=False)
    except (SafetensorError, RuntimeError, OSError, ValueError) as err:
        raise CheckpointError(f"{file} is truncated or corrupted ({_first_line(err)})") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{file} does not fit config.json (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )


def save_trainer_state(path: Path, state: dict) -> None:
    atomic_write(Path(path) / STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_trainer_state(path: Path) -> dict:
    file = Path(path) / STATE_FILE
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {STATE_FILE} to resume from")
    try:
        # weights_only=True: only tensors and plain Python containers, never code.
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{file} is truncated or corrupted ({_first_line(err)})") from None
