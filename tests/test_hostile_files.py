"""Checkpoint files from a stranger, or damaged ones, through the command line: one line, exit 2, nothing runs.

Each case damages a copy of one small trained checkpoint and runs `generate`,
`evaluate` and `train --resume` on it through `wordgen.cli.main`. A command that
reads the damaged file must exit 2 with one `wordgen: error:` line; one that does
not read it must still work. The pickle payload case proves its payload is live
(loading it the unsafe way does run it) before proving wordgen never runs it.
"""

import json
import math
import os
import shutil
import sys

import pytest
import torch
from helpers import one_line_error, run_cli, tiny_model_config, tiny_train_config, write_book
from safetensors.torch import save_file, save_model

from wordgen.corpora import load_corpus
from wordgen.data import content_key, default_cache_dir, text_digest
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import CharTokenizer, load_tokenizer, train_tokenizer
from wordgen.training import checkpoint as ckpt
from wordgen.training.loop import train

train_module = sys.modules["wordgen.training.loop"]
COMMANDS = ("generate", "evaluate", "resume")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One trained tiny checkpoint; every test damages its own copy."""
    folder = tmp_path_factory.mktemp("pristine")
    out = folder / "ckpt"
    train(tiny_train_config(write_book(folder), out, max_steps=4, eval_interval=2, precision="fp32"))
    return out


@pytest.fixture
def folder(pristine, tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(pristine, copy)
    return copy


def run(capsys, command: str, folder, book):
    argv = {"generate": ["generate", folder, "--max-tokens", "3"],
            "evaluate": ["evaluate", folder, "--text-file", book],
            "resume": ["train", "--resume", folder, "--max-steps", "6", "--quiet"]}[command]
    code, _, err = run_cli(capsys, *argv)
    return code, err


def assert_refused(capsys, folder, book, commands, match: str):
    for command in commands:
        code, err = run(capsys, command, folder, book)
        assert code == 2, (command, err)
        line = one_line_error(err)
        assert match in line, (command, line)


def book_of(folder):
    return ckpt.load_config(folder).corpus if (folder / "config.json").exists() else None


# ---------------------------------------------------------------- trainer_state.pt


class Payload:
    """Unpickling this calls os.mkdir(marker): a side effect anyone can see."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_pickle_payload_in_the_trainer_state_never_runs(folder, tmp_path, capsys):
    book = book_of(folder)
    state = ckpt.load_trainer_state(folder)
    control = tmp_path / "ran-in-the-control"
    torch.save({**state, "rng": Payload(control)}, folder / "trainer_state.pt")
    torch.load(folder / "trainer_state.pt", weights_only=False)  # the unsafe way: the payload is live
    assert control.is_dir()

    marker = tmp_path / "ran-in-wordgen"
    torch.save({**state, "rng": Payload(marker)}, folder / "trainer_state.pt")
    assert_refused(capsys, folder, book, ["resume"], "holds objects other than tensors and plain values; refused")
    assert not marker.exists()
    assert run(capsys, "generate", folder, book)[0] == 0  # generate never reads the trainer state


@pytest.mark.parametrize("state, match", [
    (lambda s: b"PK\x03\x04 not really a zip", "truncated or corrupted"),
    ("truncate", "truncated or corrupted"),
    (lambda s: {**s, "step": "seven"}, "'step' is str, expected a non-negative int"),
    (lambda s: {**s, "step": -3}, "'step' is int, expected a non-negative int"),
    (lambda s: [1, 2, 3], "not a wordgen trainer state (it holds a list)"),
    (lambda s: {k: v for k, v in s.items() if k != "optimizer"}, "'optimizer' is NoneType"),
    (lambda s: {**s, "model": {k: v[:1] for k, v in s["model"].items()}}, "does not fit this checkpoint"),
    (lambda s: {**s, "hidden": [torch.zeros(3, 3)]}, "recurrent state does not have 2 tensor(s)"),
    (lambda s: {**s, "rng": {"torch": torch.zeros(3), "python": [1]}}, "does not fit this checkpoint"),
])
def test_a_damaged_or_foreign_trainer_state_is_refused_on_resume(state, match, folder, capsys):
    file = folder / "trainer_state.pt"
    if state == "truncate":
        file.write_bytes(file.read_bytes()[:300])
    else:
        new = state(ckpt.load_trainer_state(folder))
        file.write_bytes(new) if isinstance(new, bytes) else torch.save(new, file)
    assert_refused(capsys, folder, book_of(folder), ["resume"], match)


