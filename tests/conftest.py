"""Fixtures: one torch thread and a private cache for the whole session, the trained tiny
checkpoints that the session shares read-only (and private copies of them), a small book;
the hypothesis profile the session runs under.

Not here: plain functions and constants (helpers.py, which test files import; never import
this file).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from helpers import tiny_train_config, write_book
from hypothesis import settings

# Hypothesis, everywhere the suite runs (CI included): a failing property prints the blob that
# replays its example (`@reproduce_failure(...)`), so a failure on CI can be rerun at home; how
# many examples each property ran is in the statistics that pyproject's addopts asks for.
# The default ("ci") draws the same examples on every run (derandomize), so a run fails only when
# the code changed, never because a new example came up; HYPOTHESIS_PROFILE=dev draws fresh ones
# each run to search further (and drops the blob).
settings.register_profile("ci", print_blob=True, derandomize=True)
settings.register_profile("dev", print_blob=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Keep the tokenizer/stream cache of the test run out of ~/.cache and away from older runs."""
    previous = os.environ.get("WORDGEN_CACHE")
    os.environ["WORDGEN_CACHE"] = str(tmp_path_factory.mktemp("wordgen-cache"))
    yield
    if previous is None:
        os.environ.pop("WORDGEN_CACHE", None)
    else:
        os.environ["WORDGEN_CACHE"] = previous


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models run faster on one thread: hand-offs between threads cost more than they
    save, and on a busy 2-core machine two threads made a 30-step run 20x slower. Session-wide,
    so no test file can forget it; a test that needs more threads sets them and puts them back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def book(tmp_path):
    """A small plain-text book on disk (the verse repeated, so every split has text)."""
    return write_book(tmp_path)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """Keep the files that datasets.load_dataset writes inside the test's folder; nothing is downloaded."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------- shared, read-only checkpoints


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _weights_digest(model) -> str:
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()


class _Frozen:
    """A folder made read-only and hashed; `release()` gives the write bits back and says whether it
    changed. Read-only stops a writer that is not root; the hashes catch root too."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.digest = _digest(folder)
        self.modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path, mode in self.modes.items():
            os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def release(self) -> dict[str, str]:
        for path, mode in self.modes.items():  # so that pytest can remove the folder later
            if path.exists():
                os.chmod(path, mode)
        return _digest(self.folder)


@pytest.fixture(scope="session")
def shared_trained(tmp_path_factory):
    """The session's one tiny trained word model (tiny_train_config on the verse book) and its
    TrainResult, for the tests that only read it. Never change it: its folder (book included)
    is made read-only, and the session ends in an error if a file or a weight in memory changed.
    A test that changes anything asks for `trained` (a private copy) instead."""
    from wordgen.training.loop import train

    folder = tmp_path_factory.mktemp("shared-trained")
    result = train(tiny_train_config(write_book(folder), folder / "ckpt"))
    weights = _weights_digest(result.bundle.model)
    frozen = _Frozen(folder)
    yield result
    assert frozen.release() == frozen.digest, f"a test wrote into the shared checkpoint {folder}; use `trained`"
    assert _weights_digest(result.bundle.model) == weights, "a test changed the shared model's weights; use `trained`"


def _copy_as_written(source: Path, target: Path) -> None:
    """Copy the folder's contents only: files and folders get the modes the umask gives, as training's own do."""
    target.mkdir()
    for path in sorted(source.rglob("*")):  # a folder before what it holds
        if path.is_dir():
            (target / path.relative_to(source)).mkdir()
        else:
            shutil.copyfile(path, target / path.relative_to(source))


@pytest.fixture
def trained(shared_trained, tmp_path):
    """A private copy of `shared_trained`, as if trained into tmp_path/ckpt: the folder copied there
    (config.json's `out` naming the copy) and the result deep-copied, its config's `out` the copy."""
    out = tmp_path / "ckpt"
    _copy_as_written(Path(shared_trained.bundle.config.out), out)
    config_file = out / "config.json"
    doc = json.loads(config_file.read_text(encoding="utf-8"))
    doc["out"] = str(out)
    config_file.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")  # as checkpoint.save_config writes it
    dataset = shared_trained.dataset  # Arrow tables, read-only already: shared
    result = copy.deepcopy(shared_trained, memo={id(dataset): dataset})
    result.bundle.config.out = str(out)
    return result


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """{"word": folder, "char": folder}: a word and a char model, 4 tiny steps each, shared read-only
    by the playground tests (checked at the end of the session like `shared_trained`)."""
    from wordgen.training.loop import train

    folder = tmp_path_factory.mktemp("tiny-checkpoints")
    book = write_book(folder)
    paths = {}
    for tokenizer in ("word", "char"):
        paths[tokenizer] = folder / tokenizer
        train(tiny_train_config(book, paths[tokenizer], tokenizer=tokenizer, max_steps=4, eval_interval=4))
    frozen = _Frozen(folder)
    yield paths
    assert frozen.release() == frozen.digest, f"a test wrote into the shared checkpoints in {folder}"
