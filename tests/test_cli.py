"""The command line end to end, and every bad input it must refuse in one line."""

import json
import os
import re
import subprocess
import sys

import pytest
from helpers import one_line_error, run_cli, tiny_flags

from wordgen.cli import main

TINY = tiny_flags()


@pytest.fixture
def ckpt(tmp_path, book, capsys):
    out = tmp_path / "ckpt"
    code, _, err = run_cli(capsys, "train", "--corpus", str(book), "--out", str(out), "--max-steps", "6",
                       "--eval-interval", "3", "--quiet", *TINY)
    assert code == 0, err
    return out


@pytest.mark.slow
def test_end_to_end_on_the_builtin_corpus(tmp_path, capsys):
    out = tmp_path / "shake"
    code, stdout, err = run_cli(capsys, "train", "--corpus", "shakespeare", "--tokenizer", "word", "--out", str(out),
                            "--max-steps", "3", "--eval-interval", "3", "--quiet", *TINY)
    assert code == 0, err
    assert "trained 3 steps" in stdout
    code, text, err = run_cli(capsys, "generate", str(out), "--prompt", "ROMEO:", "--max-tokens", "20", "--seed", "1")
    assert code == 0 and text.startswith("ROMEO:") and len(text) > len("ROMEO:") + 10
    assert run_cli(capsys, "generate", str(out), "--prompt", "ROMEO:", "--max-tokens", "20", "--seed", "1")[1] == text
    code, report, err = run_cli(capsys, "evaluate", str(out), "--split", "validation", "--json")
    assert code == 0, err
    metrics = json.loads(report)
    assert metrics["bits_per_char"] > 0 and metrics["num_words"] > 10_000 and 0 <= metrics["unk_rate"] < 0.2


def test_resume_through_the_cli(ckpt, capsys):
    code, stdout, err = run_cli(capsys, "train", "--resume", str(ckpt), "--max-steps", "9", "--quiet")
    assert code == 0, err
    assert "resumed at step 6, trained 3 more to step 9" in stdout
    from wordgen.training.checkpoint import read_metrics

    rows = read_metrics(ckpt)
    assert [r["step"] for r in rows] == [3, 6, 9]
    assert [r["tokens"] for r in rows] == [3 * 32, 6 * 32, 9 * 32]  # the count goes on across the resume


def test_generate_sampler_flags(ckpt, capsys):
    def text(*flags):
        code, out, err = run_cli(capsys, "generate", str(ckpt), "--prompt", "Romeo", "--max-tokens", "30", *flags)
        assert code == 0, err
        assert out.startswith("Romeo")
        return out

    for flags in (["--greedy"], ["--temperature", "0.5"], ["--top-k", "5"], ["--top-p", "0.9", "--temperature", "1.3"]):
        text(*flags)
    # Each flag does what it says. Greedy uses no random number: every seed, the same text, which
    # temperature 0, top-k 1 and a top-p below every probability (only the likeliest token) also give.
    greedy = text("--greedy")
    assert text("--greedy", "--seed", "5") == greedy
    assert text("--temperature", "0") == greedy
    assert text("--top-k", "1", "--temperature", "1.5", "--seed", "3") == greedy
    assert text("--top-p", "1e-6", "--temperature", "1.5", "--seed", "4") == greedy
    # Sampling follows the seed: the same seed repeats, another differs, and neither is greedy (30 tokens
    # from a model that barely trained: a repeat by chance is out of the question, and the seeds are fixed).
    sampled = text("--temperature", "1.5", "--seed", "1")
    assert text("--temperature", "1.5", "--seed", "1") == sampled
    assert text("--temperature", "1.5", "--seed", "2") != sampled != greedy
    code, text, _ = run_cli(capsys, "generate", str(ckpt), "--max-tokens", "5", "--num-samples", "3")
    assert text.count("--- sample") == 3


def test_unknown_prompt_words_warn(ckpt, capsys):
    code, _, err = run_cli(capsys, "generate", str(ckpt), "--prompt", "Romeo xylophone", "--max-tokens", "3")
    assert code == 0
    assert "warning" in err and "xylophone" in err


def test_evaluate_a_text_file(ckpt, book, capsys):
    code, report, err = run_cli(capsys, "evaluate", str(ckpt), "--text-file", str(book), "--json")
    assert code == 0, err
    assert json.loads(report)["num_chars"] == len(book.read_text())


def test_corpora_lists_the_plays(capsys):
    code, out, _ = run_cli(capsys, "corpora")
    assert code == 0 and "shakespeare" in out and "macbeth" in out


