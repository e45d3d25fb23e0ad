"""The plan: every setting of a run filled in and marked with its source, without training."""

import json

import numpy as np
import pytest
from helpers import tiny_train_config

from wordgen import lab
from wordgen.config import TrainConfig
from wordgen.data import batchify, windows_per_epoch
from wordgen.errors import CheckpointError, ConfigError
from wordgen.training import checkpoint as ckpt
from wordgen.training.plan import (
    MIN_EVAL_TOKENS,
    RULE_FIELDS,
    SOURCES,
    VALIDATION_SHARE,
    Plan,
    apply_settings,
    eval_slice,
    flat,
    plan_run,
)


def lab_run_on(book, **flags):
    """The lab's config on `book`, `flags` given as the command line would: (config, sources)."""
    config, sources = lab.lab_config()
    return apply_settings(config, {"corpus": str(book), **flags}, "flag", sources)


def test_a_plan_for_a_small_text_sets_and_marks_every_field(book):
    config, sources = lab_run_on(book, max_steps=20, **{"model.hidden_size": 32, "model.embedding_dim": 32})
    plan = plan_run(config, sources=sources)
    fields = flat(plan.config)
    assert set(plan.sources) == set(fields) and set(plan.sources.values()) <= set(SOURCES)
    assert all(fields[name] is not None for name in (*RULE_FIELDS, "eval_interval", "model.tie_weights"))
    s = plan.sources
    assert (s["max_steps"], s["corpus"], s["model.hidden_size"]) == ("flag", "flag", "flag")
    assert (s["lr"], s["optimizer"], s["model.dropout"], s["tokenizer"]) == ("lab", "lab", "lab", "lab")
    assert (s["model.softmax"], s["model.tie_weights"]) == ("size rule", "size rule")
    assert (s["eval_interval"], s["model.vocab_size"], s["seed"]) == ("half pass", "tokenizer", "default")
    assert plan.chosen == ["model.softmax"]  # the lab leaves only its output layer to the rule
    assert config.model.softmax is None and config.eval_interval is None  # the caller's config is not changed
    lines = plan.describe()
    assert lines[0].startswith(f"size rule: {plan.choice.train_tokens:,} training tokens, vocabulary ")
    rows = {line.split()[0]: line for line in lines[3:]}
    assert len(lines) == 3 + len(fields) and set(rows) == set(fields)
    assert rows["max_steps"].split()[1:] == ["20", "flag"] and rows["lr"].split()[1:] == ["0.003", "lab"]
    assert rows["epochs"].split()[1:] == ["no", "limit", "default"] and rows["model.softmax"].endswith("size rule")


def test_plan_run_builds_no_model(book, monkeypatch):
    import wordgen.model
    import wordgen.training.optim

    def refuse(*args, **kwargs):
        raise AssertionError("plan_run built a model or an optimizer")

    monkeypatch.setattr(wordgen.model.LSTMLanguageModel, "__init__", refuse)
    monkeypatch.setattr(wordgen.training.optim, "make_optimizer", refuse)
    plan = plan_run(TrainConfig(corpus=str(book), epochs=2.0))
    assert plan.config.model.hidden_size == 256 and plan.sources["model.hidden_size"] == "size rule"  # a small text
    assert (plan.sources["corpus"], plan.sources["epochs"]) == ("given", "given")  # set, no source said


def test_plan_run_fails_where_training_would(book):
    with pytest.raises(ConfigError, match="say when to stop"):
        plan_run(TrainConfig(corpus=str(book)))
    with pytest.raises(Exception, match="too short"):
        plan_run(TrainConfig(corpus=str(book), epochs=1.0, batch_size=100_000))


def test_the_validation_interval_is_every_half_pass_within_10_and_100():
    for tokens, expected in ((10_000, 10), (100_000, 71), (1_000_000, 100)):
        plan = Plan.build(TrainConfig(epochs=1.0), train_tokens=tokens, vocab_size=7_000)  # SGD recipe: 20 x 35
        table = batchify(np.arange(tokens), plan.config.batch_size)
        assert plan.windows_per_epoch == windows_per_epoch(table, plan.config.seq_len)  # what train() counts
        assert plan.config.eval_interval == expected
    given = Plan.build(TrainConfig(epochs=1.0, eval_interval=7), train_tokens=10_000, vocab_size=7_000,
                       sources={"eval_interval": "flag"})
    assert given.config.eval_interval == 7 and given.sources["eval_interval"] == "flag"


