"""A checkpoint is one self-contained folder, in the Hugging Face style.

    config.json          what was trained: model sizes, tokenizer spec, corpus, settings,
                         and where each setting came from ("sources")
    tokenizer.json       the tokenizer itself (Hugging Face's own format for bpe/hf)
    model.safetensors    the weights with the best validation loss
    trainer_state.pt     everything needed to resume: latest weights, optimizer,
                         step, data position, recurrent state, RNG state
    metrics.jsonl        one JSON line per validation (written by training)
    .lock                held by the one run writing the folder (see `lock_folder`)

Loading never unpickles arbitrary objects: weights come from safetensors and
the trainer state through `torch.load(..., weights_only=True)`, which accepts
only tensors and plain containers (a file asking for anything else is refused
before any of it runs). Every file is checked before it is trusted: config.json
field by field (names, types, ranges), the weights' names, shapes and dtypes
against config.json from the safetensors header before a byte of them is read,
the tokenizer's vocabulary against the model's, the trainer state's entries. A
file that is a symbolic link to somewhere outside the folder is refused: a
checkpoint copied from a stranger could otherwise make `--resume` append to, or
`generate` read, any file the user can reach.

Every file but metrics.jsonl is written through `wordgen._io.atomic_write` (a
temporary name, fsync, rename), so a crash in the middle of a save leaves the
previous file whole. metrics.jsonl is appended to, one line per validation, each
with a single write; `read_metrics` skips a torn line (a crash or a full disk in
the middle of that write) with a warning. A failed write (disk full, read-only
file system) becomes a `StorageError` naming the folder. Everything a later
session needs travels in the folder: copy it anywhere and generate the same text.

Not here: the training loop (wordgen.training.loop) and how a tokenizer serialises
itself (its own `save`); this module only decides where each file goes.
"""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model

from wordgen import _io
from wordgen.config import TrainConfig
from wordgen.device import resolve_device
from wordgen.errors import CheckpointError, StorageError, WordgenError
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import Tokenizer, load_tokenizer

FORMAT = "wordgen-checkpoint"
VERSION = 1
CONFIG_FILE = "config.json"
SOURCES_KEY = "sources"  # config.json's record of where each setting came from; not a TrainConfig field
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"
FILES = (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, STATE_FILE, METRICS_FILE)


