"""The token store (wordgen.store) and encode_split's use of it: round trip, dtype, counts,
atomic writes, and every kind of damaged or planted store file rejected and rebuilt."""

import json
import pickle

import datasets
import numpy as np
import pytest
from helpers import VERSE

from wordgen import store
from wordgen.data import encode_split, split_text, text_digest
from wordgen.errors import CorpusError
from wordgen.tokenization import CharTokenizer, train_tokenizer

ROWS = [VERSE, "A second row without its newline", "", "Third row: café, naïve — ünïcödé.\n"]


@pytest.fixture
def split():
    return datasets.Dataset.from_dict({"text": ROWS})


@pytest.fixture
def word(split):
    return train_tokenizer("word", split["text"])


def store_files(cache):
    return sorted((cache / "streams").iterdir())


def test_round_trip_counts_and_map(tmp_path, split, word):
    stream = encode_split(split, word, cache_dir=tmp_path)
    text = split_text(split)
    expected = word.encode_batch([t if t.endswith("\n") else t + "\n" for t in ROWS])
    assert stream.ids.tolist() == [i for row in expected for i in row]
    assert isinstance(stream.ids, np.memmap) and not stream.ids.flags.writeable  # read straight from the file
    assert (stream.num_chars, stream.num_words) == (len(text), len(text.split()))
    assert stream.num_unk == 0 and len(stream) == sum(map(len, expected))
    ids_file, manifest_file = store_files(tmp_path)
    manifest = json.loads(manifest_file.read_text())
    assert manifest["dtype"] == "uint16" and ids_file.stat().st_size == 2 * len(stream)
    assert manifest["text_sha256"] == text_digest(split)
    assert manifest["num_tokens"] == len(stream) and manifest["num_chars"] == len(text)
    in_memory = encode_split(split, word)  # no cache: the same stream, held in memory
    assert np.array_equal(in_memory.ids, stream.ids) and in_memory.num_words == stream.num_words
    assert stream.tensor(2, 5).tolist() == stream.ids[2:5].tolist()


def test_unk_is_counted(tmp_path, word):
    other = datasets.Dataset.from_dict({"text": ["ROMEO zebra giraffe ROMEO"]})
    stream = encode_split(other, word, cache_dir=tmp_path)
    assert stream.num_unk == 2 == int(np.count_nonzero(np.asarray(stream.ids) == word.unk_id))


@pytest.mark.parametrize("vocab_size,name", [(2, "uint16"), (65_536, "uint16"), (65_537, "uint32"),
                                             (2**32, "uint32")])
def test_dtype_is_the_smallest_that_holds_every_id(vocab_size, name):
    assert store.dtype_name(vocab_size) == name


def test_a_large_vocabulary_is_stored_as_uint32(tmp_path):
    ids = np.array([0, 65_535, 65_536, 70_000])
    store.write_store(tmp_path / "s", [store.Chunk(ids, 4, 1, 0)], vocab_size=70_001, text_hash="t",
                      tokenizer_hash="k")
    read, manifest = store.open_store(tmp_path / "s", vocab_size=70_001, text_hash="t", tokenizer_hash="k")
    assert manifest["dtype"] == "uint32" and read.dtype == np.uint32 and read.tolist() == ids.tolist()


def test_a_failed_write_leaves_nothing_and_the_next_run_builds_the_store(tmp_path, split, word):
    class Failing(type(word)):
        calls = 0

        def encode_batch(self, texts):
            Failing.calls += 1
            if Failing.calls == 2:
                raise OSError("disk full")
            return super().encode_batch(texts)

    failing = Failing.from_dict(word.to_dict())
    big = datasets.Dataset.from_dict({"text": [VERSE * 3000] * 3})  # several chunks of ~1 MB
    with pytest.raises(OSError, match="disk full"):
        encode_split(big, failing, cache_dir=tmp_path)
    assert list((tmp_path / "streams").iterdir()) == []  # no partial file, no temporary file
    stream = encode_split(big, word, cache_dir=tmp_path)
    assert len(stream) == 3 * len(word.encode(VERSE * 3000))  # VERSE ends in a newline already


