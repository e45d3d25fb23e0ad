"""`wordgen compare`: the fairness arithmetic by hand, then one tiny comparison end to end.

Everything runs on a small text written into a temporary folder, with 16-unit
one-layer models and a few steps; no network, nothing outside tmp_path.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from helpers import one_line_error, tiny_flags, uniform_model

from wordgen.cli import main
from wordgen.compare import (
    CompareError,
    CompareSettings,
    Speller,
    hidden_pieces,
    match_hidden_size,
    parse_tokenizer_list,
    run_name,
    score_text,
    spelling_costs,
    uniform_spelling_cost,
)
from wordgen.config import ModelConfig, TrainConfig
from wordgen.corpora import load_corpus
from wordgen.data import encode_split
from wordgen.errors import WordgenError
from wordgen.model import LSTMLanguageModel, count_parameters
from wordgen.tokenization import train_tokenizer
from wordgen.training.checkpoint import Bundle

SONNET = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
"""
# Words, and characters (Z, q, x, 4, 2, !), that the sonnet never uses.
OTHER_BOOK = "Zounds! The quixotic knave hath 42 horses.\nThou art more lovely than the sea.\n"
TINY = tiny_flags(dropout=0)
SPECS = "char,word:min_freq=1,max_vocab=30,bpe:300"  # the word spec has a comma of its own
EXPECTED = ["char", "word:min_freq=1,max_vocab=30", "bpe:300"]


# ---------------------------------------------------------------- by hand


@pytest.mark.parametrize("spec", ["char", "word", "bpe:270"])
def test_uniform_model_costs_exactly_log2_v_bits_per_token(spec):
    text = SONNET * 2
    tokenizer = train_tokenizer(spec, [text])
    v = tokenizer.vocab_size
    score = score_text(uniform_model(v), tokenizer, text)
    m = score.metrics
    tokens = len(tokenizer.encode(text))
    assert m.num_tokens == tokens and m.num_chars == len(text)
    # rel=1e-6: the model computes each token's log-probability in float32.
    assert m.nll / math.log(2) / tokens == pytest.approx(math.log2(v), rel=1e-6)  # bits per token
    assert m.bits_per_char == pytest.approx(math.log2(v) * tokens / len(text), rel=1e-6)
    assert m.ppl_word == pytest.approx(v ** (tokens / len(text.split())), rel=1e-5)
    assert score.to_dict()["tokens_per_char"] == pytest.approx(tokens / len(text))


def test_uniform_spelling_cost_is_length_times_log_c():
    assert uniform_spelling_cost("thou", 30) == pytest.approx(4 * math.log(30))
    assert uniform_spelling_cost("", 30) == 0.0
    assert Speller(num_symbols=30).cost(["thou", "art", "thou"]) == pytest.approx(11 * math.log(30))


def test_spelling_cost_is_the_char_model_nll_after_one_space():
    torch.manual_seed(0)
    tokenizer = train_tokenizer("char", [SONNET])
    model = LSTMLanguageModel(ModelConfig(vocab_size=tokenizer.vocab_size, embedding_dim=8, hidden_size=8,
                                          num_layers=1, dropout=0.0))
    words = ["summer", "May", "temperate", "Zounds"]  # Z was never seen: it costs p(<unk>)
    costs = spelling_costs(model, tokenizer, words)
    for word, cost in zip(words, costs):
        ids = tokenizer.encode(" " + word)
        logits, _ = model(torch.tensor([ids[:-1]]))  # (1, T, V), fresh state
        by_hand = -torch.log_softmax(logits[0], -1)[range(len(ids) - 1), ids[1:]].sum().item()
        assert cost == pytest.approx(by_hand, rel=1e-5)
    # Padding in a batch never changes a word's own cost.
    assert spelling_costs(model, tokenizer, ["May"])[0] == pytest.approx(costs[1], rel=1e-6)
    with pytest.raises(WordgenError, match="character-level"):
        spelling_costs(model, train_tokenizer("word", [SONNET]), ["May"])


def test_unk_pieces_name_the_hidden_text():
    word = train_tokenizer("word", [SONNET])
    assert hidden_pieces(word, "Thou art a quixotic knave\n") == ["quixotic", "knave"]
    assert hidden_pieces(word, "Thou art more lovely\n") == []
    assert hidden_pieces(train_tokenizer("char", [SONNET]), "Zounds!") == ["Z", "!"]
    assert hidden_pieces(train_tokenizer("bpe:270", [SONNET]), "a <unk> day") == ["<unk>"]  # bpe knows every byte


