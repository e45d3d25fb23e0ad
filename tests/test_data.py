import stat

import datasets
import numpy as np
import pytest
import torch

from wordgen._io import FILE_MODE
from wordgen.data import batchify, encode_split, split_text, windows, windows_per_epoch
from wordgen.errors import CorpusError
from wordgen.tokenization import train_tokenizer


def test_batchify_worked_example():
    ids = torch.arange(26)  # the alphabet: a=0 ... z=25
    table = batchify(ids, 4)
    assert table.tolist() == [list(range(0, 6)), list(range(6, 12)), list(range(12, 18)), list(range(18, 24))]


def test_batchify_splits_rows_between_processes():
    ids = torch.arange(40)
    rank0, rank1 = batchify(ids, 2, rank=0, world_size=2), batchify(ids, 2, rank=1, world_size=2)
    assert rank0.shape == rank1.shape == (2, 10)
    assert set(rank0.flatten().tolist()).isdisjoint(rank1.flatten().tolist())


def test_batchify_refuses_too_short_a_stream():
    with pytest.raises(CorpusError, match="too short"):
        batchify(torch.arange(5), 4)


def test_windows_cover_every_target_once():
    table = torch.arange(30).view(2, 15)
    seen = []
    for pos, x, y in windows(table, 4):
        assert torch.equal(y, table[:, pos + 1 : pos + 1 + x.size(1)])
        seen.extend(y[0].tolist())
    assert seen == list(range(1, 15))
    assert windows_per_epoch(table, 4) == 4  # 14 targets per row: 4 + 4 + 4 + 2


def test_encode_split_counts_the_original_text():
    split = datasets.Dataset.from_dict({"text": ["to be, or not to be", "that is\nthe question\n"]})
    tokenizer = train_tokenizer("char", split["text"])
    stream = encode_split(split, tokenizer)
    text = split_text(split)
    assert text == "to be, or not to be\nthat is\nthe question\n"
    assert stream.num_chars == len(text) == len(stream)  # one token per character
    assert stream.num_words == len(text.split()) == 10
    assert tokenizer.decode(stream.ids.tolist()) == text
    assert stream.num_unk == 0


def test_encode_split_cache_files_get_the_wordgen_file_mode(tmp_path):
    # The cache goes through wordgen._io like every other file wordgen writes, so a
    # colleague sharing the cache folder can read it (mkstemp alone would give 0600).
    split = datasets.Dataset.from_dict({"text": ["to be, or not to be", "that is the question"]})
    tokenizer = train_tokenizer("char", split["text"])
    stream = encode_split(split, tokenizer, cache_dir=tmp_path)
    files = sorted((tmp_path / "streams").iterdir())
    assert [f.suffix for f in files] == [".ids", ".json"]  # no temporary file left beside them
    assert all(stat.S_IMODE(f.stat().st_mode) == FILE_MODE for f in files)
    again = encode_split(split, tokenizer, cache_dir=tmp_path)  # read back from the cache
    assert np.array_equal(again.ids, stream.ids) and again.num_chars == stream.num_chars


def test_windows_of_a_numpy_table_equal_those_of_the_tensor():
    ids = np.arange(60, dtype=np.uint16)
    from_numpy = list(windows(batchify(ids, 3), 7, start=7))
    from_tensor = list(windows(batchify(torch.arange(60), 3), 7, start=7))
    assert [p for p, _, _ in from_numpy] == [p for p, _, _ in from_tensor] == [7, 14]
    for (_, xa, ya), (_, xb, yb) in zip(from_numpy, from_tensor):
        assert xa.dtype == torch.long and torch.equal(xa, xb) and torch.equal(ya, yb)