def bad_inputs(tmp_path, book, ckpt):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00" * 10)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 50)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n")
    short = tmp_path / "short.txt"
    short.write_text("one\ntwo\nthree\nfour\n")
    not_ckpt = tmp_path / "not_ckpt"
    not_ckpt.mkdir()
    train = ["train", "--out", str(tmp_path / "new"), "--max-steps", "2", "--quiet", *TINY]
    gen = ["generate", str(ckpt), "--max-tokens", "3"]
    return {
        "missing path": [*train, "--corpus", str(tmp_path / "nope.txt")],
        "empty corpus": [*train, "--corpus", str(empty)],
        "too short for one batch": [*train, "--corpus", str(short), "--batch-size", "64"],
        "binary file": [*train, "--corpus", str(binary)],
        "non-UTF-8 file": [*train, "--corpus", str(latin1)],
        "unknown corpus": [*train, "--corpus", "tolstoy"],
        "unknown play": [*train, "--corpus", "shakespeare:macbet"],
        "unknown tokenizer": [*train, "--corpus", str(book), "--tokenizer", "sentencepiece"],
        "bpe:0": [*train, "--corpus", str(book), "--tokenizer", "bpe:0"],
        "no stop limit": ["train", "--out", str(tmp_path / "x"), "--corpus", str(book)],
        "zero time budget": [*train, "--corpus", str(book), "--time-budget", "0"],
        "negative temperature": [*gen, "--temperature", "-1"],
        "top-k 0": [*gen, "--top-k", "0"],
        "top-p 0": [*gen, "--top-p", "0"],
        "top-p above 1": [*gen, "--top-p", "1.2"],
        "negative max tokens": ["generate", str(ckpt), "--max-tokens", "-5"],
        "missing checkpoint": ["generate", str(tmp_path / "nowhere")],
        "not a checkpoint": ["generate", str(not_ckpt)],
        "checkpoint is a file": ["evaluate", str(book)],
        "resume without state": ["train", "--resume", str(not_ckpt)],
        "overwrite refused": ["train", "--corpus", str(book), "--out", str(ckpt), "--max-steps", "2", *TINY],
    }


CASES = ["missing path", "empty corpus", "too short for one batch", "binary file", "non-UTF-8 file",
         "unknown corpus", "unknown play", "unknown tokenizer", "bpe:0", "no stop limit", "zero time budget",
         "negative temperature", "top-k 0", "top-p 0", "top-p above 1", "negative max tokens",
         "missing checkpoint", "not a checkpoint", "checkpoint is a file", "resume without state",
         "overwrite refused"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, book, ckpt, capsys):
    argv = bad_inputs(tmp_path, book, ckpt)[case]
    weights_before = (ckpt / "model.safetensors").read_bytes()
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    one_line_error(err)
    assert (ckpt / "model.safetensors").read_bytes() == weights_before


@pytest.mark.parametrize("argv, shown", [
    ([], "say when to stop: give --epochs, --max-steps, --chars or --time-budget"),
    (["--time-budget", "0"], "--time-budget must be positive seconds, got 0"),
    (["--max-steps", "1", "--patience", "-1"], "--patience must be at least 1, got -1 (--patience 0 never stops early)"),
    (["--max-steps", "1", "--embedding-dim", "8", "--hidden-size", "16"],
     "tied weights need --embedding-dim == --hidden-size (8 != 16); or untie them: --no-tie-weights"),
    (["--max-steps", "1", "--chars", "1", "--lr", "-1"], "--lr: the learning rate must be positive"),
])
def test_setting_errors_name_the_flags(argv, shown, tmp_path, book, capsys):
    code, _, err = run_cli(capsys, "train", "--corpus", str(book), "--out", str(tmp_path / "x"), *argv)
    assert code == 2 and err.startswith("wordgen: error: ") and shown in err, err
    assert not (tmp_path / "x").exists()


def test_sampler_errors_name_the_flags(capsys):
    assert run_cli(capsys, "lab", "--top-p", "1.5")[2] == "wordgen: error: --top-p must be in (0, 1], got 1.5\n"


def test_console_script_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "wordgen.cli", "generate", str(tmp_path / "missing")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("wordgen: error:")


