"""Turn a corpus split into one token stream, and cut streams into TBPTT batches.

A split (a `datasets.Dataset`, or an `IterableDataset` for a streamed corpus, with a
`text` column) is read row by row, encoded a chunk of rows at a time, and its ids
laid end to end in a `TokenStream`: the ids plus the character and word counts of
the *original* text, which evaluation needs for bits per character and perplexity
per word. Each row is taken with a trailing newline, so rows never run into each
other and the counts describe exactly the text that was encoded.

With a cache folder (`cache_dir`, see `wordgen._io.default_cache_dir`) the ids go
to a token store on disk (`wordgen.store`: a flat uint16/uint32 array and a JSON
manifest), named by a hash of the split's text and of the tokenizer with all its
settings, and the stream is a read-only memory map of it: training, evaluation and
compare read the windows they need straight from the file, and a split of any size
costs the process a few windows of memory. A changed text, vocabulary or setting
simply misses; a damaged, truncated or foreign store file is rejected and rebuilt.
Without a cache the ids are held in memory (2 or 4 bytes a token).

Batching follows the classic truncated back-propagation-through-time layout
(as in pytorch/examples' word_language_model): the stream is cut into B
parallel columns, windows of T tokens slide down them, and the recurrent state
is carried from one window to the next. Every token is read once per epoch,
unlike one-window-per-sample schemes that re-read each token T times.

Not here: shuffling (it would break the carried state), padding, moving windows
to a device (training/loop.py), or deciding what the text is (wordgen.corpora).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wordgen import store
from wordgen._io import default_cache_dir, expand
from wordgen.errors import CorpusError
from wordgen.tokenization import Tokenizer

__all__ = ["TokenStream", "batchify", "content_key", "default_cache_dir", "encode_split", "iter_texts",
           "row_text", "split_text", "text_digest", "windows", "windows_per_epoch"]

CACHE_VERSION = 2  # bump when the cached layout or the row_text rule changes (2: the token store)
_CHUNK_CHARS = 1 << 20  # rows are encoded in chunks of about this many characters
_READ_ROWS = 16  # rows per read from the dataset (a row may be a whole book)


@dataclass
class TokenStream:
    """A split as one sequence of token ids, with the counts of the text it encodes.

    `ids` is a (N,) uint16/uint32 numpy array: a read-only memory map of the token
    store, or an array in memory when caching is off. Index it for numpy views, or
    ask `tensor(start, stop)` for an int64 copy of a stretch.
    """

    ids: np.ndarray  # (N,) the whole split as one sequence
    num_chars: int  # characters of the original text (rows + their newlines)
    num_words: int  # whitespace-separated words of the original text
    num_unk: int  # ids equal to the tokenizer's <unk> (0 if it has none)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def chars_per_token(self) -> float:
        return self.num_chars / max(1, len(self))

    def tensor(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """ids[start:stop] as an int64 tensor (N',), a copy: the map itself stays read-only."""
        return torch.from_numpy(np.asarray(self.ids[start:stop], dtype=np.int64))


def row_text(text: str) -> str:
    """The exact text a row contributes to a stream: itself, ending in one newline."""
    return text if text.endswith("\n") else text + "\n"


def iter_texts(split) -> Iterator[str]:
    """The `text` of every row of a Dataset or IterableDataset, in order, a few rows at a time."""
    for batch in split.iter(batch_size=_READ_ROWS):
        yield from batch["text"]


def split_text(split) -> str:
    """The original text of a split, exactly as `encode_split` sees it (for small splits)."""
    return "".join(row_text(t) for t in iter_texts(split))


def text_digest(split) -> str:
    """SHA-256 of `split_text(split)`, computed row by row (the text is never joined)."""
    digest = hashlib.sha256()
    for text in iter_texts(split):
        digest.update(row_text(text).encode("utf-8"))
    return digest.hexdigest()


def content_key(*parts: str | bytes) -> str:
    """A hex digest naming a cache entry by everything that determines it."""
    digest = hashlib.sha256(f"wordgen-cache-v{CACHE_VERSION}".encode())
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)  # length-prefixed: no ambiguous joins
    return digest.hexdigest()[:40]


def tokenizer_spec(tokenizer: Tokenizer) -> str:
    """The tokenizer's full description as canonical JSON: what a cache entry keys on."""
    return json.dumps(tokenizer.to_dict(), sort_keys=True)


def encode_split(split, tokenizer: Tokenizer, cache_dir: str | Path | None = None, *,
                 text_hash: str | None = None) -> TokenStream:
    """Tokenize every row of `split` and lay the ids end to end in one stream.

    With `cache_dir`, the stream is a memory map of the token store named by the
    split's text (`text_hash`, as `text_digest` gives it; computed here when not
    handed in) and the tokenizer's full description; it is encoded and written
    first if the store is missing or cannot be trusted.
    """
    if cache_dir is None:
        return _in_memory(split, tokenizer)
    spec = tokenizer_spec(tokenizer)
    text_hash = text_hash or text_digest(split)
    tokenizer_hash = hashlib.sha256(spec.encode("utf-8")).hexdigest()
    base = expand(cache_dir) / "streams" / content_key(text_hash, spec)
    keys = dict(vocab_size=tokenizer.vocab_size, text_hash=text_hash, tokenizer_hash=tokenizer_hash)
    try:
        return _stream(*store.open_store(base, **keys))
    except store.StoreRejected:
        store.remove(base)  # damaged, partial or foreign: rebuilt, never trusted
    try:
        store.write_store(base, _encoded_chunks(split, tokenizer), **keys)
    except ValueError as err:
        raise CorpusError(f"cannot store the encoded text: {err}") from None
    return _stream(*store.open_store(base, **keys, verify=False))