# ---------------------------------------------------------------- config.json


def edit_config(folder, change):
    doc = json.loads((folder / "config.json").read_text())
    change(doc)
    (folder / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(colour="red"), "unknown TrainConfig setting(s): colour"),
    (lambda d: d["model"].update(heads=4), "unknown ModelConfig setting(s): heads"),
    (lambda d: d["model"].update(hidden_size="16"), "ModelConfig setting 'hidden_size' must be int | None, got '16'"),
    (lambda d: d["model"].update(tie_weights="yes"), "'tie_weights' must be bool"),
    (lambda d: d["model"].update(activation_reg=None), "'activation_reg' must be float"),
    (lambda d: d["model"].update(adaptive_cutoffs=["a"]), "'adaptive_cutoffs' must be list[int] | None"),
    (lambda d: d.update(model=[16, 16]), "ModelConfig settings must be a JSON object"),
    (lambda d: d.update(max_steps=2.5), "'max_steps' must be int | None"),
    (lambda d: d.update(seed=True), "'seed' must be int"),
    (lambda d: d.update(lr=math.nan), "learning rate must be positive"),
    (lambda d: d["model"].update(num_layers=-1), "num_layers must be at least 1"),
    (lambda d: d["model"].update(vocab_size=0), "vocab_size must be at least 1"),
])
def test_config_with_unknown_or_wrong_typed_fields_is_refused(change, match, folder, capsys):
    book = book_of(folder)
    edit_config(folder, change)
    assert_refused(capsys, folder, book, COMMANDS, match)


def test_a_config_naming_a_huge_model_fails_on_the_shapes_without_allocating_it(folder, capsys):
    # 2**20 hidden units: about 1.7e13 LSTM weights, far more memory than any machine has;
    # the safetensors header is compared first, on a model without memory (meta device).
    book = book_of(folder)
    edit_config(folder, lambda d: d["model"].update(hidden_size=2**20, embedding_dim=2**20))
    assert_refused(capsys, folder, book, ["generate", "evaluate"], "the model needs [")


# ---------------------------------------------------------------- tokenizer.json and the weights


def test_a_tokenizer_that_does_not_match_the_weights_is_refused(folder, capsys):
    book = book_of(folder)
    other = train_tokenizer("word", ["a completely different and much smaller text"])
    other.save(folder / "tokenizer.json")
    assert_refused(capsys, folder, book, ["generate", "evaluate"], "the folder mixes two checkpoints")
    assert_refused(capsys, folder, book, ["resume"], "does not fit this checkpoint")
    # config.json made to agree with the stranger tokenizer: now the weights disagree.
    edit_config(folder, lambda d: d["model"].update(vocab_size=other.vocab_size))
    assert_refused(capsys, folder, book, ["generate", "evaluate"], "embedding.weight has shape")


def weights(folder):
    from safetensors.torch import load_file
    return load_file(folder / "model.safetensors")


