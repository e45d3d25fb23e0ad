"""The benchmark suite runs at tiny sizes, and its references compute what wordgen computes.

No wall time is asserted anywhere: the figures are for benchmarks/README.md.
"""

import json
from pathlib import Path

import pytest
import torch

from benchmarks import run as bench  # benchmarks/ is not installed: pyproject's pytest pythonpath finds it
from benchmarks import sections_train
from benchmarks.reference import ReferenceLM, naive_generate, reference_train
from wordgen.config import ModelConfig
from wordgen.model import LSTMLanguageModel
from wordgen.training import sizerule as autosize

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
    assert row["config"]["model"]["hidden_size"] == 16 and row["config"]["lr"] == autosize.RECIPES["adamw"]["lr"]
    assert "val" in capsys.readouterr().out


def test_naive_reference_draws_with_either_sampler():
    torch.manual_seed(0)
    reference = ReferenceLM(30, 8, 8, 1)
    for sampler in ("multinomial", "inverse-cdf"):
        ids = naive_generate(reference, torch.tensor([[1, 2]] * 3), 5, sampler=sampler)
        assert ids.shape == (3, 5) and int(ids.max()) < 30


def test_bandwidth_is_probed_beyond_the_last_level_cache():
    from benchmarks.probes import MB, bandwidth_sizes

    assert bandwidth_sizes(32 * MB, 3) == [64.0, 128.0, 256.0]
    assert bandwidth_sizes(256 * MB, 2) == [512.0, 1024.0]
    assert bandwidth_sizes(None, 2) == [64.0, 128.0]


def test_the_generation_roof_is_the_lower_of_compute_and_bandwidth():
    from benchmarks.probes import Roofs, higher
    from benchmarks.sections_other import _generation_roof

    roofs = Roofs(peak=100e9, bandwidth=20e9, by_size={64: 20e9}, bandwidth_size=64)
    # batch 1: 20 GB/s / 40 MB = 500 tok/s < 100 GFLOP/s / 20 MFLOP = 5000 tok/s
    value, note = _generation_roof(roofs, 1, flops=20e6, step_bytes=40e6)
    assert value == pytest.approx(500) and note.startswith("bandwidth-bound") and "64 MB" in note
    # batch 32: 16 000 tok/s of bandwidth, but only 5 000 of compute
    value, note = _generation_roof(roofs, 32, flops=20e6, step_bytes=40e6)
    assert value == pytest.approx(5000) and note.startswith("compute-bound")
    other = Roofs(peak=90e9, bandwidth=25e9, by_size={128: 25e9}, bandwidth_size=128)
    best = higher(roofs, other)
    assert (best.peak, best.bandwidth, best.bandwidth_size) == (100e9, 25e9, 128)


def test_results_are_never_written_over(tmp_path):
    import datetime

    from benchmarks.results_file import new_path, write_new

    now = datetime.datetime(2026, 11, 27, 5, 16, 0)
    first = new_path("run", tmp_path, now)
    first.write_text("{}")
    second = new_path("run", tmp_path, now)
    assert first.name == "run-2026-11-27T05-16-00.json" and second.name == "run-2026-11-27T05-16-00-2.json"
    paths = {write_new({"n": i}, "run", tmp_path) for i in range(3)}
    assert len(paths) == 3 and all(json.loads(p.read_text())["n"] in (0, 1, 2) for p in paths)


