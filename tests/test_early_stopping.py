"""Early stopping: a run on a text it memorises at once stops, says so, and keeps the best weights."""

import json

import pytest
from helpers import tiny_train_config

from wordgen.cli import main
from wordgen.training.loop import train

# The training text says the words in one order, the validation text in the reverse order:
# learning the training order (after the word frequencies, which both share) can only make
# validation worse, so validation improves for a few checks and then gets worse for good.
FORWARD = "one two three four five six\n"
BACKWARD = "six five four three two one\n"


@pytest.fixture
def overfit_book(tmp_path):
    path = tmp_path / "overfit.txt"
    path.write_text(FORWARD * 180 + BACKWARD * 20, encoding="utf-8")  # 90 / 5 / 5 by lines
    return path


def test_a_run_that_stops_improving_stops_early_and_keeps_the_best(tmp_path, overfit_book):
    config = tiny_train_config(overfit_book, tmp_path / "run", max_steps=400, eval_interval=5, lr=1e-2,
                               patience=2, plateau_drops=1)
    result = train(config)
    stop = result.early_stop
    assert stop is not None and result.steps == stop.step < 400
    losses = [r["val_loss"] for r in result.history]
    best = min(range(len(losses)), key=losses.__getitem__)
    # Stopped after two bad checks, one learning-rate drop, then two more bad checks.
    assert len(losses) - 1 - best >= 4
    assert stop.best_step == result.history[best]["step"]
    assert stop.describe().startswith(f"validation stopped improving at step {stop.step} (epoch ")
    assert "best checkpoint kept" in stop.describe()
    # The model handed back (and saved) is the best one, not the last.
    assert result.best_val_loss == losses[best]
    lrs = [r["lr"] for r in result.history]
    assert min(lrs[best + 1:]) < lrs[best] / 3  # the plateau drop (factor 4) happened
    saved = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["step"] for r in saved] == [r["step"] for r in result.history]


def test_without_patience_the_run_uses_its_whole_budget(tmp_path, overfit_book):
    config = tiny_train_config(overfit_book, tmp_path / "run", max_steps=60, eval_interval=5, lr=1e-2,
                               patience=None)
    result = train(config)
    assert result.early_stop is None and result.steps == 60


def test_the_cli_says_why_it_stopped_and_what_the_size_rule_chose(tmp_path, overfit_book, capsys):
    code = main(["train", "--corpus", str(overfit_book), "--out", str(tmp_path / "c"), "--max-steps", "400",
                 "--eval-interval", "5", "--patience", "2", "--lr", "1e-2", "--quiet", "--num-layers", "1",
                 "--hidden-size", "16", "--batch-size", "4", "--seq-len", "8", "--dropout", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    rule = next(line for line in lines if line.startswith("size rule:"))
    assert "1 x 16 (flag)" in rule and "dropout 0 (flag)" in rule and "weight-decay" in rule
    assert any(line.startswith("validation stopped improving at step ") and "best checkpoint kept" in line
               for line in lines)
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    # config.json records what the rule chose, as numbers.
    assert config["model"]["embedding_dim"] == 16 and isinstance(config["model"]["input_dropout"], float)
    assert isinstance(config["weight_decay"], float) and config["eval_interval"] == 5
