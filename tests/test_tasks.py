"""Every task of the lab runs end to end at a tiny budget, writes its outputs, and refuses bad input in one line.

One tiny word model is trained once (by the word_level_book task itself, beside
base:word fine-tuned for the same few steps) and reused by the tasks that take
--checkpoint, which keeps the file fast.
"""

import dataclasses
import importlib
import json
import re

import pytest
from helpers import one_line_error, run_cli, tiny_flags, write_book

TASKS = ["word_level_book", "char_vs_word", "tokenizer_sweep", "embeddings", "temperature_study"]
TINY = tiny_flags(dropout=0, quiet=True)


def run(capsys, task: str, *argv: str):
    code = importlib.import_module(f"wordgen.tasks.{task}").main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return write_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def lab(book, tmp_path_factory):
    """The word_level_book task run once at a tiny budget, with its default base: (exit code, output folder)."""
    out = tmp_path_factory.mktemp("word_level_book")
    code = importlib.import_module("wordgen.tasks.word_level_book").main(
        ["--book", str(book), "--out", str(out), "--max-steps", "40", "--max-tokens", "30",
         "--prompt", "ROMEO:\\n", *TINY])
    return code, out


@pytest.mark.parametrize("task", TASKS)
def test_every_task_explains_itself(task, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, task, "--help")
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"python -m wordgen.tasks.{task}" in text and "--out" in text and len(text) > 500


def test_word_level_book(lab):
    code, out = lab
    assert code == 0
    report = (out / "report.txt").read_text(encoding="utf-8")
    for expected in ("bits per character", "perplexity per word", "<unk> rate", "--- greedy ---",
                     *(f"--- temperature {t} ---" for t in ("0.3", "0.8", "1", "1.3", "1.8")),
                     "--- temperature 1, top-k 40 ---", "--- temperature 1, top-p 0.9 ---"):
        assert expected in report
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [s["sampler"] for s in results["samples"]][:2] == ["greedy", "temperature 0.3"]
    assert all(s["text"].startswith("ROMEO:\n") for s in results["samples"])
    greedy = results["samples"][0]
    if greedy["loop"] is not None:  # the loop is pointed out in the text and explained below it
        assert "⟦loop⟧" in report and "LOOP from token" in report
    assert (out / "model" / "model.safetensors").is_file()


def test_word_level_book_fine_tunes_the_base_beside_it(lab):
    from wordgen.analysis.textstats import find_text_loop
    from wordgen.tasks import mark_loop, show_text
    from wordgen.training.checkpoint import Bundle
    from wordgen.training.finetune import BASES, weights_sha256

    code, out = lab
    assert code == 0
    scratch, tuned = Bundle.load(out / "model"), Bundle.load(out / "finetuned")  # both saved, both load
    base = Bundle.load(BASES / "word")
    assert scratch.config.init is None and tuned.config.init == "base:word"
    assert tuned.config.model.hidden_size == base.config.model.hidden_size != scratch.config.model.hidden_size
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    block = results["base"]
    assert block["spec"] == "base:word" and block["checkpoint"] == str(out / "finetuned")
    assert block["sha256"] == tuned.config.init_sha256 == weights_sha256(BASES / "word")  # the real weights' hash
    assert block["vocabulary_added"] == tuned.tokenizer.vocab_size - base.tokenizer.vocab_size >= 0
    assert 0 <= block["unk_merged"] <= block["unk_book"] <= 1
    assert block["validation"]["bits_per_char"] > 0 and block["steps"] == 40

    report = (out / "report.txt").read_text(encoding="utf-8")
    scores = next(line for line in report.splitlines() if line.strip().startswith("bits per character"))
    assert re.search(r"from scratch +fine-tuned from base:word", report)
    assert scores.split()[-2:] == [f"{results['validation']['bits_per_char']:.3f}",
                                   f"{block['validation']['bits_per_char']:.3f}"]
    blocks = re.findall(r"^--- ([^\n]+) ---\n(.*?)(?=^--- |^\(copied)", report, flags=re.MULTILINE | re.DOTALL)
    assert [name for name, _ in blocks] == [s["sampler"] for s in results["samples"]] == \
        [s["sampler"] for s in block["samples"]]

    def shown(sample) -> str:  # a sample's continuation as the report shows it
        continuation = sample["text"][len(results["prompt"]):]
        return show_text("..." + mark_loop(continuation, find_text_loop(continuation)))

    for (_, text), mine, theirs in zip(blocks, results["samples"], block["samples"]):
        first, label, second = text.partition("\nfine-tuned from base:word:\n")
        assert label and first.startswith(f"from scratch:\n{shown(mine)}\n  -> ")  # each under its own label
        assert second.startswith(f"{shown(theirs)}\n  -> ")
    assert results["samples"][0]["text"] != block["samples"][0]["text"]  # two models, two greedy samples