def test_unk_pieces_that_miscount_are_refused():
    word = train_tokenizer("word", [SONNET])
    word.unk_pieces = lambda text: ["quixotic"]  # one piece for two <unk> tokens
    with pytest.raises(CompareError, match="2 <unk> tokens but 1"):
        hidden_pieces(word, "Thou art a quixotic knave\n")


@pytest.mark.parametrize("speller", ["uniform", "char model"])
def test_unk_penalty_adds_cost_exactly_when_unk_occurs(speller):
    word = train_tokenizer("word", [SONNET])
    model = uniform_model(word.vocab_size)
    if speller == "uniform":
        spell = Speller(num_symbols=40)
    else:
        char = train_tokenizer("char", [SONNET])
        spell = Speller(char.vocab_size, uniform_model(char.vocab_size), char, "char")
    with_unk, without_unk = "Thou art a quixotic knave\n", "Thou art more lovely\n"
    plain, charged = score_text(model, word, with_unk), score_text(model, word, with_unk, spell)
    assert charged.raw.num_unk == 2
    assert charged.metrics.nll > plain.metrics.nll == charged.raw.nll
    assert charged.penalty == pytest.approx(spell.cost(["quixotic", "knave"]))
    plain, charged = score_text(model, word, without_unk), score_text(model, word, without_unk, spell)
    assert charged.raw.num_unk == 0 and charged.penalty == 0.0
    assert charged.metrics.nll == plain.metrics.nll


# ---------------------------------------------------------------- lists and sizes


@pytest.mark.parametrize("text,expected", [
    ("char,word,bpe:500,bpe:2000,bpe:8000", ["char", "word", "bpe:500", "bpe:2000", "bpe:8000"]),
    ("char,word:min_freq=2,max_vocab=10000,bpe:2000", ["char", "word:min_freq=2,max_vocab=10000", "bpe:2000"]),
    (" word:max_vocab=50 , char ", ["word:max_vocab=50", "char"]),
    ("hf:/data/a,b/tokenizer.json;char", ["hf:/data/a,b/tokenizer.json", "char"]),
    ("word:min_freq=2,max_vocab=10;bpe:300", ["word:min_freq=2,max_vocab=10", "bpe:300"]),
])
def test_tokenizer_lists(text, expected):
    assert parse_tokenizer_list(text) == expected


@pytest.mark.parametrize("text,message", [
    ("", "at least one"), ("char,,word", "empty tokenizer"), ("char,char", "twice"),
    ("char,nope", "unknown tokenizer 'nope'"), ("word;", "empty tokenizer"),
])
def test_bad_tokenizer_lists(text, message):
    with pytest.raises(WordgenError, match=message):
        parse_tokenizer_list(text)


def test_run_names_are_safe_and_short():
    assert run_name("bpe:500") == "bpe-500"
    assert run_name("word:min_freq=2,max_vocab=10000") == "word-min_freq-2-max_vocab-10000"
    long = run_name("hf:" + "/very/long/path" * 10 + "/tokenizer.json")
    assert len(long) <= 48 and "/" not in long


