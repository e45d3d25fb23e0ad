"""The shipped base models: each loads offline, is small, says what it read, and never read a suite book."""

from __future__ import annotations

import csv
import re

import pytest
from helpers import VERSE, run_cli

from wordgen.training.checkpoint import Bundle
from wordgen.training.finetune import BASES, shipped_bases

# The quality suite's books (Project Gutenberg ebook ids) and the built-in Shakespeare: fine-tuning
# is measured on them, so no base may have read them. Frankenstein 84, The Picture of Dorian Gray
# 174, Moby-Dick 2701; The Complete Works of William Shakespeare 100.
HELD_OUT = {"84": "Frankenstein", "174": "The Picture of Dorian Gray", "2701": "Moby-Dick", "100": "Shakespeare"}
HELD_OUT_NAMES = ("frankenstein", "dorian", "moby", "shakespeare", "hamlet", "macbeth")


def manifest() -> list[dict]:
    with open(BASES / "MANIFEST.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_both_bases_ship_and_load_offline():
    assert shipped_bases() == ["bpe", "word"]
    for name in shipped_bases():
        bundle = Bundle.load(BASES / name)
        assert bundle.tokenizer.kind == name
        assert (BASES / name / "model.safetensors").stat().st_size <= 25_000_000


def test_no_base_read_a_book_that_fine_tuning_is_measured_on():
    rows = manifest()
    assert len(rows) == 72
    for row in rows:
        assert row["ebook"] not in HELD_OUT, f"{row['file']} is {HELD_OUT.get(row['ebook'])}"
        assert not any(name in row["file"].lower() for name in HELD_OUT_NAMES), row["file"]


@pytest.mark.parametrize("name", ["word", "bpe"])
def test_each_card_lists_exactly_the_ebooks_of_the_manifest(name):
    card = (BASES / name / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"Ebook ids \(Project Gutenberg\): ([\d, ]+)", card)
    assert listed is not None, "the card must list the ebook ids"
    ids = {i.strip() for i in listed.group(1).split(",") if i.strip()}
    assert ids == {row["ebook"] for row in manifest()}
    assert not ids & set(HELD_OUT)


@pytest.mark.parametrize("name", ["word", "bpe"])
def test_a_shipped_base_fine_tunes_on_a_book_and_generates(tmp_path, capsys, name):
    book = tmp_path / "book.txt"
    book.write_text(VERSE * 30 + "Zebras graze by the Okavango.\n" * 10, encoding="utf-8")
    out = tmp_path / "ft"
    code, printed, err = run_cli(capsys, "train", "--corpus", book, "--init", f"base:{name}", "--max-steps", 2,
                                 "--batch-size", 4, "--seq-len", 8, "--out", out, "--quiet")
    assert code == 0, err
    assert f"fine-tuning from base:{name}" in printed
    code, printed, err = run_cli(capsys, "generate", out, "--prompt", "ROMEO:", "--max-tokens", 5, "--seed", 0)
    assert code == 0 and printed.startswith("ROMEO:"), err
