"""--chars: every tokenizer reads the same amount of text, and the report says what each budget favours."""

from __future__ import annotations

import json

import pytest
from helpers import one_line_error, tiny_flags, tiny_train_config, write_book

from wordgen.cli import main
from wordgen.compare import budget_note
from wordgen.config import TrainConfig
from wordgen.errors import ConfigError
from wordgen.training.loop import train

CHARS = 3000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chars")
    book = write_book(folder)
    results = {}
    for spec in ("char", "word", "bpe:300"):
        config = tiny_train_config(book, folder / spec.replace(":", "-"), tokenizer=spec, max_steps=None,
                                   max_chars=CHARS, eval_interval=10)
        results[spec] = train(config)
    return results


def one_batch(result) -> float:
    config = result.bundle.config
    return config.batch_size * config.seq_len * result.chars_per_token


def test_each_model_stops_within_one_batch_of_the_count(runs):
    for spec, result in runs.items():
        assert CHARS <= result.chars_seen < CHARS + one_batch(result), spec
        # chars_seen is tokens read x characters per token of the training text
        assert result.chars_seen == pytest.approx(result.tokens_seen * result.chars_per_token)


def test_tokenizers_read_the_same_text_not_the_same_tokens(runs):
    char, word = runs["char"], runs["word"]
    assert char.chars_per_token == pytest.approx(1.0)
    assert word.chars_per_token > 2  # a word token covers several characters...
    assert char.steps > 2 * word.steps  # ...so the word model needs fewer steps for the same text
    widest = max(one_batch(r) for r in runs.values())
    for r in runs.values():
        assert abs(r.chars_seen - char.chars_seen) < widest


def test_learning_curves_carry_the_characters_read(runs):
    for result in runs.values():
        chars = [row["chars"] for row in result.history]
        assert chars == sorted(chars) and chars[-1] == pytest.approx(result.chars_seen)
        assert all(row["chars"] == pytest.approx(row["tokens"] * result.chars_per_token) for row in result.history)


def test_a_resumed_run_counts_the_characters_read_before(tmp_path, book):
    config = tiny_train_config(book, tmp_path / "ckpt", tokenizer="char", max_steps=None, max_chars=1000)
    first = train(config)
    config.max_chars = 2500
    second = train(config, resume=True)
    batch = one_batch(second)
    assert 1000 <= first.chars_seen < 1000 + batch
    assert 2500 <= first.chars_seen + second.chars_seen < 2500 + batch


def test_chars_must_be_positive():
    with pytest.raises(ConfigError, match="TrainConfig.max_chars must be at least 1"):
        TrainConfig(max_chars=0).validate()
    TrainConfig(max_chars=5).validate()  # alone it is a stop rule


@pytest.mark.parametrize("value,ok", [("2e3", True), ("2_000", True), ("0", False), ("1.5", False), ("lots", False)])
def test_cli_chars_values(value, ok, book, tmp_path, capsys):
    argv = ["train", "--corpus", str(book), "--out", str(tmp_path / "c"), "--tokenizer", "char", "--chars", value,
            *tiny_flags(embedding_dim=8, hidden_size=8, batch_size=2, seq_len=4, quiet=True)]
    if ok:
        assert main(argv) == 0
        rows = [json.loads(line) for line in (tmp_path / "c" / "metrics.jsonl").read_text().splitlines()]
        assert 2000 <= rows[-1]["chars"] < 2000 + 2 * 4
    else:  # argparse's error, on one line like every other (wordgen.cli.ArgumentParser)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "number of characters" in one_line_error(err)


def test_budget_notes_say_what_each_budget_favours():
    assert "Equal data" in budget_note(TrainConfig(max_chars=10**6))
    assert "Equal data" in budget_note(TrainConfig(epochs=1))
    assert "more characters per token" in budget_note(TrainConfig(max_steps=100))
    timed = budget_note(TrainConfig(time_budget=120))
    assert "read more text per second" in timed and "--chars" in timed
    both = budget_note(TrainConfig(time_budget=120, max_chars=10**6))
    assert both.startswith("each run stopped at the first of") and "Equal time" in both and "Equal data" in both
