import json
import math
import shutil
import sys

import pytest
import torch

from wordgen import _io
from wordgen.config import SampleConfig
from wordgen.corpora import load_corpus
from wordgen.errors import CheckpointError, ConfigError
from wordgen.generation.decode import generate
from wordgen.tokenization import train_tokenizer
from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train

# The modules themselves: `wordgen.training.loop` as an attribute is the function (the package exports it).
train_module = sys.modules["wordgen.training.loop"]
prepare_module = sys.modules["wordgen.training.prepare"]  # where train() loads the corpus and the tokenizer

from helpers import NEEDS_CPU_BF16, one_line_message, tiny_model_config, tiny_train_config


def test_training_writes_a_complete_checkpoint_folder(shared_trained):
    trained = shared_trained
    out = trained.bundle.config.out
    for name in ("config.json", "tokenizer.json", "model.safetensors", "trainer_state.pt", "metrics.jsonl"):
        assert (ckpt.Path(out) / name).is_file(), name
    rows = ckpt.read_metrics(out)
    assert [r["step"] for r in rows] == [5, 10, 12]
    assert all(r["val_bpc"] > 0 for r in rows)
    assert trained.steps == 12 and trained.tokens_seen == 12 * 4 * 8
    assert trained.best_val_loss == min(r["val_loss"] for r in rows)


def test_every_file_of_a_checkpoint_has_the_same_mode(trained):
    # Written through wordgen._io (mkstemp alone would leave 0600 files beside 0644 ones).
    out = ckpt.Path(trained.bundle.config.out)
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([".lock", "config.json", "tokenizer.json", "model.safetensors", "trainer_state.pt",
                            "metrics.jsonl"])
    modes = {name: oct((out / name).stat().st_mode & 0o777) for name in files}
    assert set(modes.values()) == {oct(_io.FILE_MODE)}, modes


def test_training_lowers_the_loss(tmp_path, book):
    result = train(tiny_train_config(book, tmp_path / "c", max_steps=60, eval_interval=20, lr=1e-2))
    losses = [r["val_loss"] for r in result.history]
    assert losses[-1] < losses[0]


def test_same_seed_same_run(tmp_path, book):
    a = train(tiny_train_config(book, tmp_path / "a"))
    b = train(tiny_train_config(book, tmp_path / "b"))
    assert [r["val_loss"] for r in a.history] == [r["val_loss"] for r in b.history]


def test_a_tokenizer_and_dataset_handed_in_are_used_as_they_are(tmp_path, book, monkeypatch):
    # The run that loads the corpus and trains the tokenizer itself is the yardstick.
    loaded = train(tiny_train_config(book, tmp_path / "loaded", max_steps=4, eval_interval=2))
    dataset = load_corpus(str(book), seed=0)
    tokenizer = train_tokenizer("word", dataset["train"]["text"])

    def refuse(*args, **kwargs):
        raise AssertionError("train() loaded or trained what it was handed")

    monkeypatch.setattr(prepare_module, "load_corpus", refuse)
    monkeypatch.setattr(prepare_module, "_cached_tokenizer", refuse)
    given = train(tiny_train_config(book, tmp_path / "given", max_steps=4, eval_interval=2),
                  tokenizer=tokenizer, dataset=dataset)
    assert given.bundle.tokenizer is tokenizer and given.dataset is dataset
    assert [r["val_loss"] for r in given.history] == [r["val_loss"] for r in loaded.history]
    ours, theirs = given.bundle.model.state_dict(), loaded.bundle.model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)  # bitwise
    last = ckpt.load_trainer_state(tmp_path / "given")["model"]
    assert all(torch.equal(last[name], ckpt.load_trainer_state(tmp_path / "loaded")["model"][name]) for name in last)
    with pytest.raises(ConfigError, match="validation"):
        train(tiny_train_config(book, tmp_path / "x"), dataset={"train": dataset["train"]})
    with pytest.raises(ConfigError, match="tokenizer saved in its checkpoint"):
        train(tiny_train_config(book, tmp_path / "given"), tokenizer=tokenizer, resume=True)


def test_resume_with_a_raised_step_limit_continues_exactly(tmp_path, book):
    # A constant learning rate after warm-up, so the schedule does not depend on the total length
    # and a run planned for 5 steps, then raised to 10, can equal one planned for 10 from the start.
    # Dropout on, so the restored random state matters too. (Stops under the real warm-up + cosine
    # schedule: tests/test_resume_exact.py.)
    model = tiny_model_config(num_layers=2, dropout=0.3)
    train(tiny_train_config(book, tmp_path / "s", max_steps=10, lr_min_ratio=1.0, model=model))
    first = tiny_train_config(book, tmp_path / "r", max_steps=5, lr_min_ratio=1.0, model=model)
    train(first)
    second = ckpt.load_config(tmp_path / "r")
    second.max_steps = 10
    resumed = train(second, resume=True)
    assert resumed.steps == 10
    s_state = ckpt.load_trainer_state(tmp_path / "s")["model"]
    r_state = ckpt.load_trainer_state(tmp_path / "r")["model"]
    assert all(torch.equal(s_state[name], r_state[name]) for name in s_state)  # bitwise