def test_checks_score_as_much_of_the_split_as_keeps_them_near_the_validation_share():
    # 100 steps of 32 x 64 train 204 800 tokens; a scored token costs a third of a trained one.
    n = eval_slice(32, 64, 100, val_tokens=110_000)
    assert n == int(3 * 204_800 * VALIDATION_SHARE / (1 - VALIDATION_SHARE))
    assert (n / 3) / (n / 3 + 204_800) == pytest.approx(VALIDATION_SHARE, abs=1e-4)
    assert eval_slice(32, 64, 100, val_tokens=n) == 0  # the whole split is cheap enough: 0 scores all of it
    assert eval_slice(4, 8, 10, val_tokens=50_000) == MIN_EVAL_TOKENS  # never fewer tokens than that
    plan = Plan.build(TrainConfig(epochs=1.0), train_tokens=1_000_000, vocab_size=7_000, val_tokens=50_000)
    assert plan.config.eval_tokens == eval_slice(20, 35, 100, 50_000) and plan.sources["eval_tokens"] == "validation share"
    small = Plan.build(TrainConfig(epochs=1.0), train_tokens=100_000, vocab_size=7_000, val_tokens=5_000)
    assert small.config.eval_tokens == 0 and "the whole split" in [r for r in small.describe() if "eval_tokens" in r][0]
    given = Plan.build(TrainConfig(epochs=1.0, eval_tokens=0), train_tokens=10**6, vocab_size=7_000, val_tokens=10**5)
    assert given.config.eval_tokens == 0 and given.sources["eval_tokens"] == "given"


def test_the_summary_names_each_source_beside_its_value():
    config = TrainConfig(epochs=8.0, lr=0.5, seed=3)  # epochs and seed set without a source: "given"
    summary = Plan.build(config, train_tokens=100_000, vocab_size=5_000, sources={"lr": "flag"}).summary()
    assert len(summary) == 2 and "lr 0.5 (flag)," in summary[0] and "optimizer sgd," in summary[0]
    assert summary[1].startswith("plan: 45 settings (") and "1 flag" in summary[1] and "2 given" in summary[1]


def test_unknown_names_are_refused():
    with pytest.raises(ConfigError, match="no TrainConfig field: model.heads"):
        apply_settings(TrainConfig(), {"model.heads": 4}, "flag")
    with pytest.raises(ConfigError, match=r"train\(sources=...\) names no TrainConfig field: learning_rate"):
        Plan.build(TrainConfig(epochs=1.0), train_tokens=1_000, vocab_size=50, sources={"learning_rate": "flag"})


def test_a_task_on_another_book_leaves_the_regularisers_to_the_rule():
    plays, marks = lab.task_config(lab.LAB_CORPUS)
    assert plays == lab.lab_train_config() and marks["model.weight_dropout"] == "lab" and marks["corpus"] == "task"
    book, marks = lab.task_config("pg11.txt")
    for name in lab.OTHER_BOOK_TO_RULE:
        assert flat(book)[name] is None and name not in marks
    assert book.model.dropout == lab.LAB_OVERRIDES["model.dropout"] and marks["model.dropout"] == "lab"
    plan = Plan.build(book, train_tokens=200_000, vocab_size=12_000, sources=marks)
    assert {plan.sources[name] for name in lab.OTHER_BOOK_TO_RULE} == {"size rule"}


def test_config_json_keeps_the_sources_and_loads_without_them(tmp_path, book, one_torch_thread):
    from wordgen.training.loop import train

    lines = []
    result = train(tiny_train_config(book, tmp_path / "run", max_steps=2, eval_interval=2, lr=1e-2),
                   sources={"lr": "flag"}, log=lines.append)
    assert [line.split(":")[0] for line in lines] == ["size rule", "plan"] and "lr 0.01 (flag)" in lines[0]
    config_file = tmp_path / "run" / ckpt.CONFIG_FILE
    doc = json.loads(config_file.read_text())
    assert doc["sources"]["lr"] == "flag" and doc["sources"]["model.input_dropout"] == "size rule"
    assert doc["sources"]["model.hidden_size"] == "given" and doc["sources"]["warmup_steps"] == "given"
    assert ckpt.load_config(tmp_path / "run") == result.bundle.config
    del doc["sources"]  # a folder written before the plan
    config_file.write_text(json.dumps(doc))
    assert ckpt.load_config(tmp_path / "run") == result.bundle.config
    config_file.write_text(json.dumps({**doc, "sources": ["lr", "flag"]}))
    with pytest.raises(CheckpointError, match="'sources' must map setting names to their sources"):
        ckpt.load_config(tmp_path / "run")