def test_help_explains_every_command(capsys):
    for command in ("lab", "train", "generate", "evaluate", "corpora"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: wordgen" in capsys.readouterr().out


ARGPARSE_ERRORS = {
    "not a number": ["train", "--max-steps", "abc"],
    "bad choice": ["train", "--rnn", "transformer"],
    "unknown option": ["train", "--bogus"],
    "unknown command": ["teleport"],
    "no command": [],
    "missing positional": ["generate"],
    "option without its value": ["compare", "--out"],
    "top-level option without its value": ["--plugin"],
}


@pytest.mark.parametrize("case", ARGPARSE_ERRORS)
def test_argparse_errors_are_one_line_and_exit_2(case, capsys):
    code, out, err = run_cli(capsys, *ARGPARSE_ERRORS[case])
    assert code == 2 and out == ""
    assert "--help" in one_line_error(err)


def test_argparse_error_through_the_console_script_is_one_line():
    # The probe: this printed the 13-line usage block before the error.
    proc = subprocess.run([sys.executable, "-m", "wordgen.cli", "train", "--max-steps", "abc"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == ("wordgen: error: argument --max-steps: invalid int value: 'abc' "
                           "(see wordgen train --help)\n")


def test_a_task_argparse_error_is_one_line(capsys):
    import importlib

    code = importlib.import_module("wordgen.tasks.word_level_book").main(["--max-steps", "abc"])
    err = capsys.readouterr().err
    assert code == 2 and err == ("python -m wordgen.tasks.word_level_book: error: argument --max-steps: invalid int "
                                 "value: 'abc' (see python -m wordgen.tasks.word_level_book --help)\n")


@pytest.mark.slow
def test_wordgen_lab_end_to_end_at_tiny_settings(tmp_path, book, capsys):
    out = tmp_path / "lab"
    code, stdout, err = run_cli(capsys, "lab", "--corpus", str(book), "--out", str(out), "--max-steps", "4",
                            "--max-tokens", "12", *TINY)
    assert code == 0, err
    assert "trained 4 steps" in stdout
    assert "validation (whole split, best checkpoint)" in stdout and "bits per character" in stdout
    for header in ("--- greedy ---", "--- temperature 0.3 ---", "--- temperature 1.8 ---",
                   "--- temperature 1, top-k 40 ---", "--- temperature 1, top-p 0.9 ---"):
        assert header in stdout
    assert f"checkpoint: {out}" in stdout and "lab finished in" in stdout
    assert (out / "model.safetensors").is_file()
    code, again, err = run_cli(capsys, "lab", "--corpus", str(book), "--out", str(out), "--max-steps", "4",
                           "--max-tokens", "12", *TINY)
    assert code == 0, err  # the lab replaces its own folder
    def strip(text: str) -> list[str]:  # what may differ between two runs: times and the measured rate
        lines = [line for line in text.splitlines() if " s (" not in line and "finished in" not in line]
        return [re.sub(r" at [\d,]+ tokens/s measured", "", line) for line in lines]

    assert strip(again) == strip(stdout)  # same seed, same steps: the same report and samples


@pytest.mark.slow
def test_gru_train_resume_generate_evaluate(tmp_path, book, capsys):
    out = tmp_path / "gru"
    code, _, err = run_cli(capsys, "train", "--corpus", str(book), "--out", str(out), "--rnn", "gru", "--max-steps", "4",
                       "--eval-interval", "2", "--quiet", *TINY)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["model"]["rnn_type"] == "gru"
    code, stdout, err = run_cli(capsys, "train", "--resume", str(out), "--max-steps", "6", "--quiet")
    assert code == 0 and "resumed at step 4" in stdout, err
    code, text, err = run_cli(capsys, "generate", str(out), "--prompt", "ROMEO:", "--max-tokens", "15", "--seed", "2")
    assert code == 0 and text.startswith("ROMEO:") and len(text) > len("ROMEO:\n"), err
    assert run_cli(capsys, "generate", str(out), "--prompt", "ROMEO:", "--max-tokens", "15", "--seed", "2")[1] == text
    code, report, err = run_cli(capsys, "evaluate", str(out), "--text-file", str(book), "--json")
    assert code == 0 and json.loads(report)["bits_per_char"] > 0, err


def test_the_lab_says_what_a_loop_repeats_and_when_only_whitespace_came_out():
    from wordgen.analysis.textstats import find_text_loop
    from wordgen.cli.training import _describe_loop
    from wordgen.config import SampleConfig
    from wordgen.lab import Sample

    looping = "ROMEO:\n" + "of the king " * 6
    sample = Sample(sampler=SampleConfig(greedy=True), prompt="ROMEO:\n", text=looping,
                    loop=find_text_loop(looping[len("ROMEO:\n"):]), distinct_2=0.0)
    assert _describe_loop(sample) == '   [loops from token 1: "of the king" over and over]'
    blank = Sample(sampler=SampleConfig(greedy=True), prompt="ROMEO:\n", text="ROMEO:\n" + "\n" * 8,
                   loop=find_text_loop("\n" * 8), distinct_2=0.0)
    assert _describe_loop(blank) == '   [loops from token 1: "⏎" over and over]'
    assert _describe_loop(Sample(sampler=SampleConfig(), prompt="a", text="a b c", loop=None, distinct_2=1.0)) == ""