def test_word_level_book_without_a_base_trains_one_model(book, tmp_path, capsys):
    out = tmp_path / "one"
    code, stdout, err = run(capsys, "word_level_book", "--book", str(book), "--out", str(out), "--base", "none",
                            "--max-steps", "4", "--max-tokens", "5", *TINY)
    assert code == 0, err
    assert (out / "model" / "model.safetensors").is_file() and not (out / "finetuned").exists()
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["base"] is None
    assert "from scratch" not in stdout and "fine-tuned" not in stdout
    assert re.search(r"^--- greedy ---\n  \.\.\.", stdout, flags=re.MULTILINE)  # the sample right under its header


def test_char_vs_word_reusing_the_word_model(lab, book, tmp_path, capsys):
    out = tmp_path / "cvw"
    code, stdout, err = run(capsys, "char_vs_word", "--book", str(book), "--out", str(out),
                            "--word-checkpoint", str(lab[1] / "model"), "--max-steps", "10",
                            "--samples", "2", "--sample-chars", "60", *TINY)
    assert code == 0, err
    assert "validation bits per character" in stdout and "Bits per character divide" in stdout
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["char"]["vocab_size"] < results["word"]["vocab_size"]
    assert results["char"]["sample_tokens"] == 60  # one token per character
    assert (out / "char" / "model.safetensors").is_file() and not (out / "word").exists()


def test_tokenizer_sweep(book, tmp_path, capsys):
    out = tmp_path / "sweep"
    code, stdout, err = run(capsys, "tokenizer_sweep", "--book", str(book), "--out", str(out),
                            "--sizes", "300", "258", "--max-steps", "4", *TINY)
    assert code == 0, err
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]
    assert [r["vocab_size"] for r in rows] == [258, 300]
    assert rows[0]["tokens_per_char"] > rows[1]["tokens_per_char"]  # more merges, fewer tokens
    assert (out / "sweep.png").stat().st_size > 5000
    assert "bits/char" in stdout


def test_embeddings(lab, tmp_path, capsys):
    out = tmp_path / "emb"
    code, stdout, err = run(capsys, "embeddings", "--checkpoint", str(lab[1] / "model"), "--out", str(out),
                            "--words", "Romeo", "sun", "dragon", "--neighbours", "3", "--map-words", "20")
    assert code == 0, err
    assert "not in the vocabulary, skipped: dragon" in stdout
    neighbours = json.loads((out / "results.json").read_text(encoding="utf-8"))["neighbours"]
    assert set(neighbours) == {"Romeo", "sun"} and all(len(v) == 3 for v in neighbours.values())
    assert "Romeo" not in [w for w, _ in neighbours["Romeo"]]
    assert (out / "embeddings.png").stat().st_size > 5000 and "TSNE" in stdout


def test_temperature_study(lab, tmp_path, capsys):
    out = tmp_path / "temp"
    code, stdout, err = run(capsys, "temperature_study", "--checkpoint", str(lab[1] / "model"), "--out", str(out),
                            "--temperatures", "1.5", "0.5", "--samples", "2", "--max-tokens", "12")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [r["temperature"] for r in results["rows"]] == [0.5, 1.5]
    for row in [*results["rows"], results["reference"]]:
        assert 0 <= row["distinct_2"] <= 1 and 0 <= row["seen_words"] <= 1 and row["log_likelihood"] < 0
    assert (out / "temperature.png").stat().st_size > 5000 and "book" in stdout


