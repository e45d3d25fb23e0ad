import json
import math

import numpy as np
import pytest
import torch
from helpers import run_cli, uniform_model

from wordgen.config import ModelConfig
from wordgen.evaluate import Metrics, evaluate_text, total_nll
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import train_tokenizer


@pytest.mark.parametrize("batch_size,seq_len", [(1, 5), (3, 4), (16, 256)])
def test_uniform_model_costs_log2_v_bits_per_token(batch_size, seq_len):
    text = "the cat sat on the mat\nthe dog sat on the log\n"
    tokenizer = train_tokenizer("char", [text])
    v = tokenizer.vocab_size
    metrics = evaluate_text(uniform_model(v), tokenizer, text, batch_size=batch_size, seq_len=seq_len)
    assert metrics.num_tokens == metrics.num_chars == len(text)
    assert metrics.nll == pytest.approx(len(text) * math.log(v))
    assert metrics.ppl_token == pytest.approx(v)
    assert metrics.bits_per_char == pytest.approx(math.log2(v))  # one token per character
    assert metrics.ppl_word == pytest.approx(math.exp(len(text) * math.log(v) / 12))


def test_bits_per_char_scales_with_tokens_per_char():
    text = "the cat sat on the mat\nthe dog sat on the log\n"
    tokenizer = train_tokenizer("word", [text])
    v = tokenizer.vocab_size
    metrics = evaluate_text(uniform_model(v), tokenizer, text)
    tokens = len(tokenizer.encode(text))
    assert metrics.bits_per_char == pytest.approx(math.log2(v) * tokens / len(text))


def test_nll_matches_a_direct_computation():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=11, embedding_dim=6, hidden_size=6, num_layers=1)).eval()
    ids = torch.randint(0, 11, (40,))
    logits, _ = model(ids[None, :-1])
    direct = torch.nn.functional.cross_entropy(logits[0], ids[1:], reduction="sum").item() + math.log(11)
    assert total_nll(model, ids, batch_size=1, seq_len=7) == pytest.approx(direct, rel=1e-5)


def test_unk_rate_is_reported():
    tokenizer = train_tokenizer("word", ["a b c a b c"])
    metrics = evaluate_text(uniform_model(tokenizer.vocab_size), tokenizer, "a b zebra")
    assert metrics.num_unk == 1
    assert metrics.unk_rate == pytest.approx(1 / 3)


def test_metrics_dict_round_numbers():
    m = Metrics(nll=math.log(2) * 8, num_tokens=4, num_chars=8, num_words=2)
    d = m.to_dict()
    assert d["bits_per_char"] == pytest.approx(1.0)
    assert d["ppl_token"] == pytest.approx(4.0)
    assert d["ppl_word"] == pytest.approx(16.0)


# ---------------------------------------------------------------- wordgen evaluate --corpus


OTHER = "".join(f"Line {i} of another book, which the model never read.\n" for i in range(60))


def _evaluate_json(capsys, *argv) -> dict:
    capsys.readouterr()
    code, out, err = run_cli(capsys, "evaluate", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_another_corpus_is_scored_whole(shared_trained, tmp_path, capsys):
    other = tmp_path / "other_book.txt"
    other.write_text(OTHER, encoding="utf-8")
    ckpt = shared_trained.bundle.config.out
    whole = _evaluate_json(capsys, ckpt, "--corpus", str(other))
    assert whole["num_chars"] == len(OTHER) and whole["num_words"] == len(OTHER.split())
    assert "whole text" in whole["text"] and "not this model's training corpus" in whole["text"]
    # The same figures as scoring the file's text in one piece.
    direct = evaluate_text(shared_trained.bundle.model, shared_trained.bundle.tokenizer, OTHER)
    assert whole["num_tokens"] == direct.num_tokens
    assert whole["nll"] == pytest.approx(direct.nll, rel=1e-5)
    # --split still picks one split, and says the corpus is not the model's own.
    test_only = _evaluate_json(capsys, ckpt, "--corpus", str(other), "--split", "test")
    assert test_only["num_chars"] < len(OTHER) / 10 and "not trained on" in test_only["text"]


def test_the_own_corpus_still_defaults_to_its_test_split(shared_trained, monkeypatch, capsys):
    config = shared_trained.bundle.config
    own = _evaluate_json(capsys, config.out)
    assert "[test split]" in own["text"]
    # The same file named another way (relative to another folder) is still the own corpus.
    from pathlib import Path

    monkeypatch.chdir(Path(config.corpus).parent)
    renamed = _evaluate_json(capsys, config.out, "--corpus", Path(config.corpus).name)
    assert renamed["num_chars"] == own["num_chars"] and "[test split]" in renamed["text"]


def test_evaluate_corpus_joins_the_splits_in_order(shared_trained):
    from wordgen.evaluate import evaluate_corpus, evaluate_split

    dataset = shared_trained.dataset
    whole = evaluate_corpus(shared_trained.bundle.model, shared_trained.bundle.tokenizer, dataset)
    parts = [evaluate_split(shared_trained.bundle.model, shared_trained.bundle.tokenizer, dataset[s])
             for s in ("train", "validation", "test")]
    assert whole.num_chars == sum(p.num_chars for p in parts)
    assert whole.num_tokens == sum(p.num_tokens for p in parts)


@pytest.mark.parametrize("world_size", [2, 3])
def test_columns_shared_between_ranks_add_up_to_the_total(world_size):
    # What a multi-process validation does: each rank scores its columns, the sums are added.
    # The stream is a numpy uint16 array, as a memory-mapped token store hands it over.
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=11, embedding_dim=6, hidden_size=6, num_layers=1)).eval()
    ids = np.random.default_rng(0).integers(0, 11, 101).astype(np.uint16)
    whole = total_nll(model, torch.from_numpy(ids.astype(np.int64)), batch_size=5, seq_len=7)
    parts = [total_nll(model, ids, batch_size=5, seq_len=7, rank=r, world_size=world_size) for r in range(world_size)]
    assert sum(parts) == pytest.approx(whole, rel=1e-6)
    assert parts[0] > parts[-1] > 0  # rank 0 alone pays ln V for the first token (and has more columns)
