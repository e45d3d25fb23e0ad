"""The token store: one encoded split on disk, as a flat array of ids with a JSON manifest beside it.

    KEY.ids     the token ids, one after another: raw little-endian uint16 when the
                vocabulary has at most 65 536 ids, else uint32 (2 or 4 bytes a token,
                against 8 for an int64 tensor); opened with `numpy.memmap`, so a
                process reads only the windows it touches and never holds the split
    KEY.json    the manifest: format and version, dtype, the counts of tokens,
                characters, words and <unk> of the original text, the hashes of the
                text and of the tokenizer it was encoded from, and a SHA-256 of the ids

`write_store` takes the ids as a stream of chunks (never the split as one list) and
writes both files through `wordgen._io.atomic_write`: a crash leaves the old files or
none. `open_store` trusts nothing it reads: the manifest must be a small JSON object
with exactly the expected keys and types, name the same text and tokenizer, a dtype
that fits the vocabulary, a file size equal to tokens x itemsize and a checksum equal
to the file's (read in chunks with plain reads, so checking never maps the file into
the process). Anything else raises `StoreRejected` with the reason, and the caller
(`wordgen.data.encode_split`) deletes the pair and encodes again. Nothing is ever
unpickled: a pickle where the ids should be is just bytes with the wrong checksum.

Not here: which text is encoded or how (wordgen.data), where the cache folder is
(wordgen._io.default_cache_dir), windows and batches (wordgen.data).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wordgen import _io

FORMAT = "wordgen-token-store"
VERSION = 1
IDS_SUFFIX = ".ids"
MANIFEST_SUFFIX = ".json"
_MAX_MANIFEST_BYTES = 64 * 1024  # a real manifest is ~500 bytes; never parse a large file as one
_READ_CHUNK = 1 << 20  # bytes per read while checksumming
_DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}
_COUNTS = ("num_tokens", "num_chars", "num_words", "num_unk")


class StoreRejected(Exception):
    """A store file that cannot be trusted; the message says why (for tests and logs)."""


@dataclass
class Chunk:
    """A piece of an encoded split: its ids and the counts of the text they came from."""

    ids: np.ndarray  # (n,) any integer dtype
    num_chars: int
    num_words: int
    num_unk: int


def dtype_name(vocab_size: int) -> str:
    """'uint16' when every id fits 16 bits (vocab_size <= 65 536), else 'uint32'."""
    if vocab_size <= 1 << 16:
        return "uint16"
    if vocab_size <= 1 << 32:
        return "uint32"
    raise ValueError(f"a vocabulary of {vocab_size} ids does not fit the token store's 32-bit ids")


def paths(base: str | os.PathLike) -> tuple[Path, Path]:
    """(ids file, manifest file) of the store named `base` (a path without suffix)."""
    base = _io.expand(base)
    return base.with_name(base.name + IDS_SUFFIX), base.with_name(base.name + MANIFEST_SUFFIX)


def remove(base: str | os.PathLike) -> None:
    for path in paths(base):
        path.unlink(missing_ok=True)


def write_store(base: str | os.PathLike, chunks: Iterable[Chunk], *, vocab_size: int, text_hash: str,
                tokenizer_hash: str) -> dict:
    """Write the chunks' ids to `base`.ids and their manifest to `base`.json; return the manifest.

    The ids file is complete and renamed into place before the manifest is written,
    so a manifest never describes a file that is not whole. An id outside
    [0, vocab_size) raises ValueError and leaves nothing behind.
    """
    ids_path, manifest_path = paths(base)
    dtype = _DTYPES[dtype_name(vocab_size)]
    counts = dict.fromkeys(_COUNTS, 0)
    digest = hashlib.sha256()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                ids = np.asarray(chunk.ids)
                if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
                    raise ValueError(f"the tokenizer gave an id outside 0..{vocab_size - 1}")
                data = ids.astype(dtype, copy=False).tobytes()
                f.write(data)
                digest.update(data)
                counts["num_tokens"] += ids.size
                counts["num_chars"] += chunk.num_chars
                counts["num_words"] += chunk.num_words
                counts["num_unk"] += chunk.num_unk

    _io.atomic_write(ids_path, write)
    manifest = {"format": FORMAT, "version": VERSION, "dtype": dtype_name(vocab_size), "vocab_size": vocab_size,
                **counts, "text_sha256": text_hash, "tokenizer_sha256": tokenizer_hash,
                "ids_sha256": digest.hexdigest()}
    _io.atomic_write_text(manifest_path, json.dumps(manifest, indent=1) + "\n")
    return manifest


def open_store(base: str | os.PathLike, *, vocab_size: int, text_hash: str, tokenizer_hash: str,
               verify: bool = True) -> tuple[np.ndarray, dict]:
    """The ids (N,) as a read-only memory map, and the manifest; StoreRejected if anything is off.

    verify=False skips the checksum (for a store this process has just written).
    """
    ids_path, manifest_path = paths(base)
    manifest = _read_manifest(manifest_path)
    expected = {"format": FORMAT, "version": VERSION, "vocab_size": vocab_size, "text_sha256": text_hash,
                "tokenizer_sha256": tokenizer_hash, "dtype": dtype_name(vocab_size)}
    for key, value in expected.items():
        if manifest[key] != value:
            raise StoreRejected(f"manifest {key} is {manifest[key]!r}, expected {value!r}")
    dtype = _DTYPES[manifest["dtype"]]
    try:
        size = ids_path.stat().st_size
    except OSError as err:
        raise StoreRejected(f"no ids file ({_io.first_line(err)})") from None
    if size != manifest["num_tokens"] * dtype.itemsize:
        raise StoreRejected(f"ids file holds {size} bytes, the manifest says {manifest['num_tokens']} "
                            f"{manifest['dtype']} tokens ({manifest['num_tokens'] * dtype.itemsize} bytes)")
    if verify and _file_sha256(ids_path) != manifest["ids_sha256"]:
        raise StoreRejected("ids file does not match the manifest's checksum")
    if manifest["num_tokens"] == 0:
        return np.zeros(0, dtype=dtype), manifest  # an empty file cannot be mapped
    return np.memmap(ids_path, dtype=dtype, mode="r", shape=(manifest["num_tokens"],)), manifest


def _read_manifest(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_MANIFEST_BYTES + 1)
    except OSError as err:
        raise StoreRejected(f"no manifest ({_io.first_line(err)})") from None
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise StoreRejected("manifest is too large to be one")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreRejected(f"manifest is not JSON ({_io.first_line(err)})") from None
    _check_manifest_shape(manifest)
    return manifest


def _check_manifest_shape(manifest: object) -> None:
    strings = ("format", "dtype", "text_sha256", "tokenizer_sha256", "ids_sha256")
    integers = ("version", "vocab_size", *_COUNTS)
    if not isinstance(manifest, dict) or set(manifest) != set(strings + integers):
        keys = sorted(manifest) if isinstance(manifest, dict) else type(manifest).__name__
        raise StoreRejected(f"manifest has the wrong keys: {keys}")
    for key in strings:
        if not isinstance(manifest[key], str):
            raise StoreRejected(f"manifest {key} is not a string")
    for key in integers:
        value = manifest[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StoreRejected(f"manifest {key} is not a count")
    if manifest["dtype"] not in _DTYPES:
        raise StoreRejected(f"manifest dtype {manifest['dtype']!r} is not one of {sorted(_DTYPES)}")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_READ_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()