@pytest.mark.parametrize("make, match", [
    # float16 and bfloat16 load (the shipped bases are stored so: tests/test_finetune.py); float64 does not.
    (lambda w: {k: v.to(torch.float64) for k, v in w.items()}, "is stored as F64, the model needs F32"),
    (lambda w: {k: (v * 100).to(torch.int64) for k, v in w.items()}, "is stored as I64, the model needs F32"),
    (lambda w: {k: torch.cat([v, v]) for k, v in w.items()}, "has shape"),
    (lambda w: {**w, "extra.weight": torch.zeros(2)}, "holds tensors the model lacks (extra.weight)"),
    (lambda w: {k: v for k, v in list(w.items())[1:]}, "does not fit config.json (missing"),
    ("bytes:zeros", "truncated or corrupted"),
    ("bytes:truncated", "truncated or corrupted"),
])
def test_weights_of_the_wrong_shape_or_dtype_are_refused(make, match, folder, capsys):
    book = book_of(folder)
    file = folder / "model.safetensors"
    if make == "bytes:zeros":
        file.write_bytes(b"\0" * 64)
    elif make == "bytes:truncated":
        file.write_bytes(file.read_bytes()[:120])
    else:
        save_file(make(weights(folder)), file)
    assert_refused(capsys, folder, book, ["generate", "evaluate"], match)


def test_weights_of_another_model_size_are_refused(folder, capsys):
    book = book_of(folder)
    config = ckpt.load_config(folder)
    config.model.hidden_size = config.model.embedding_dim = 24
    save_model(LSTMLanguageModel(config.model), folder / "model.safetensors")
    assert_refused(capsys, folder, book, ["generate", "evaluate"], "has shape [")


# ---------------------------------------------------------------- links out of the folder


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors", "trainer_state.pt"])
def test_a_file_linked_from_outside_the_folder_is_refused(name, folder, tmp_path, capsys):
    book = book_of(folder)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(folder / name, outside / name)  # a perfectly good file, but not the folder's own
    (folder / name).unlink()
    (folder / name).symlink_to(outside / name)
    before = (outside / name).read_bytes()
    # A resumed run reads the trainer state but writes the best weights (over the link,
    # never through it); generate and evaluate never read the trainer state.
    commands = {"trainer_state.pt": ["resume"], "model.safetensors": ["generate", "evaluate"]}.get(name, COMMANDS)
    assert_refused(capsys, folder, book, commands, "outside the checkpoint folder")
    assert (outside / name).read_bytes() == before


def test_a_metrics_link_is_never_written_through(folder, tmp_path, capsys):
    book = book_of(folder)
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    (folder / "metrics.jsonl").unlink()
    (folder / "metrics.jsonl").symlink_to(victim)
    assert_refused(capsys, folder, book, ["resume"], "outside the checkpoint folder")
    assert victim.read_text() == "someone else's file\n"


def test_a_link_that_stays_inside_the_folder_is_fine(folder, capsys):
    (folder / "model.safetensors").rename(folder / "best.safetensors")
    (folder / "model.safetensors").symlink_to("best.safetensors")
    for command in COMMANDS:
        code, err = run(capsys, command, folder, book_of(folder))
        assert code == 0, (command, err)


# ---------------------------------------------------------------- the tokenizer cache


@pytest.mark.parametrize("poison", ["garbage", "other kind", "other options"])
def test_a_poisoned_tokenizer_cache_entry_is_rebuilt_not_trusted(poison, tmp_path):
    book = write_book(tmp_path)
    spec = "word:min_freq=2"
    dataset = load_corpus(str(book), seed=0)
    # Named as prepare names it: by the SHA-256 of the training text and the spec.
    entry = default_cache_dir() / "tokenizers" / f"{content_key(text_digest(dataset['train']), spec)}.json"
    honest = train_tokenizer(spec, dataset["train"]["text"])
    entry.parent.mkdir(parents=True, exist_ok=True)
    if poison == "garbage":
        entry.write_bytes(b"\x80\x04\x95 pickled? no: JSON only")
    elif poison == "other kind":
        CharTokenizer.train_from_texts(["abc"]).save(entry)
    else:
        train_tokenizer("word:min_freq=1", dataset["train"]["text"]).save(entry)
    result = train(tiny_train_config(book, tmp_path / "run", tokenizer=spec, max_steps=1, model=tiny_model_config()))
    assert result.bundle.tokenizer.to_dict() == honest.to_dict()
    assert load_tokenizer(entry).to_dict() == honest.to_dict()  # the entry was rewritten