def is_checkpoint(path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def member(folder: Path, name: str) -> Path:
    """folder/name, refused when it is a link that leads out of the folder."""
    file = Path(folder) / name
    if file.is_symlink():
        target = file.resolve()
        if not target.is_relative_to(Path(folder).resolve()):
            raise CheckpointError(f"{file} is a link to {target}, outside the checkpoint folder; "
                                  "a checkpoint must hold its own files (copy the file in instead)")
    return file


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
            tokenizer = load_tokenizer(member(path, TOKENIZER_FILE))
        except WordgenError as err:
            raise CheckpointError(f"{path}: bad {TOKENIZER_FILE}: {err}") from None
        if tokenizer.vocab_size != config.model.vocab_size:
            raise CheckpointError(
                f"{path}: {TOKENIZER_FILE} has {tokenizer.vocab_size} tokens but the model "
                f"expects {config.model.vocab_size}; the folder mixes two checkpoints"
            )
        # The shapes are checked on a model without memory first, so a config.json that
        # names an enormous model fails here instead of allocating it.
        with torch.device("meta"):
            check_weights(path, LSTMLanguageModel(copy.deepcopy(config.model)))
        model = LSTMLanguageModel(config.model)
        load_weights(path, model)
        model.to(resolve_device(device)).eval()
        return cls(model=model, tokenizer=tokenizer, config=config)


# ---------------------------------------------------------------- writing


def _save(folder: Path, name: str, write: Callable[[str], None]) -> None:
    """atomic_write of folder/name; a failed write becomes one line that names the folder."""
    try:
        _io.atomic_write(Path(folder) / name, write)
    except OSError as err:
        raise StorageError(f"cannot save {name} in {folder} ({err.strerror or _io.first_line(err)}); "
                           "the files already there are unchanged") from None


def save_config(path: Path, config: TrainConfig, sources: dict[str, str] | None = None) -> None:
    """config.json: the settings, and beside them (`SOURCES_KEY`) where each came from (wordgen.training.plan)."""
    doc = {"format": FORMAT, "version": VERSION, **config.to_dict()}
    if sources:
        doc[SOURCES_KEY] = dict(sources)
    text = json.dumps(doc, indent=2) + "\n"
    _save(path, CONFIG_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_tokenizer(path: Path, tokenizer: Tokenizer) -> None:
    # The tokenizer writes its own format to the temporary file; _io then gives it the
    # folder's one file mode and renames it into place, whatever a plug-in's save does.
    _save(path, TOKENIZER_FILE, tokenizer.save)


def save_weights(path: Path, model: LSTMLanguageModel) -> None:
    def write(tmp: str) -> None:
        # save_model (not save_file) because tied weights share one tensor, which
        # save_file refuses; save_model stores it once and load_model restores the tie.
        try:
            save_model(model, tmp)
        except SafetensorError as err:  # its I/O errors come as text: "... (os error 28)"
            code = re.search(r"os error (\d+)", str(err))
            if code is None:
                raise
            raise OSError(int(code[1]), os.strerror(int(code[1]))) from None

    _save(path, WEIGHTS_FILE, write)


def save_trainer_state(path: Path, state: dict) -> None:
    # Serialised in memory first: torch.save reports a full disk as a bare RuntimeError
    # ("unexpected pos 576 vs 534"), Python's own write as OSError(ENOSPC).
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    _save(path, STATE_FILE, lambda tmp: Path(tmp).write_bytes(data))


def append_metrics(path: Path, row: dict) -> None:
    """Add one validation's row to metrics.jsonl.

    An append, not an atomic rewrite: the file grows by one line per validation and
    rewriting it whole each time would cost more the longer a run goes. The line goes
    out in one write() on an O_APPEND descriptor, so only a crash of the machine or a
    full disk can tear it (`read_metrics` skips such a line). O_NOFOLLOW: a link in
    the folder's place is refused, never written through.
    """
    folder = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    data = (json.dumps(row) + "\n").encode("utf-8")
    try:
        fd = os.open(folder / METRICS_FILE, flags, 0o666)  # the umask makes it _io.FILE_MODE
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as err:
        raise StorageError(f"cannot save {METRICS_FILE} in {folder} ({err.strerror or _io.first_line(err)}); "
                           "the files already there are unchanged") from None


# ---------------------------------------------------------------- reading


def load_config(path: Path) -> TrainConfig:
    """The TrainConfig in `path`/config.json, checked; the sources saved beside it are checked and left out."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file; a checkpoint is a folder with {CONFIG_FILE} in it")
    file = member(path, CONFIG_FILE)
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
    sources = doc.pop(SOURCES_KEY, {})  # absent from folders written before the plan
    if not (isinstance(sources, dict) and all(isinstance(v, str) for v in sources.values())):
        raise CheckpointError(f"{file} is damaged: {SOURCES_KEY!r} must map setting names to their sources")
    try:
        config = TrainConfig.from_dict(doc)  # unknown names and wrong types refused here
        config.validate()
        config.model.validate()  # a saved config has its vocabulary size
    except WordgenError as err:
        raise CheckpointError(f"{file} is damaged: {err}") from None
    return config


# safetensors' names for the dtypes a wordgen model can hold.
_DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
# Weights stored in half precision (the shipped base models, to halve their size) load into a
# float32 model: load_state_dict widens them.
_HALF = ("F16", "BF16")


def check_weights(path: Path, model: LSTMLanguageModel) -> None:
    """Refuse a weights file whose tensor names, shapes or dtypes do not fit `model`.

    Only the safetensors header is read; `model` may live on the meta device.
    """
    file = member(Path(path), WEIGHTS_FILE)
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {WEIGHTS_FILE}: training did not reach its first validation")
    expected = model.state_dict()
    try:
        with safe_open(str(file), framework="pt") as f:
            stored = {key: (tuple(f.get_slice(key).get_shape()), f.get_slice(key).get_dtype()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise CheckpointError(f"{file} does not fit {CONFIG_FILE}: it holds tensors the model lacks "
                              f"({', '.join(unexpected[:3])})")
    for key, (shape, dtype) in stored.items():
        want = expected[key]
        if shape != tuple(want.shape):
            raise CheckpointError(f"{file} does not fit {CONFIG_FILE}: {key} has shape {list(shape)}, "
                                  f"the model needs {list(want.shape)}")
        if dtype != _DTYPE_NAMES.get(want.dtype) and not (want.dtype == torch.float32 and dtype in _HALF):
            raise CheckpointError(f"{file} does not fit {CONFIG_FILE}: {key} is stored as {dtype}, "
                                  f"the model needs {_DTYPE_NAMES.get(want.dtype, want.dtype)}")


def load_weights(path: Path, model: LSTMLanguageModel) -> None:
    check_weights(path, model)
    file = Path(path) / WEIGHTS_FILE
    try:
        missing, unexpected = load_model(model, file, strict=False)
    except (SafetensorError, RuntimeError, OSError, ValueError) as err:
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{file} does not fit config.json (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )


# What `train` saves, and the type of each entry. Older states lack the last four
# (the reader fills them in); every entry is checked before the state is trusted.
_STATE_ENTRIES = {"model": dict, "optimizer": dict, "step": int, "epoch": int, "cursor": int,
                  "best_val_loss": float, "hidden": list, "rng": dict}
_STATE_OPTIONAL = {"tokens": int, "elapsed": float, "loss_sum": float, "loss_count": int, "early_stopping": dict,
                   # one row per process of a multi-process run (wordgen.training.trainer_state)
                   "rng_ranks": torch.Tensor, "cuda_rng_ranks": torch.Tensor}


def load_trainer_state(path: Path) -> dict:
    file = member(Path(path), STATE_FILE)
    if not file.is_file():
        raise CheckpointError(f"{Path(path)} has no {STATE_FILE} to resume from")
    try:
        # weights_only=True: only tensors and plain Python containers; anything else
        # (a __reduce__ that would call a function) is refused before it runs.
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise CheckpointError(f"{file} holds objects other than tensors and plain values; refused, "
                                  "because loading it could run code (it was not written by wordgen)") from None
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{file} is truncated or corrupted ({_io.first_line(err)})") from None
    _check_state(state, file)
    return state


def _check_state(state: object, file: Path) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} is not a wordgen trainer state (it holds a {type(state).__name__})")
    for key, kind in {**_STATE_ENTRIES, **_STATE_OPTIONAL}.items():
        if key not in state and key in _STATE_OPTIONAL:
            continue
        value = state.get(key)
        ok = isinstance(value, (int, float) if kind is float else kind) and not isinstance(value, bool)
        if not ok or (kind is int and value < 0):
            raise CheckpointError(f"{file} is not a wordgen trainer state: {key!r} is {type(value).__name__}, "
                                  f"expected a {'non-negative ' if kind is int else ''}{kind.__name__}")


def read_metrics(path: Path) -> list[dict]:
    """The rows of metrics.jsonl (none if there is no file); a torn or damaged line is skipped with a warning."""
    file = member(Path(path), METRICS_FILE)
    if not file.is_file():
        return []
    rows = []
    for number, line in enumerate(file.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or isinstance(row.get("step"), bool) or not isinstance(row.get("step"), int):
                raise ValueError("not a metrics row")
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            warnings.warn(f"{file}: line {number} is torn or damaged (cut off by a crash?); skipped", stacklevel=2)
            continue
        rows.append(row)
    return rows


def keep_metrics_until(path: Path, step: int) -> None:
    """Make metrics.jsonl end at `step`: drop torn lines and rows of steps the trainer state does not have.

    A crash between a validation's row and its trainer state leaves a row the resumed
    run will write again; dropping it keeps one row per step. Rewritten atomically,
    and only when something changes.
    """
    file = member(Path(path), METRICS_FILE)
    if not file.is_file():
        return
    kept = [row for row in read_metrics(path) if row["step"] <= step]
    text = "".join(json.dumps(row) + "\n" for row in kept)
    if text.encode("utf-8") != file.read_bytes():
        _save(path, METRICS_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------- one writer


@contextmanager
def lock_folder(path: Path, *, create: bool) -> Iterator[None]:
    """Hold the folder's lock while writing it; a second writer is refused with one line.

    fcntl.flock on an open file: the operating system releases it when the file is
    closed or the process dies however it dies (kill -9 included), so a crash never
    leaves a stale lock. While holding it, temporary files that a killed writer left
    behind (`.NAME.*.tmp`) are removed. Where fcntl is missing (Windows) nothing is locked.
    """
    folder = Path(path)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as err:
        raise StorageError(f"cannot lock {folder} ({err.strerror or _io.first_line(err)})") from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                raise StorageError(f"{folder} is being written by another wordgen run (process {holder}); "
                                   "wait for it to finish or choose another folder") from None
            try:  # for the message above, in the other process; a full disk must not stop a resume
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            except OSError:
                pass
        _remove_temporaries(folder)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_temporaries(folder: Path) -> None:
    for name in FILES:
        for tmp in folder.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