def test_micro_sections_run(capsys):
    from benchmarks import micro

    assert micro.main(["--only", "sampler,gemv", "--repeats", "1", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "us/draw" in out and out.count("GB/s") == 3


def test_busy_ratios_are_divided_by_the_idle_run_and_idle_by_the_fastest_policy():
    from benchmarks import busy

    figures = {("idle", "wordgen"): 1000.0, ("busy", "wordgen"): 450.0, ("pair", "wordgen"): 900.0,
               ("idle", "active"): 1250.0, ("busy", "active"): 300.0, ("pair", "active"): 500.0}
    runs = {(s, "train-char", pol): [{"tokens_per_s": v}] for (s, pol), v in figures.items()}
    ours, active = busy._ratios(runs, ["idle", "busy", "pair"], ["train-char"], ["wordgen", "active"])
    assert ours["busy_ratio"] == pytest.approx(0.45) and ours["pair_ratio"] == pytest.approx(0.9)
    assert ours["idle_vs_fastest"] == pytest.approx(0.8) and active["idle_vs_fastest"] == 1.0
    (idle_only,) = busy._ratios({("idle", "generate-word", "wordgen"): [{"tokens_per_s": 5.0}]}, ["idle"],
                                ["generate-word"], ["wordgen"])
    assert "busy_ratio" not in idle_only and idle_only["idle_vs_fastest"] == 1.0


def test_each_policy_is_the_environment_it_names():
    from benchmarks import busy

    assert busy.policy_env("wordgen") == {}
    assert busy.policy_env("active") == {"OMP_WAIT_POLICY": "ACTIVE", "WORDGEN_THREADS": "torch"}
    assert busy.policy_env("spin:1000") == {"GOMP_SPINCOUNT": "1000"}
    with pytest.raises(ValueError, match="unknown policy"):
        busy.policy_env("spin:lots")


@pytest.mark.slow
def test_busy_benchmark_runs_every_scenario(book, capsys):
    from benchmarks import busy

    assert busy.main(["--seconds", "0.3", "--policies", "wordgen", "--corpus", str(book), "--no-save"]) == 0
    out = capsys.readouterr().out
    for scenario in ("idle", "busy", "pair"):
        assert f"  {scenario:5} train-char" in out
    assert "load average before" in out and "load average after" in out and "pair/idle" in out
    assert busy.main(["--seconds", "0.3", "--policies", "spin:1000", "--jobs", "generate-word",
                      "--scenarios", "idle", "--corpus", str(book), "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "generate-word spin:1000" in out and "/fastest" in out


def test_the_book_search_and_the_quality_table_at_tiny_sizes(book, tmp_path, monkeypatch, capsys):
    import dataclasses

    from benchmarks import quality, reference, tune_book

    # The classic recipe as it is (SGD lr 20, clip 0.25, 20 x 35), only narrower, for speed.
    monkeypatch.setitem(reference.RECIPES, "classic",
                        dataclasses.replace(reference.CLASSIC, embedding_dim=8, hidden_size=8))
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "search.jsonl"
    code = tune_book.main(["--book", str(book), "--tokens", "2000", "--log", str(log), "--unk-penalty",
                           "--trial", "w:hidden_size=16,num_layers=1,batch_size=4,seq_len=8",
                           "--trial", "c:ref=classic"])
    assert code == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in rows] == ["w", "c"]
    wordgen_row, classic_row = rows
    assert wordgen_row["config"]["model"]["hidden_size"] == 16 and wordgen_row["tokens"] == 2016  # 63 steps x 32
    assert wordgen_row["config"]["model"]["input_dropout"] is not None  # the size rule filled it in
    assert classic_row["tokens"] >= 2000 and classic_row["recipe"] == reference.CLASSIC.name
    assert all(0 < r["val_bpc"] < 20 and r["unk_penalty_bpc"] >= 0 for r in rows)
    assert "val" in capsys.readouterr().out
    table = quality.format_table([("frankenstein", "word", 150, {"wordgen": 1.5, "classic": 2.0}),
                                  ("frankenstein", "char", 150, {"wordgen": 1.8, "plain": 1.6})], "s")
    lines = table.splitlines()
    assert lines[2].split()[-1] == "0.750" and lines[3].split()[-1] == "1.125"


def test_the_quality_suite_scores_every_model_with_the_cache_too(book, tmp_path, monkeypatch, capsys):
    import dataclasses

    from benchmarks import quality, reference

    monkeypatch.setitem(reference.RECIPES, "classic",
                        dataclasses.replace(reference.CLASSIC, embedding_dim=8, hidden_size=8))
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "quality.jsonl"
    assert quality.main(["--book", str(book), "--tokenizers", "word", "--tokens", "1500", "--cache",
                         "--log", str(log)]) == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["who"] for r in rows] == ["wordgen", "classic"]
    assert all(0 < r["val_bpc_cache"] < 20 and r["val_bpc_cache"] != r["val_bpc"] for r in rows)
    assert "with the neural cache" in capsys.readouterr().out


def test_the_gpu_benchmark_runs_at_toy_sizes_on_the_cpu(book, tmp_path, monkeypatch, capsys):
    # benchmarks/gpu_check.sh runs it on a GPU; here the same code runs on the CPU, so it is
    # known to work before a GPU machine is at hand. The figures mean nothing at this size.
    import subprocess

    from benchmarks import gpu_bench

    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    assert gpu_bench.main(["--device", "cpu", "--tiny", "--steps", "2", "--tokens", "4", "--corpus", str(book),
                           "--out", str(tmp_path)]) == 0
    rows = json.loads(next(tmp_path.glob("gpu-*.json")).read_text())["rows"]
    assert {r["what"] for r in rows} == {"train", "generate, fast path", "generate, nn.LSTM per token"}
    assert all(r["tokens_per_s"] > 0 for r in rows) and "tokens/s" in capsys.readouterr().out
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)], timeout=60).returncode == 0  # at least it parses


def test_the_results_page_tables_the_base_runs_apart_from_the_references():
    from benchmarks.pages import _bases_table, base_cells, quality_pairs

    def row(who, bpc, **more):
        return {"book": "/x/frankenstein.txt", "tokenizer": "word", "who": who, "seconds_budget": 150.0,
                "tokens_budget": None, "val_bpc": bpc, "date": "2026-12-03 10:00", "unk_penalty_bpc": 0.1, **more}

    rows = [row("wordgen", 1.64), row("fine-tuned", 1.40, unk_book=0.04, unk_merged=0.01),
            row("zero-shot", 1.48), row("classic", 1.60)]
    assert [ref["who"] for _, ref in quality_pairs(rows)] == ["classic"]  # a base run is no reference
    [cell] = base_cells(rows)
    assert cell["fine-tuned"]["val_bpc"] == 1.40 and cell["key"] == ("frankenstein", "word", "150 s")
    [line] = [line for line in _bases_table(rows).splitlines() if line.startswith("| frankenstein")]
    assert "| 0.875 | 0.925 | 0.867 | 4.00% / 1.00% |" in line  # 1.40 / 1.60, 1.48 / 1.60, 1.30 / 1.50
    assert base_cells(rows[:1] + rows[3:]) == []  # no fine-tuned run: no table


def test_the_pages_command_writes_into_the_folder_it_is_given_and_only_there(tmp_path, monkeypatch, capsys):
    from benchmarks import pages

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as help_exit:  # --help is an option, not a folder named "--help"
        pages.main(["--help"])
    assert help_exit.value.code == 0 and list(tmp_path.iterdir()) == []
    assert pages.main(["out"]) == 0
    assert (tmp_path / "out" / "results" / "quality.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