def test_an_id_outside_the_vocabulary_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        store.write_store(tmp_path / "s", [store.Chunk(np.array([1, 5]), 2, 1, 0)], vocab_size=5, text_hash="t",
                          tokenizer_hash="k")
    assert list(tmp_path.iterdir()) == []


def _poison_truncated(ids_file, manifest_file):
    ids_file.write_bytes(ids_file.read_bytes()[:-2])


def _poison_count(ids_file, manifest_file):
    manifest = json.loads(manifest_file.read_text())
    manifest["num_tokens"] += 1
    manifest_file.write_text(json.dumps(manifest))


def _poison_pickle_ids(ids_file, manifest_file):
    # A pickle that would leave a marker file behind if anything ever unpickled it
    # (what the old torch.save'd cache format would have invited).
    ids_file.write_bytes(pickle.dumps(_Marker(str(ids_file.parent / "UNPICKLED"))))


def _poison_pickle_manifest(ids_file, manifest_file):
    manifest_file.write_bytes(pickle.dumps(_Marker(str(ids_file.parent / "UNPICKLED"))))


def _poison_dtype(ids_file, manifest_file):
    # The same ids as uint32, the manifest saying so, sizes consistent: the dtype alone is wrong.
    wide = np.frombuffer(ids_file.read_bytes(), dtype="<u2").astype("<u4").tobytes()
    ids_file.write_bytes(wide)
    manifest = json.loads(manifest_file.read_text())
    manifest["dtype"] = "uint32"
    manifest_file.write_text(json.dumps(manifest))


def _poison_bytes(ids_file, manifest_file):
    data = bytearray(ids_file.read_bytes())
    data[3] ^= 0x01  # one flipped bit: same size, same manifest
    ids_file.write_bytes(bytes(data))


def _poison_other_text(ids_file, manifest_file):
    manifest = json.loads(manifest_file.read_text())
    manifest["text_sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))


def _poison_manifest_gone(ids_file, manifest_file):
    manifest_file.unlink()


def _poison_manifest_junk(ids_file, manifest_file):
    manifest_file.write_text('{"format": "wordgen-token-store", "extra": [1, 2, 3]}')


class _Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("poison", [_poison_truncated, _poison_count, _poison_pickle_ids,
                                    _poison_pickle_manifest, _poison_dtype, _poison_bytes,
                                    _poison_other_text, _poison_manifest_gone, _poison_manifest_junk],
                         ids=lambda f: f.__name__.removeprefix("_poison_"))
def test_a_poisoned_or_partial_store_is_rejected_and_rebuilt(tmp_path, split, word, poison):
    good = encode_split(split, word, cache_dir=tmp_path)
    expected = np.array(good.ids)
    ids_file, manifest_file = store_files(tmp_path)
    good_manifest = manifest_file.read_text()
    del good
    poison(ids_file, manifest_file)
    with pytest.raises(store.StoreRejected):
        store.open_store(ids_file.with_suffix(""), vocab_size=word.vocab_size, text_hash=text_digest(split),
                         tokenizer_hash=json.loads(good_manifest)["tokenizer_sha256"])
    again = encode_split(split, word, cache_dir=tmp_path)
    assert np.array_equal(again.ids, expected)
    assert manifest_file.read_text() == good_manifest  # rebuilt whole
    assert not (tmp_path / "streams" / "UNPICKLED").exists()  # nothing was ever unpickled


def test_a_store_of_another_tokenizer_is_not_read(tmp_path, split, word):
    encode_split(split, word, cache_dir=tmp_path)
    char = CharTokenizer.train_from_texts(ROWS)
    stream = encode_split(split, char, cache_dir=tmp_path)
    assert len(stream) == len(split_text(split))  # its own store, one token per character
    assert len(store_files(tmp_path)) == 4


def test_a_plugin_id_outside_the_vocabulary_is_a_corpus_error(tmp_path, split, word):
    class Broken(type(word)):
        def encode_batch(self, texts):
            return [[self.vocab_size + 3] for _ in texts]

    with pytest.raises(CorpusError, match="outside"):
        encode_split(split, Broken.from_dict(word.to_dict()), cache_dir=tmp_path)