def test_existing_checkpoint_is_never_overwritten_by_accident(trained):
    out = trained.bundle.config.out
    before = (ckpt.Path(out) / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        train(trained.bundle.config)
    assert (ckpt.Path(out) / "model.safetensors").read_bytes() == before


def test_loaded_bundle_generates_the_same_text_anywhere(shared_trained, tmp_path):
    trained = shared_trained
    out = trained.bundle.config.out
    copy = tmp_path / "copied"
    shutil.copytree(out, copy)
    a, b = Bundle.load(out, device="cpu"), Bundle.load(copy, device="cpu")
    settings = dict(max_tokens=30, sample=SampleConfig(temperature=1.0, top_k=20), seed=3)
    text_a = generate(a.model, a.tokenizer, "ROMEO", **settings)
    assert text_a == generate(b.model, b.tokenizer, "ROMEO", **settings)
    assert text_a == generate(trained.bundle.model, trained.bundle.tokenizer, "ROMEO", **settings)
    assert text_a != generate(a.model, a.tokenizer, "ROMEO", **{**settings, "seed": 4})


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: shutil.rmtree(d), "does not exist"),
        (lambda d: (d / "config.json").unlink(), "not a wordgen checkpoint"),
        (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "config.json").write_text('{"format": "other"}'), "not a wordgen checkpoint"),
        (lambda d: (d / "model.safetensors").unlink(), "no model.safetensors"),
        (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:100]), "truncated or corrupted"),
        (lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 64), "truncated or corrupted"),
        (lambda d: (d / "tokenizer.json").write_text("[]"), "tokenizer.json"),
    ],
)
def test_damaged_checkpoints_fail_with_one_line(trained, damage, message):
    out = ckpt.Path(trained.bundle.config.out)
    damage(out)
    with pytest.raises(CheckpointError, match=message) as err:
        Bundle.load(out)
    one_line_message(err)


def test_truncated_trainer_state_fails_cleanly(trained):
    out = ckpt.Path(trained.bundle.config.out)
    state = out / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        ckpt.load_trainer_state(out)


def test_a_crash_while_saving_keeps_the_previous_file(tmp_path):
    target = tmp_path / "config.json"
    _io.atomic_write_text(target, "old")

    def crash(tmp):
        open(tmp, "w").write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write(target, crash)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left behind


def test_learning_rate_schedule():
    from wordgen.config import TrainConfig
    from wordgen.training.optim import lr_factor

    config = TrainConfig(warmup_steps=10, lr_min_ratio=0.1, max_steps=1000)
    assert lr_factor(0, 0.0, config) == pytest.approx(0.1)  # step 1 of a 10-step warm-up
    assert lr_factor(9, 0.01, config) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.01)))
    assert lr_factor(500, 0.5, config) == pytest.approx(0.55)  # half way down the cosine
    assert lr_factor(999, 1.0, config) == pytest.approx(0.1)  # the floor


def test_train_leaves_the_callers_config_alone(tmp_path, book):
    shared = tiny_model_config()
    char = train(tiny_train_config(book, tmp_path / "c", tokenizer="char", model=shared, max_steps=2))
    word = train(tiny_train_config(book, tmp_path / "w", tokenizer="word", model=shared, max_steps=2))
    assert shared.vocab_size == 0  # untouched
    assert char.bundle.config.model.vocab_size == char.bundle.tokenizer.vocab_size
    assert word.bundle.config.model.vocab_size == word.bundle.tokenizer.vocab_size != char.bundle.tokenizer.vocab_size


@NEEDS_CPU_BF16
def test_bf16_autocast_trains_close_to_float32(tmp_path, book, monkeypatch):
    # Same seed and steps: bfloat16 rounds the forward pass (8 bits of mantissa), so the
    # losses differ a little, but training must still work and keep float32 weights.
    # A forward hook on the output layer proves autocast really ran: under bf16 the
    # training steps' logits come out in bfloat16, under fp32 in float32.
    seen = {"fp32": set(), "bf16": set()}
    real_step = train_module._step

    def step_with_hook(run, *args):
        handle = run.model.head.register_forward_hook(
            lambda module, inputs, output: seen[run.config.precision].add(output.dtype))
        try:
            return real_step(run, *args)
        finally:
            handle.remove()

    monkeypatch.setattr(train_module, "_step", step_with_hook)
    results = {}
    for precision in ("fp32", "bf16"):
        cfg = tiny_train_config(book, tmp_path / precision, max_steps=20, precision=precision)
        results[precision] = train(cfg)
        assert json.loads((tmp_path / precision / "config.json").read_text())["precision"] == precision
    assert seen == {"fp32": {torch.float32}, "bf16": {torch.bfloat16}}
    assert results["fp32"].history[-1]["val_loss"] != results["bf16"].history[-1]["val_loss"]
    fp32, bf16 = (results[p].history[-1]["val_loss"] for p in ("fp32", "bf16"))
    assert abs(bf16 - fp32) / fp32 < 0.05, (fp32, bf16)
    assert all(p.dtype == torch.float32 for p in results["bf16"].bundle.model.parameters())
    with pytest.raises(ConfigError, match="precision"):
        tiny_train_config(book, tmp_path / "x", precision="fp8").validate()
    # "auto" is resolved before the run and config.json records the choice.
    auto = train(tiny_train_config(book, tmp_path / "auto", max_steps=1, precision="auto"))
    assert auto.bundle.config.precision in ("fp32", "bf16")
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["precision"] == auto.bundle.config.precision
