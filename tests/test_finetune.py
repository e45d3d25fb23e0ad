"""Fine-tuning from a base (--init): the vocabulary's growth, the weights carried over, and each way
a base is named (a folder, hf: through a real offline Hugging Face cache); --resume's refusal of
options it would ignore."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import VERSE, one_line_error, run_cli, tiny_flags, tiny_model_config, tiny_train_config
from safetensors.torch import load_file, save_file

from wordgen.config import ModelConfig
from wordgen.errors import ConfigError
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import load_tokenizer
from wordgen.training.checkpoint import Bundle
from wordgen.training.finetune import Base
from wordgen.training.loop import train

# A second book: the verse's words, and some the base never read (and two letters it never saw).
NEW_TEXT = ("Zebras graze quietly by the river; the ñandú runs. Ñ\n" + VERSE) * 20


def _book(folder: Path, text: str, name: str = "book.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def _base(tmp_path: Path, tokenizer: str) -> Path:
    """A tiny base trained on the verse: 3 steps."""
    out = tmp_path / f"base-{tokenizer.split(':')[0]}"
    train(tiny_train_config(_book(tmp_path / "base-text", VERSE * 40), out, tokenizer=tokenizer, max_steps=3,
                            eval_interval=3))
    return out


def _grown_model(base: Base, config):
    """The new run's model as training builds it, before any step: the base's weights loaded into it."""
    start = base.start(config)
    model = LSTMLanguageModel(replace(base.bundle.config.model, vocab_size=start.tokenizer.vocab_size))
    base.load_into(model)
    return start, model


def test_word_vocabulary_grows_keeps_the_base_rows_and_starts_new_rows_at_the_mean(tmp_path):
    base = Base.open(str(_base(tmp_path, "word")))
    book = _book(tmp_path / "new", NEW_TEXT)
    start, model = _grown_model(base, tiny_train_config(book, tmp_path / "ft", init=str(base.folder)))
    old_tok, new_tok = base.bundle.tokenizer, start.tokenizer
    rows = old_tok.vocab_size
    assert [new_tok.id_to_token(i) for i in range(rows)] == [old_tok.id_to_token(i) for i in range(rows)]
    assert old_tok.token_to_id("Zebras") is None and new_tok.token_to_id("Zebras") >= rows
    assert start.growth.added == new_tok.vocab_size - rows > 0
    old = base.bundle.model.state_dict()
    for key in ("embedding.weight", "head.bias"):
        grown = model.state_dict()[key]
        assert torch.equal(grown[:rows], old[key])  # bitwise
        assert torch.equal(grown[rows:], old[key].mean(dim=0).expand_as(grown[rows:]))
    for key in (k for k in old if not k.startswith(("embedding.", "head."))):
        assert torch.equal(model.state_dict()[key], old[key])
    # The grown tokenizer survives its own file, and its ids are the same after the round trip.
    new_tok.save(tmp_path / "tokenizer.json")
    again = load_tokenizer(tmp_path / "tokenizer.json")
    assert again.to_dict() == new_tok.to_dict()
    assert again.encode(NEW_TEXT) == new_tok.encode(NEW_TEXT)


def test_unk_rate_with_the_book_s_own_vocabulary_and_with_the_grown_one_worked_example(tmp_path):
    from datasets import Dataset

    base = Base.open(str(_base(tmp_path, "word")))  # read the verse: knows "Juliet"
    # The book's training text lacks "Juliet"; its validation text has it, "Okapi" (in neither
    # vocabulary), "graze" (the book's) and the newline: 4 tokens.
    tokenizer, growth = base.tokenizer_for("word", Dataset.from_dict({"text": ["Zebras graze.\n" * 10]}),
                                           Dataset.from_dict({"text": ["Juliet Okapi graze\n"]}))
    assert growth.added == 2  # Zebras, graze ("." the verse has)
    assert growth.unk_book == 2 / 4 and growth.unk_merged == 1 / 4
    assert "<unk> in the validation text 25.00% (the book's own vocabulary alone: 50.00%)" in growth.describe()
    assert tokenizer.token_to_id("Okapi") is None
    # The grown vocabulary cuts unknown compounds when the book's word spec does (the default).
    assert tokenizer.split_compounds
    off, _ = base.tokenizer_for("word:split_compounds=false", Dataset.from_dict({"text": ["Zebras graze.\n"]}))
    assert not off.split_compounds


def test_char_alphabet_grows_by_the_book_s_unseen_characters(tmp_path):
    base = Base.open(str(_base(tmp_path, "char")))
    book = _book(tmp_path / "new", NEW_TEXT)
    start, model = _grown_model(base, tiny_train_config(book, tmp_path / "ft", init=str(base.folder),
                                                        tokenizer="char"))
    old_chars = [base.bundle.tokenizer.id_to_token(i) for i in range(base.bundle.tokenizer.vocab_size)]
    new_chars = [start.tokenizer.id_to_token(i) for i in range(start.tokenizer.vocab_size)]
    assert new_chars[:len(old_chars)] == old_chars
    assert set(new_chars[len(old_chars):]) == set(NEW_TEXT) - set(old_chars)
    assert "Ñ" in new_chars[len(old_chars):] and "Z" in new_chars[len(old_chars):]
    assert start.config.tokenizer == base.bundle.config.tokenizer


@pytest.mark.parametrize("tokenizer", ["char", "word", "bpe:300"])
def test_init_end_to_end_from_a_base_made_by_the_same_command_on_a_folder(tmp_path, capsys, tokenizer):
    texts = tmp_path / "texts"  # a tiny folder of books, as the shipped bases' corpus is
    _book(texts, VERSE * 25, "one.txt")
    _book(texts, VERSE.upper() * 25, "two.txt")
    base = tmp_path / "base"
    code, _, err = run_cli(capsys, "train", "--corpus", texts, "--tokenizer", tokenizer, "--max-steps", 3,
                           "--out", base, "--quiet", *tiny_flags())
    assert code == 0, err
    ft = tmp_path / "ft"
    code, out, err = run_cli(capsys, "train", "--corpus", _book(tmp_path / "new", NEW_TEXT), "--init", base,
                             "--max-steps", 3, "--out", ft, "--quiet", "--batch-size", 4, "--seq-len", 8)
    assert code == 0, err
    assert f"fine-tuning from {base}" in out
    bundle = Bundle.load(ft)
    saved = json.loads((ft / "config.json").read_text(encoding="utf-8"))
    assert saved["init"] == str(base)
    assert saved["init_sha256"] == hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    assert saved["sources"]["model.hidden_size"] == "base" and saved["sources"]["lr"] == "fine-tuning"
    assert saved["sources"]["model.dropout"] == "base"
    assert bundle.config.model.hidden_size == Bundle.load(base).config.model.hidden_size
    assert bundle.config.model.dropout == Bundle.load(base).config.model.dropout
    code, out, err = run_cli(capsys, "generate", ft, "--max-tokens", 5, "--seed", 1)
    assert code == 0 and out.strip(), err


def test_a_base_s_shape_and_tokenizer_are_not_overridden(tmp_path):
    base = Base.open(str(_base(tmp_path, "word")))
    config = tiny_train_config(tmp_path / "any.txt", tmp_path / "ft", init=str(base.folder))
    with pytest.raises(ConfigError, match=r"ModelConfig\.hidden_size: the base has 16"):
        base.settings(replace(config, model=replace(config.model, hidden_size=32)))
    with pytest.raises(ConfigError, match=r"TrainConfig\.tokenizer 'char' does not fit the base, a word model"):
        base.settings(replace(config, tokenizer="char"))
    with pytest.raises(ConfigError, match=r"no shipped base model 'base:nothing'"):
        Base.open("base:nothing")


def test_a_fine_tuning_run_takes_the_base_s_dropouts_unless_given(tmp_path):
    book = _book(tmp_path / "base-text", VERSE * 40)
    dropouts = dict(dropout=0.15, input_dropout=0.25, hidden_dropout=0.05, embedding_dropout=0.02,
                    weight_dropout=0.12)
    out = tmp_path / "base"
    train(tiny_train_config(book, out, model=tiny_model_config(**dropouts), max_steps=2, eval_interval=2))
    base = Base.open(str(out))
    config = tiny_train_config(book, tmp_path / "ft", init=str(out),
                               model=ModelConfig(dropout=None, input_dropout=0.3))
    config, sources = base.settings(config)
    assert config.model.input_dropout == 0.3 and "model.input_dropout" not in sources  # given: kept
    for name in ("dropout", "hidden_dropout", "embedding_dropout", "weight_dropout"):
        assert getattr(config.model, name) == dropouts[name] and sources[f"model.{name}"] == "base"


def test_half_precision_weights_load_into_the_float32_model(tmp_path):
    folder = _base(tmp_path, "word")
    weights = load_file(folder / "model.safetensors")
    save_file({k: v.half() for k, v in weights.items()}, folder / "model.safetensors")
    loaded = Bundle.load(folder).model.state_dict()
    for key, tensor in weights.items():  # tied weights are stored once
        assert loaded[key].dtype == torch.float32
        assert torch.equal(loaded[key], tensor.half().float())


def test_resume_refuses_options_it_would_ignore_and_points_to_init(trained, capsys, book):
    out = trained.bundle.config.out
    code, _, err = run_cli(capsys, "train", "--resume", out, "--corpus", book, "--lr", "0.5", "--max-steps", 20)
    assert code == 2
    line = one_line_error(err)
    assert "--corpus, --lr" in line and f"--init {out}" in line


def _hub_cache(cache: Path, repo: str, folder: Path) -> str:
    """`folder`'s checkpoint laid out as huggingface_hub's cache holds a downloaded repository: blobs named by
    their hash, a snapshot of links to them, refs/main naming the snapshot."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 39 + "1"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    (root / "blobs").mkdir()
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        data = (folder / name).read_bytes()
        blob = hashlib.sha256(data).hexdigest()
        (root / "blobs" / blob).write_bytes(data)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob))
    return commit


def test_hf_init_reads_a_local_hugging_face_cache_offline(tmp_path):
    base = _base(tmp_path, "word")
    cache = tmp_path / "hub"
    _hub_cache(cache, "someone/tiny-word", base)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "WORDGEN_THREADS": "1"}
    book = _book(tmp_path / "new", NEW_TEXT)

    def wordgen(*argv):
        return subprocess.run([sys.executable, "-m", "wordgen", "train", "--corpus", str(book), "--max-steps", "2",
                               "--batch-size", "4", "--seq-len", "8", "--quiet", *argv],
                              env=env, capture_output=True, text=True, timeout=300)

    done = wordgen("--init", "hf:someone/tiny-word", "--out", str(tmp_path / "ft"))
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "ft" / "config.json").read_text(encoding="utf-8"))
    assert saved["init"] == "hf:someone/tiny-word"
    assert saved["init_sha256"] == hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    missing = wordgen("--init", "hf:someone/not-cached", "--out", str(tmp_path / "ft2"))
    assert missing.returncode == 2
    assert "not in the local Hugging Face cache" in one_line_error(missing.stderr)
