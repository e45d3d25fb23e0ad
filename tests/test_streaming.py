"""Streamed corpora, offline: the real datasets.load_dataset(..., streaming=True) on json / parquet /
text files written here, and local folders read file by file. A streamed corpus must give the
same token streams and the same training run as the same corpus loaded whole."""

import json
import os

import datasets
import numpy as np
import pytest
from helpers import VERSE, one_line_message, tiny_train_config

from wordgen.corpora import load_corpus
from wordgen.data import encode_split, iter_texts
from wordgen.errors import CorpusError
from wordgen.tokenization import train_tokenizer
from wordgen.training.loop import train
from wordgen.training.prepare import prepare

SPLITS = ["train", "validation", "test"]


def rows(dd):
    return {split: list(iter_texts(dd[split])) for split in SPLITS}


def write_jsonl(path, texts, column="text"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({column: t, "id": i}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")


def test_streamed_json_splits_give_the_same_streams_as_the_loaded_ones(tmp_path, hf_cache):
    lines = VERSE.splitlines()
    for split, rows_ in zip(SPLITS, (lines * 4, lines[:6], lines[6:])):
        write_jsonl(tmp_path / "js" / f"{split}.jsonl", rows_)
    streamed = load_corpus(f"hf:{tmp_path / 'js'}", streaming=True)
    loaded = load_corpus(f"hf:{tmp_path / 'js'}")
    assert isinstance(streamed, datasets.IterableDatasetDict) and isinstance(loaded, datasets.DatasetDict)
    assert rows(streamed) == rows(loaded) and rows(streamed)["validation"] == lines[:6]
    tokenizer = train_tokenizer("bpe:300", iter_texts(streamed["train"]))  # trained from the stream
    assert tokenizer.to_dict() == train_tokenizer("bpe:300", loaded["train"]["text"]).to_dict()
    a = encode_split(streamed["train"], tokenizer, cache_dir=tmp_path / "cache")
    b = encode_split(loaded["train"], tokenizer)
    assert np.array_equal(a.ids, b.ids) and (a.num_chars, a.num_words) == (b.num_chars, b.num_words)


def test_streamed_text_files_without_held_out_splits_are_carved_by_position(tmp_path, hf_cache):
    (tmp_path / "txt").mkdir()
    lines = [f"line {i} of the stream" for i in range(100)]
    (tmp_path / "txt" / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    dd = load_corpus(f"hf:{tmp_path / 'txt'}", streaming=True, seed=3)
    got = rows(dd)
    assert len(got["validation"]) == len(got["test"]) == 5  # one row in 20 each
    assert sorted(sum(got.values(), [])) == sorted(lines) and len(set(got["validation"]) & set(got["test"])) == 0
    assert got["validation"][0] == "line 3 of the stream"  # the seed sets the offset
    assert rows(load_corpus(f"hf:{tmp_path / 'txt'}", streaming=True, seed=3)) == got


def test_streamed_parquet_with_another_text_column(tmp_path, hf_cache):
    (tmp_path / "pq").mkdir()
    for split in SPLITS:
        datasets.Dataset.from_dict({"body": [f"{split} {i}" for i in range(3)], "n": [1, 2, 3]}).to_parquet(
            str(tmp_path / "pq" / f"{split}-0.parquet"))
    dd = load_corpus(f"hf:{tmp_path / 'pq'}", streaming=True, text_column="body")
    assert rows(dd)["test"] == ["test 0", "test 1", "test 2"]
    with pytest.raises(CorpusError, match="no column 'text'.*body") as excinfo:
        load_corpus(f"hf:{tmp_path / 'pq'}", streaming=True)
    one_line_message(excinfo)


def test_a_streamed_json_without_the_column_is_a_one_line_error(tmp_path, hf_cache):
    write_jsonl(tmp_path / "js" / "train.jsonl", ["a", "b", "c"], column="content")
    with pytest.raises(CorpusError, match="no column 'text'.*content") as excinfo:
        load_corpus(f"hf:{tmp_path / 'js'}", streaming=True)
    one_line_message(excinfo)


def _books(folder, n=5):
    for i in range(n):
        (folder / f"book{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"book{i}.txt").write_text(f"BOOK {i}\n" + VERSE * (i + 2), encoding="utf-8")
    return folder


def test_a_folder_is_read_file_by_file_the_same_way_streamed_or_not(tmp_path, monkeypatch):
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    books = _books(tmp_path / "books")
    loaded, streamed = load_corpus(str(books), seed=2), load_corpus(str(books), seed=2, streaming=True)
    assert isinstance(streamed["train"], datasets.IterableDataset)
    assert rows(loaded) == rows(streamed) and [len(loaded[s]) for s in SPLITS] == [3, 1, 1]
    assert list(loaded["train"]["title"]) == [r["title"] for r in streamed["train"]]
    assert any((tmp_path / "cache" / "arrow").rglob("*.arrow"))  # built on disk, under the wordgen cache
    name = loaded["validation"]["title"][0]
    with open(name, "a", encoding="utf-8") as f:  # an edited file is read again
        f.write("An added line.\n")
    os.utime(name, ns=(os.stat(name).st_atime_ns, os.stat(name).st_mtime_ns + 10**9))
    assert rows(load_corpus(str(books), seed=2))["validation"][0].endswith("An added line.\n")


def test_a_bad_file_in_a_streamed_folder_fails_when_it_is_reached(tmp_path, monkeypatch):
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    books = _books(tmp_path / "books")
    (books / "book0.txt").write_bytes(b"\x00\x01binary")
    dd = load_corpus(str(books), seed=2, streaming=True)  # nothing read yet
    with pytest.raises(CorpusError, match="book0.txt.*not UTF-8"):
        for split in SPLITS:
            list(iter_texts(dd[split]))
    with pytest.raises(CorpusError, match="book0.txt.*not UTF-8"):
        load_corpus(str(books), seed=2)  # loaded whole: at once


@pytest.mark.slow
def test_training_on_a_streamed_folder_is_the_same_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    books = _books(tmp_path / "books")
    whole = train(tiny_train_config(books, tmp_path / "whole", max_steps=6, eval_interval=3))
    streamed = train(tiny_train_config(books, tmp_path / "streamed", max_steps=6, eval_interval=3, streaming=True))
    assert [r["val_loss"] for r in streamed.history] == [r["val_loss"] for r in whole.history]
    assert [r["train_loss"] for r in streamed.history] == [r["train_loss"] for r in whole.history]
    _, _, train_stream, _ = prepare(streamed.bundle.config)  # the cache: the same stores, found again
    assert len(train_stream) == len(prepare(whole.bundle.config)[2])