def _stream(ids: np.ndarray, manifest: dict) -> TokenStream:
    return TokenStream(ids=ids, num_chars=manifest["num_chars"], num_words=manifest["num_words"],
                       num_unk=manifest["num_unk"])


def _in_memory(split, tokenizer: Tokenizer) -> TokenStream:
    dtype = np.dtype(store.dtype_name(tokenizer.vocab_size))
    parts, chars, words, unk = [], 0, 0, 0
    for chunk in _encoded_chunks(split, tokenizer):
        parts.append(chunk.ids.astype(dtype))
        chars, words, unk = chars + chunk.num_chars, words + chunk.num_words, unk + chunk.num_unk
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    return TokenStream(ids=ids, num_chars=chars, num_words=words, num_unk=unk)


def _encoded_chunks(split, tokenizer: Tokenizer) -> Iterator[store.Chunk]:
    """The split encoded about `_CHUNK_CHARS` characters at a time, as store chunks.

    Rows are batched (Hugging Face tokenizers encode a batch in parallel) but a
    chunk never holds more than its rows: the split is never one string or one list.
    """
    pending: list[str] = []
    size = 0
    for text in iter_texts(split):
        pending.append(row_text(text))
        size += len(pending[-1])
        if size >= _CHUNK_CHARS:
            yield _encode_rows(pending, tokenizer)
            pending, size = [], 0
    if pending:
        yield _encode_rows(pending, tokenizer)


def _encode_rows(texts: list[str], tokenizer: Tokenizer) -> store.Chunk:
    rows = tokenizer.encode_batch(texts)
    # One numpy array per row (C-speed conversion), joined: never a Python list of the whole chunk.
    ids = np.concatenate([np.asarray(row, dtype=np.int64) for row in rows]) if rows else np.zeros(0, np.int64)
    if type(tokenizer).count_unk is Tokenizer.count_unk:  # the default rule: ids equal to unk_id
        unk = 0 if tokenizer.unk_id is None else int(np.count_nonzero(ids == tokenizer.unk_id))
    else:  # a tokenizer with its own rule keeps it
        unk = sum(tokenizer.count_unk(row) for row in rows)
    return store.Chunk(ids=ids, num_chars=sum(map(len, texts)), num_words=sum(len(t.split()) for t in texts),
                       num_unk=unk)


def batchify(ids, batch_size: int, rank: int = 0, world_size: int = 1):
    """Cut a stream (N,) into `batch_size` contiguous columns -> (B, N // B).

    With the alphabet as the stream and B = 4:

        a b c d e f g h i j k l m n o p q r s t u v w x y z
        ->  row 0: a b c d e f
            row 1: g h i j k l
            row 2: m n o p q r
            row 3: s t u v w x      (y z dropped: they do not fill a row)

    Each row is read left to right, window by window, with its own recurrent
    state. For data-parallel training every process takes `batch_size` rows of
    a (world_size * batch_size)-row layout, so no two processes share a token:
    with world_size = 2 and B = 2 above, rank 0 reads rows 0-1 and rank 1 rows 2-3.

    `ids` is a tensor or a numpy array (a memory-mapped store); the result is a
    view of the same kind, nothing is copied.
    """
    rows = batch_size * world_size
    length = len(ids) // rows
    if length < 2:
        raise CorpusError(
            f"the training text is too short: {len(ids)} tokens cannot fill "
            f"{rows} rows of at least 2 tokens; use a longer text or a smaller TrainConfig.batch_size"
        )
    table = ids[: rows * length].reshape(rows, length)  # (world_size * B, L)
    return table[rank * batch_size : (rank + 1) * batch_size]  # (B, L)


def windows(table, seq_len: int, start: int = 0,
            device: torch.device | None = None) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield (position, inputs (B, T), targets (B, T)) down the columns of `table`.

    Targets are the inputs shifted by one token. The last window may be shorter
    than `seq_len`. `start` resumes in the middle of an epoch. A numpy table (a
    view of the token store) is read one (B, T + 1) block per window, copied into
    an int64 tensor and, for a `device`, moved there; a tensor table is sliced as
    it is. For a GPU the block goes through pinned (page-locked) host memory with a
    non-blocking copy, so the copy does not wait for the host and the GPU's queue
    of work is not drained by it (PyTorch's caching host allocator reuses the
    pinned blocks; see the "pin_memory" notes of torch.utils.data).
    """
    length = table.shape[1]
    for pos in range(start, length - 1, seq_len):
        t = min(seq_len, length - 1 - pos)
        if isinstance(table, torch.Tensor):
            yield pos, table[:, pos : pos + t], table[:, pos + 1 : pos + 1 + t]
            continue
        block = torch.from_numpy(np.array(table[:, pos : pos + t + 1], dtype=np.int64))  # (B, T + 1)
        if device is not None and device.type == "cuda":
            block = block.pin_memory().to(device, non_blocking=True)
        elif device is not None:
            block = block.to(device)
        yield pos, block[:, :t], block[:, 1:]


def windows_per_epoch(table, seq_len: int) -> int:
    return -(-(table.shape[1] - 1) // seq_len)  # ceil((L - 1) / T)