def test_match_params_scales_hidden_size_to_the_target():
    base = ModelConfig(embedding_dim=64, hidden_size=64, num_layers=2)
    target = count_parameters(ModelConfig(vocab_size=2000, embedding_dim=64, hidden_size=64, num_layers=2))
    sizes = {}
    for v in (80, 2000, 8000):
        c = match_hidden_size(base, v, target)
        assert c.vocab_size == v and c.embedding_dim == c.hidden_size  # tied weights stay tied
        # The nearest count any hidden size reaches: one unit more or less is farther.
        gap = abs(count_parameters(c) - target)
        for h in (c.hidden_size - 1, c.hidden_size + 1):
            other = dataclasses.replace(c, hidden_size=h, embedding_dim=h)
            assert gap <= abs(count_parameters(other) - target)
        assert gap / target < 0.05
        sizes[v] = c.hidden_size
    assert sizes[2000] == 64 and sizes[80] > 64 > sizes[8000]
    untied = match_hidden_size(ModelConfig(embedding_dim=32, hidden_size=64, tie_weights=False), 500, 100_000)
    assert untied.embedding_dim * 2 == pytest.approx(untied.hidden_size, abs=1)


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("texts")
    (folder / "book.txt").write_text(SONNET * 30, encoding="utf-8")
    (folder / "other.txt").write_text(OTHER_BOOK, encoding="utf-8")
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def comparison(texts, tmp_path_factory):
    """One tiny comparison of three tokenizers with the default recipe and <unk> penalty, and an extra text."""
    out = tmp_path_factory.mktemp("cmp") / "report"
    argv = ["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", SPECS, "--out", str(out),
            "--max-steps", "3", "--eval-interval", "2", "--eval-corpus", str(texts / "other.txt"),
            "--sample-chars", "30", "--quiet", *TINY]  # the <unk> penalty is on by default
    code = main(argv)
    assert code == 0
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_report_files_exist_parse_and_have_a_row_per_tokenizer(comparison, capsys):
    out, results = comparison
    assert [r["tokenizer"] for r in results["rows"]] == EXPECTED
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["tokenizer"] for r in rows if r["text"] == "test"] == EXPECTED
    assert [r["tokenizer"] for r in rows if r["text"] == "eval_text"] == EXPECTED
    for r in rows:
        assert float(r["bits_per_char"]) > 0 and float(r["ppl_word"]) > 1 and int(r["vocab_size"]) > 1
    report = (out / "report.md").read_text(encoding="utf-8")
    for spec in EXPECTED:
        assert sum(line.startswith(f"| {spec}") for line in report.splitlines()) == 2  # test + extra text
    assert "test split" in report and "optimistic" in report and "comparison.png" in report
    assert "<unk> charged its spelling cost" in report and "not charged" not in report
    png = (out / "comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(png) < 300_000
    import matplotlib.image

    assert matplotlib.image.imread(out / "comparison.png").shape[:2] > (300, 800)
    for row in results["rows"]:
        assert (out / "runs" / run_name(row["tokenizer"]) / "model.safetensors").is_file()
        assert row["sample"] and row["history"] and row["history"][-1]["val_bpc"] > 0


def test_compare_bits_per_char_equal_wordgen_evaluate(comparison, texts, capsys):
    out, results = comparison
    capsys.readouterr()
    for row in results["rows"]:
        assert main(["evaluate", row["checkpoint"], "--split", "test", "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)
        assert metrics["bits_per_char"] == pytest.approx(row["test"]["raw_bits_per_char"], rel=1e-9)
        assert metrics["num_tokens"] == row["test"]["num_tokens"]
        assert main(["evaluate", row["checkpoint"], "--text-file", str(texts / "other.txt"), "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)
        assert metrics["bits_per_char"] == pytest.approx(row["eval_text"]["raw_bits_per_char"], rel=1e-9)


def test_unk_penalty_in_the_report(comparison):
    _, results = comparison
    by_spec = {r["tokenizer"]: r for r in results["rows"]}
    assert "spelled by the `char` model" in results["unk_penalty_by"]
    for spec, which in [(s, w) for s in EXPECTED for w in ("test", "eval_text")]:
        score = by_spec[spec][which]
        if score["num_unk"]:
            assert score["nll"] > score["raw_nll"] and score["bits_per_char"] > score["raw_bits_per_char"]
        else:
            assert score["nll"] == score["raw_nll"]
    assert by_spec[EXPECTED[1]]["test"]["num_unk"] > 0  # max_vocab=30 leaves words out
    assert by_spec["char"]["eval_text"]["num_unk"] > 0  # Z, q, x, digits, '!'
    assert by_spec["bpe:300"]["eval_text"]["num_unk"] == 0


def test_existing_comparison_is_not_replaced(comparison, texts, capsys):
    out, _ = comparison
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char", "--out", str(out),
                 "--max-steps", "1", "--quiet", *TINY])
    assert code == 2 and "--overwrite" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("extra,message", [
    (["--tokenizers", "char,nope"], "unknown tokenizer 'nope'"),
    (["--tokenizers", "char,word,bpe:0"], "bpe vocab_size must be"),
    (["--eval-corpus", "{texts}/empty.txt"], "empty"),
    (["--time-budget", "0"], "--time-budget must be positive"),
    (["--max-steps", "-3"], "--max-steps must be at least 1"),
    (["--match", "params", "--params", "0"], "--params must be"),
    (["--tokenizers", "word", "--unk-penalty", "--temperature", "-1"], "temperature"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_training(extra, message, texts, tmp_path, capsys):
    out = tmp_path / "report"
    extra = [e.replace("{texts}", str(texts)) for e in extra]
    argv = ["compare", "--corpus", str(texts / "book.txt"), "--out", str(out), "--tokenizers", "char,word",
            "--max-steps", "2", "--quiet", *TINY, *extra]
    code = main(argv)
    assert code == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (out / "runs").exists()  # nothing was trained


# ---------------------------------------------------------------- several seeds


@pytest.fixture(scope="module")
def seeded(texts, tmp_path_factory):
    """Two tokenizers, two seeds each, an equal character budget."""
    out = tmp_path_factory.mktemp("seeds") / "report"
    argv = ["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char,bpe:300", "--out", str(out),
            "--chars", "600", "--seeds", "2", "--seed", "5", "--eval-interval", "4", "--sample-chars", "20",
            "--eval-corpus", str(texts / "other.txt"), "--quiet", *TINY]
    assert main(argv) == 0
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_every_seed_is_a_run_of_its_own_on_the_same_split(seeded):
    out, results = seeded
    runs = [(r["tokenizer"], r["seed"]) for r in results["rows"]]
    assert runs == [("char", 5), ("bpe:300", 5), ("char", 6), ("bpe:300", 6)]  # seed by seed
    for r in results["rows"]:
        assert r["checkpoint"] == str(out / "runs" / run_name(r["tokenizer"]) / f"seed-{r['seed']}")
        assert (out / "runs" / run_name(r["tokenizer"]) / f"seed-{r['seed']}" / "model.safetensors").is_file()
        assert 600 <= r["chars_seen"] and r["history"][-1]["chars"] == pytest.approx(r["chars_seen"])
        assert set(r["cpu"]) >= {"other_cores", "load_average_before", "load_average_after", "busy"}
    by = {(r["tokenizer"], r["seed"]): r for r in results["rows"]}
    for spec in ("char", "bpe:300"):
        a, b = by[spec, 5]["test"], by[spec, 6]["test"]
        assert a["num_chars"] == b["num_chars"] and a["num_tokens"] == b["num_tokens"]  # one split
        assert a["bits_per_char"] != b["bits_per_char"]  # other initial weights
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        assert sorted((r["tokenizer"], r["seed"]) for r in csv.DictReader(f) if r["text"] == "test") == sorted(
            (t, str(s)) for t, s in runs)


def test_the_summary_is_the_seeds_mean_sd_and_t_interval(seeded):
    _, results = seeded
    summary = {g["tokenizer"]: g for g in results["summary"]["test"]}
    assert set(summary) == {"char", "bpe:300"} and "eval_text" in results["summary"]
    for spec, g in summary.items():
        a, b = (r["test"]["bits_per_char"] for r in results["rows"] if r["tokenizer"] == spec)
        s = g["bits_per_char"]
        assert s["n"] == 2 and s["mean"] == pytest.approx((a + b) / 2)
        assert s["sd"] == pytest.approx(abs(a - b) / math.sqrt(2))  # n - 1 = 1
        # t(0.975, 1) = 12.706: with two seeds the interval is wide
        assert s["high"] - s["mean"] == pytest.approx(12.706 * s["sd"] / math.sqrt(2), rel=1e-4)
        pa, pb = (r["test"]["ppl_word"] for r in results["rows"] if r["tokenizer"] == spec)
        assert g["ppl_word"]["mean"] == pytest.approx(math.sqrt(pa * pb))  # geometric
    best = min(summary.values(), key=lambda g: g["bits_per_char"]["mean"])
    for g in summary.values():
        overlap = g["bits_per_char"]["low"] <= best["bits_per_char"]["high"]
        assert g["verdict"] == ("best" if g is best else "≈ best" if overlap else "")


def test_the_report_shows_intervals_and_the_budget(seeded):
    out, _ = seeded
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "95% interval" in report and "vs best" in report and " ± " in report
    assert "seeds 5..6" in report and "the same 600 characters of training text" in report
    assert "/seed-<seed>" in report
    png = out / "comparison.png"
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[:2] > (300, 1200)  # three panels


def test_an_existing_seed_folder_stops_a_new_comparison(seeded, texts, tmp_path, capsys):
    out = tmp_path / "report"
    shutil.copytree(seeded[0], out)  # a copy: the module's comparison stays whole for the other tests
    (out / "results.json").unlink()  # only a checkpoint of a later seed is in the way now
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char", "--out", str(out),
                 "--max-steps", "1", "--seeds", "2", "--seed", "6", "--quiet", *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "seed-6" in err and "--overwrite" in err


def test_seeds_must_be_positive(texts, tmp_path, capsys):
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char", "--out",
                 str(tmp_path / "r"), "--max-steps", "1", "--seeds", "0", "--quiet", *TINY])
    assert code == 2 and "--seeds must be at least 1" in capsys.readouterr().err


# ---------------------------------------------------------------- the recipe

# Fields that make a recipe, as config.json holds them (top level, or under "model").
RECIPE = ["optimizer", "lr", "grad_clip", "batch_size", "seq_len", "weight_decay", "warmup_steps", "lr_min_ratio",
          "model.dropout", "model.input_dropout", "model.hidden_dropout", "model.embedding_dropout",
          "model.weight_dropout", "model.softmax", "model.tie_weights", "model.num_layers"]
# Sizes only (no batch, window, dropout): the recipe is left to the comparison.
SIZES = ["--embedding-dim", "16", "--hidden-size", "16", "--num-layers", "1"]


def saved(run: dict) -> dict:
    """A run's config.json: {"lr": ..., "model.softmax": ..., "sources": {...}}."""
    doc = json.loads((Path(run["checkpoint"]) / "config.json").read_text(encoding="utf-8"))
    return {**{k: v for k, v in doc.items() if k != "model"}, **{f"model.{k}": v for k, v in doc["model"].items()}}


@pytest.fixture(scope="module")
def many_words(tmp_path_factory):
    """A book of 6 000 distinct made-up words, twice: the size rule gives its word vocabulary SGD."""
    syllables = ["ba", "ko", "mi", "tu", "re", "sa", "lo", "ne", "di", "fu"]
    words = ["".join(parts) for parts in itertools.product(syllables, repeat=4)][:6000]
    lines = [" ".join(words[i:i + 10]) for i in range(0, len(words), 10)]
    path = tmp_path_factory.mktemp("words") / "words.txt"
    path.write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    return path


def run_recipe(book, out, *extra) -> dict:
    code = main(["compare", "--corpus", str(book), "--tokenizers", "char,word", "--out", str(out), "--max-steps", "2",
                 "--sample-chars", "0", "--quiet", *SIZES, *extra])
    assert code == 0
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def recipes(many_words, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipes")
    return {kind: (folder / kind, run_recipe(many_words, folder / kind, "--recipe", kind))
            for kind in ("shared", "per-tokenizer")}


def test_the_default_recipe_is_the_same_for_every_tokenizer_and_config_json_says_so(recipes, many_words, tmp_path,
                                                                                    capsys):
    out, results = recipes["shared"]
    char, word = (saved(run) for run in results["rows"])
    assert word["model.vocab_size"] > 5000  # the size rule alone would give this one SGD and lr 20
    for name in RECIPE:
        assert char[name] == word[name], name
        # The comparison chose what the size rule would have; the layers were a flag, the schedule's shape a default.
        expected = {"model.num_layers": "flag", "warmup_steps": "default", "lr_min_ratio": "default"}
        assert char["sources"][name] == word["sources"][name] == expected.get(name, "compare"), name
    assert word["optimizer"] == "adamw" and word["model.softmax"] == "full" and word["model.tie_weights"] is True
    assert word["sources"]["model.hidden_size"] == "flag" and word["sources"]["tokenizer"] == "compare"
    assert results["settings"]["recipe"] == "shared" and "`char`, the smallest vocabulary" in results["recipe"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Every tokenizer trained with the same recipe:** AdamW at lr 0.006" in report
    assert "own recipe" not in report and "differ in" not in report
    # And it is the default: no --recipe gives the same recipe.
    default = run_recipe(many_words, tmp_path / "default")
    assert [saved(run)["optimizer"] for run in default["rows"]] == ["adamw", "adamw"]
    assert "Every tokenizer trained with the same recipe" in capsys.readouterr().out  # the CLI's summary too


def test_a_recipe_setting_given_is_kept_for_every_tokenizer(many_words, tmp_path):
    results = run_recipe(many_words, tmp_path / "r", "--lr", "0.01", "--softmax", "adaptive", "--no-tie-weights")
    for run in results["rows"]:
        config = saved(run)
        assert config["lr"] == 0.01 and config["sources"]["lr"] == "flag"
        assert config["model.softmax"] == "adaptive" and config["sources"]["model.softmax"] == "flag"
        assert config["optimizer"] == "adamw" and config["sources"]["optimizer"] == "compare"


def test_the_per_tokenizer_recipe_differs_and_the_report_lists_each(recipes):
    out, results = recipes["per-tokenizer"]
    char, word = (saved(run) for run in results["rows"])
    assert (char["optimizer"], char["lr"], char["batch_size"]) == ("adamw", 0.006, 32)
    assert (word["optimizer"], word["lr"], word["batch_size"]) == ("sgd", 20.0, 20)
    assert word["sources"]["optimizer"] == word["sources"]["model.dropout"] == "size rule"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Each tokenizer trained with its own recipe** (`--recipe per-tokenizer`)" in report
    assert "same recipe" not in report
    assert "they differ in optimizer, lr, grad_clip, batch_size, seq_len, weight_decay" in report
    table = [line for line in report.splitlines() if line.startswith(("| char ", "| word "))]
    assert any("sgd" in line and "20 x 35" in line for line in table)
    assert any("adamw" in line and "32 x 64" in line for line in table)
    assert results["settings"]["recipe"] == "per-tokenizer"


def test_a_bad_recipe_is_refused():
    with pytest.raises(CompareError, match="CompareSettings.recipe must be 'shared' or 'per-tokenizer'"):
        CompareSettings(base=TrainConfig(max_steps=1), tokenizers=["char"], out="x", recipe="mine").validate()


# ---------------------------------------------------------------- <unk> charged by default

# A closed word vocabulary of 12 hides most words of the sonnet behind <unk>; an open one
# hides none. Uncharged, predicting <unk> is cheap and the closed one wins by far; charged
# the cost of spelling each hidden word (uniformly: there is no char model here), it loses.
HIDER, OPEN = "word:max_vocab=12", "word:min_freq=1"


def rank(texts, out, *extra) -> tuple[list[str], dict]:
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", f"{HIDER};{OPEN}", "--out",
                 str(out), "--max-steps", "3", "--seeds", "2", "--sample-chars", "0", "--quiet", *TINY, *extra])
    assert code == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    groups = results["summary"]["test"]
    return [g["tokenizer"] for g in sorted(groups, key=lambda g: g["bits_per_char"]["mean"])], results


def test_unk_is_charged_by_default_and_changes_who_is_best(texts, tmp_path):
    order, results = rank(texts, tmp_path / "charged")
    hider = next(g for g in results["summary"]["test"] if g["tokenizer"] == HIDER)
    assert hider["unk_rate"] > 0.3 and hider["penalised"]
    assert order == [OPEN, HIDER]
    assert next(g for g in results["summary"]["test"] if g["verdict"] == "best")["tokenizer"] == OPEN
    assert results["settings"]["unk_penalty"] is True and "uniform over C" in results["unk_penalty_by"]
    report = (tmp_path / "charged" / "report.md").read_text(encoding="utf-8")
    assert "<unk> charged its spelling cost" in report and "Each <unk> is charged the cost of spelling" in report
    assert "the table and the ranking use the charged figures" in report

    order, results = rank(texts, tmp_path / "uncharged", "--no-unk-penalty")
    assert order == [HIDER, OPEN]  # hiding unknown words wins when they cost nothing
    assert results["settings"]["unk_penalty"] is False and results["unk_penalty_by"] is None
    report = (tmp_path / "uncharged" / "report.md").read_text(encoding="utf-8")
    assert "not charged (--no-unk-penalty)" in report and "the ranking favours these rows" in report


# ---------------------------------------------------------------- periodic validation


def test_eval_chars_reach_every_run_and_eval_tokens_is_not_an_option(texts, tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char,word", "--out", str(out),
                 "--max-steps", "1", "--eval-chars", "50", "--sample-chars", "0", "--quiet", *TINY])
    assert code == 0
    validation = load_corpus(str(texts / "book.txt"), seed=0)["validation"]
    for run in json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]:
        config = saved(run)
        per_token = encode_split(validation, Bundle.load(run["checkpoint"]).tokenizer).chars_per_token
        assert config["eval_tokens"] == math.ceil(50 / per_token) and config["sources"]["eval_tokens"] == "compare"
    assert saved(json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"][0])["eval_tokens"] == 50
    code = main(["compare", "--corpus", str(texts / "book.txt"), "--tokenizers", "char", "--out", str(tmp_path / "e"),
                 "--max-steps", "1", "--eval-tokens", "5", "--quiet", *TINY])
    assert code == 2 and "unrecognized arguments: --eval-tokens 5" in one_line_error(capsys.readouterr().err)
    with pytest.raises(CompareError, match="CompareSettings.eval_chars"):
        CompareSettings(base=TrainConfig(max_steps=1, eval_tokens=5), tokenizers=["char"], out="x").validate()