@pytest.mark.parametrize("task, argv, message", [
    ("word_level_book", ["--book", "no/such/book.txt"], "does not exist"),
    ("word_level_book", ["--book", "shakespeare", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    ("word_level_book", ["--base", "base:nope"], "--base: no shipped base model 'base:nope'"),
    ("word_level_book", ["--base", "base:bpe"], "--base base:bpe is a bpe model, which does not fit --tokenizer"),
    ("word_level_book", ["--tokenizer", "char", "--base", "base:word"], "give a char base, or --base none"),
    ("word_level_book", ["--base", "no/such/folder"], "--base no/such/folder: checkpoint folder"),
    ("word_level_book", ["--checkpoint", "no/such/folder", "--base", "base:word"], "--checkpoint reuses"),
    ("char_vs_word", ["--samples", "0"], "--samples"),
    ("tokenizer_sweep", ["--sizes", "256", "1000"], "at least 258"),
    ("embeddings", ["--checkpoint", "no/such/folder"], "does not exist"),
    ("temperature_study", ["--temperatures", "-1"], "--temperatures must be >= 0"),
])
def test_bad_input_is_one_line_and_status_2(task, argv, message, tmp_path, capsys):
    code, _, err = run(capsys, task, *argv, "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in one_line_error(err, starts=f"python -m wordgen.tasks.{task}: error:")


def test_words_outside_the_vocabulary_only(lab, tmp_path, capsys):
    code, _, err = run(capsys, "embeddings", "--checkpoint", str(lab[1] / "model"), "--out", str(tmp_path),
                       "--words", "dragon", "wyvern")
    assert code == 2 and "none of the words" in err


def test_a_loop_is_marked_and_cut_after_three_turns():
    from wordgen.analysis.textstats import find_text_loop
    from wordgen.tasks import LOOP_MARK, mark_loop

    text = "so it goes and goes and goes and goes and goes"
    shown = mark_loop(text, find_text_loop(text))
    assert shown == f"so it {LOOP_MARK}goes and goes and goes and ...(and so on)"
    assert mark_loop("no loop here", None) == "no loop here"
    # A sample cut in the middle of a word still ends inside the loop's last cycle.
    text = "so it goes and goes and goes and goes and go"
    assert mark_loop(text, find_text_loop(text)).endswith("goes and ...(and so on)")


def test_wordgen_lab_on_a_book_is_the_same_run_as_the_task(lab, book, tmp_path, capsys):
    # One path for "my book": the same settings (all of config.json but the folder) and the same default
    # prompt, whether the student types `wordgen lab --corpus BOOK` or runs the task.
    from wordgen.training.checkpoint import load_config

    code, stdout, err = run_cli(capsys, "lab", "--corpus", book, "--out", tmp_path / "lab", "--max-steps", "40",
                                "--max-tokens", "30", *tiny_flags(dropout=0))  # the lab has no --quiet
    assert code == 0, err
    task = importlib.import_module("wordgen.tasks.word_level_book")
    out = tmp_path / "task"
    assert task.main(["--book", str(book), "--out", str(out), "--max-steps", "40", "--max-tokens", "30", "--base",
                      "none", *TINY]) == 0  # the model from scratch is the same with a base beside it
    by_lab, by_task = (dataclasses.asdict(load_config(folder)) for folder in (tmp_path / "lab", out / "model"))
    assert {**by_lab, "out": None} == {**by_task, "out": None}
    prompt = json.loads((out / "results.json").read_text(encoding="utf-8"))["prompt"]
    assert prompt.strip() and prompt != "ROMEO:\n"  # not the plays' prompt: the opening of this book's validation text
    samples = re.findall(r"^--- .* ---.*\n" + re.escape(prompt.strip()), stdout, flags=re.MULTILINE)
    assert len(samples) == 8  # greedy, five temperatures, top-k, top-p: each continues the same prompt
