"""The paths users take, each walked end to end: trained, saved, loaded, generated from, or stopped.

An `hf:` tokenizer.json through train / save / load / generate; a Project Gutenberg file with
its header and licence still on; an `hf:` dataset folder, and one named with a CONFIG; Ctrl-C
of `wordgen compare`, `wordgen lab` and a task in a real process (held after a chosen step by
the library's test hook, helpers.Holds, so the stop lands where the test says). Tiny models,
a few steps each. Not here: what each piece does alone (test_tokenization, test_corpora, ...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from helpers import VERSE, Holds, run_cli, tiny_flags

from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle

ROOT = Path(__file__).resolve().parent.parent
TINY = tiny_flags(precision="fp32", quiet=True)
pytestmark = pytest.mark.slow


def _trains_and_generates(capsys, corpus, out, *flags) -> Bundle:
    code, stdout, err = run_cli(capsys, "train", "--corpus", corpus, "--out", out, "--max-steps", "3",
                                "--eval-interval", "3", *TINY, *flags)
    assert code == 0, err
    code, text, err = run_cli(capsys, "generate", out, "--prompt", "ROMEO:", "--max-tokens", "8", "--seed", "1")
    assert code == 0 and text.startswith("ROMEO:") and len(text) > len("ROMEO:"), err
    return Bundle.load(out, device="cpu")


def test_an_hf_tokenizer_json_trains_saves_loads_and_generates(book, tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    hf = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.Whitespace()
    hf.train_from_iterator([VERSE], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    hf.save(str(path))
    _trains_and_generates(capsys, book, tmp_path / "run", "--tokenizer", f"hf:{path}")
    # The checkpoint carries the tokenizer itself: the same ids as the user's file, without it.
    path.unlink()
    bundle = Bundle.load(tmp_path / "run", device="cpu")
    assert bundle.tokenizer.kind == "hf"
    assert bundle.tokenizer.encode("But, soft! what light") == hf.encode("But, soft! what light").ids
    assert bundle.tokenizer.vocab_size == hf.get_vocab_size() == bundle.model.config.vocab_size


def test_a_gutenberg_file_with_its_header_and_licence_trains_on_the_book_alone(tmp_path, capsys):
    header = ("The Project Gutenberg eBook of Verona, by Nobody\n\nThis eBook is for the use of anyone anywhere.\n\n"
              "*** START OF THE PROJECT GUTENBERG EBOOK VERONA ***\n\n")
    licence = ("\n*** END OF THE PROJECT GUTENBERG EBOOK VERONA ***\n\nSection 1. General Terms of Use and "
               "Redistributing Project Gutenberg-tm electronic works\nLICENSE ROYALTIES TRADEMARK\n" * 3)
    book = tmp_path / "pg1513.txt"
    book.write_text(header + VERSE * 40 + licence, encoding="utf-8")
    bundle = _trains_and_generates(capsys, book, tmp_path / "run")
    vocabulary = {bundle.tokenizer.id_to_token(i) for i in range(bundle.tokenizer.vocab_size)}
    assert {"Juliet", "Romeo", "wherefore"} <= vocabulary
    assert not vocabulary & {"Gutenberg", "eBook", "LICENSE", "ROYALTIES", "Redistributing"}, vocabulary


def _text_rows(folder: Path, prefix: str) -> None:
    for split, share in (("train", 30), ("validation", 6), ("test", 6)):
        rows = [line for line in (VERSE * share).splitlines() if line.strip()]
        datasets.Dataset.from_dict({"text": [f"{prefix}{r}" for r in rows]}).to_parquet(
            str(folder / f"{split}-00000-of-00001.parquet"))


def test_an_hf_dataset_folder_trains_end_to_end(tmp_path, hf_cache, capsys):
    folder = tmp_path / "verona"
    folder.mkdir()
    _text_rows(folder, "")
    bundle = _trains_and_generates(capsys, f"hf:{folder}", tmp_path / "run")
    assert bundle.config.corpus == f"hf:{folder}"


def test_an_hf_dataset_named_with_a_config_trains_on_that_config(tmp_path, hf_cache, capsys):
    # Two configurations in one folder, declared in its README's metadata as on the Hub.
    folder = tmp_path / "two"
    for name, prefix in (("plain", ""), ("shouted", "LOUD ")):
        (folder / name).mkdir(parents=True)
        _text_rows(folder / name, prefix)
    splits = "".join(f"  - split: {split}\n    path: {{name}}/{split}-*.parquet\n" for split in ("train", "validation", "test"))
    (folder / "README.md").write_text("---\nconfigs:\n" + "".join(
        f"- config_name: {name}\n  data_files:\n" + splits.format(name=name) for name in ("plain", "shouted")) + "---\n")
    bundle = _trains_and_generates(capsys, f"hf:{folder}:shouted", tmp_path / "run")
    assert bundle.tokenizer.encode("LOUD")[0] != bundle.tokenizer.unk_id  # it read the config it was told
    plain = _trains_and_generates(capsys, f"hf:{folder}:plain", tmp_path / "plain")
    assert plain.tokenizer.encode("LOUD") == [plain.tokenizer.unk_id]


# ---------------------------------------------------------------- Ctrl-C in a real process


def _ctrl_c_after(step: int, argv: list[str], tmp_path: Path) -> tuple[int, str, str]:
    """Run ARGV (python -m ...) held after `step`, press Ctrl-C there, let it go: (exit code, stdout, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with Holds(tmp_path / "holds", f"step:{step}") as holds:
        proc = subprocess.Popen([sys.executable, "-m", *map(str, argv)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**env, **holds.env()}, cwd=ROOT)
        try:
            holds.wait(f"step:{step}", proc)
            proc.send_signal(signal.SIGINT)
            holds.release()
            out, err = proc.communicate(timeout=120)  # a tiny run that was let go ends in seconds
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_ctrl_c_stops_compare_in_a_real_process(book, tmp_path):
    out = tmp_path / "cmp"
    code, _, err = _ctrl_c_after(3, ["wordgen.cli", "compare", "--corpus", book, "--tokenizers", "char,word",
                                     "--out", out, "--max-steps", "8", "--eval-interval", "4", "--sample-chars", "0",
                                     *TINY], tmp_path)
    assert code == 130, err
    run = out / "runs" / "char"
    assert err.strip().splitlines()[-1] == f"wordgen: interrupted at step 3; resume with: wordgen train --resume {run}"
    assert "Traceback" not in err and ckpt.load_trainer_state(run)["step"] == 3
    assert not (out / "runs" / "word").exists()  # the comparison stopped; it did not go on to the next run


def test_ctrl_c_stops_the_lab_in_a_real_process(book, tmp_path):
    out = tmp_path / "lab"
    code, stdout, err = _ctrl_c_after(2, ["wordgen.cli", "lab", "--corpus", book, "--out", out, "--max-steps", "6",
                                          *tiny_flags(precision="fp32")], tmp_path)
    assert code == 130 and "--- greedy ---" not in stdout, err  # no sampling after a stop
    assert err.strip().splitlines()[-1] == f"wordgen: interrupted at step 2; resume with: wordgen train --resume {out}"
    assert "Traceback" not in err and ckpt.load_trainer_state(out)["step"] == 2


def test_ctrl_c_stops_a_task_in_a_real_process(book, tmp_path):
    out = tmp_path / "task"
    code, _, err = _ctrl_c_after(4, ["wordgen.tasks.word_level_book", "--book", book, "--out", out, "--max-steps", "20",
                                     *tiny_flags(quiet=True)], tmp_path)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == (f"python -m wordgen.tasks.word_level_book: interrupted at step 4; "
                                            f"resume with: wordgen train --resume {out / 'model'}")
    assert "Traceback" not in err and ckpt.load_trainer_state(out / "model")["step"] == 4
