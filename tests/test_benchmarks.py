"""The benchmark suite runs at tiny sizes, and its references compute what wordgen computes.

No wall time is asserted anywhere: the figures are for benchmarks/README.md.
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is not an installed package

from benchmarks import run as bench
from benchmarks import sections_train
from benchmarks.reference import ReferenceLM, naive_generate, reference_train
from wordgen.config import ModelConfig, TrainConfig
from wordgen.model import LSTMLanguageModel

TINY = dict(bench.QUICK, matmul=64, copy_mb=[1, 2], train_steps=1, eval_tokens=64, gen_tokens=2, batch=4, seq_len=8,
            quality_seconds=[0.5], mem_steps=1)


def test_reference_and_wordgen_compute_the_same_loss_on_the_same_weights():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=50, embedding_dim=16, hidden_size=16, num_layers=2,
                                          dropout=0.0)).eval()
    reference = ReferenceLM.like(model).eval()
    ids, targets = torch.randint(0, 50, (3, 7)), torch.randint(0, 50, (3, 7))
    ours, _ = model.loss(ids, targets)
    logits, _ = reference(ids)
    theirs = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_reference_loops_run():
    torch.manual_seed(0)
    reference = ReferenceLM(30, 8, 8, 1)
    stats = reference_train(reference, torch.randint(0, 30, (2, 40)), seq_len=8, steps=6)
    assert stats["tokens"] == 6 * 2 * 8 and stats["loss"] > 0
    assert naive_generate(reference, torch.tensor([[1, 2]] * 3), 5).shape == (3, 5)


def test_adaptive_head_flops_count_only_the_clusters_used():
    # The full-softmax count is wordgen.model.forward_flops_per_token (tests/test_model.py).
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=100, embedding_dim=16, hidden_size=16, num_layers=1,
                                          softmax="adaptive", tie_weights=False, adaptive_cutoffs=[10]))
    head_only = 2 * 16 * (10 + 1)
    assert bench.adaptive_head_flops(model, torch.zeros(50, dtype=torch.long)) == head_only
    assert bench.adaptive_head_flops(model, torch.full((50,), 99)) > head_only


def test_suite_runs_at_tiny_sizes(book, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sections_train, "train_configs", lambda: [
        ("word tiny", "word", ModelConfig(embedding_dim=16, hidden_size=16, num_layers=1), 1)])
    doc = bench.run(["train", "tokenizers", "dataprep", "quality"], TINY, corpus=str(book), out=tmp_path)
    figures = {r["figure"] for r in doc["rows"]}
    assert any("peak float32" in f for f in figures) and any("warm" in f for f in figures)
    assert any("bits/char" in f for f in figures) and "word tiny: bf16 autocast / float32 wordgen" in figures
    assert all(r["value"] is None or r["value"] == r["value"] for r in doc["rows"])  # no NaN
    saved = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert saved["rows"] == doc["rows"] and "table" not in capsys.readouterr().err


def test_tune_char_parses_trials_and_logs_one_line_per_run(book, tmp_path, monkeypatch, capsys):
    from benchmarks import tune_char

    assert tune_char.parse_trial("w:hidden_size=32,lr=6e-3,precision=bf16") == (
        "w", {"lr": 6e-3, "precision": "bf16"}, {"hidden_size": 32})
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "tune.jsonl"
    code = tune_char.main(["--seconds", "0.5", "--corpus", str(book), "--log", str(log),
                           "--trial", "a:hidden_size=16,embedding_dim=16,num_layers=1,batch_size=4,seq_len=8"])
    assert code == 0
    row = json.loads(log.read_text())
    assert row["name"] == "a" and row["model"] == {"hidden_size": 16, "embedding_dim": 16, "num_layers": 1}
    assert row["steps"] >= 1 and 0 < row["val_bpc"] < 20
    assert row["config"]["model"]["hidden_size"] == 16 and row["config"]["lr"] == TrainConfig().lr
    assert "val" in capsys.readouterr().out
