"""Turn a corpus split into one token stream, and cut streams into TBPTT batches.

A split (a `datasets.Dataset` with a `text` column) is tokenized with
`Dataset.map(batched=True)` and concatenated into a single `TokenStream`: the
token ids plus the character and word counts of the *original* text, which
evaluation needs for bits per character and perplexity per word. Each row is
taken with a trailing newline, so rows never run into each other and the
counts describe exactly the text that was encoded.

Batching follows the classic truncated back-propagation-through-time layout
(as in pytorch/examples' word_language_model): the stream is cut into B
parallel columns, windows of T tokens slide down them, and the recurrent state
is carried from one window to the next. Every token is read once per epoch,
unlike one-window-per-sample schemes that re-read each token T times.

Encoded streams can be kept in a cache folder (`cache_dir`, see
`default_cache_dir`): one file per (text of the split, tokenizer with all its
settings), named by a hash of both, so a changed text, vocabulary or setting
simply misses and the file is rebuilt; nothing is ever invalidated by date.

Not here: shuffling (it would break the carried state), padding, or files on
disk beyond that cache -- `TokenStream` is the small interface a
memory-mapped or streamed version would implement.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch

from wordgen._io import atomic_write, expand
from wordgen.errors import CorpusError
from wordgen.tokenization import Tokenizer


@dataclass
class TokenStream:
    ids: torch.Tensor  # (N,) int64, the whole split as one sequence
    num_chars: int  # characters of the original text (rows + their newlines)
    num_words: int  # whitespace-separated words of the original text
    num_unk: int  # ids equal to the tokenizer's <unk> (0 if it has none)

    def __len__(self) -> int:
        return self.ids.numel()

    @property
    def chars_per_token(self) -> float:
        return self.num_chars / max(1, len(self))


def row_text(text: str) -> str:
    """The exact text a row contributes to a stream: itself, ending in one newline."""
    return text if text.endswith("\n") else text + "\n"


def split_text(split: datasets.Dataset) -> str:
    """The original text of a split, exactly as `encode_split` sees it."""
    return "".join(row_text(t) for t in split["text"])


def _fingerprint(split: datasets.Dataset, tokenizer: Tokenizer) -> str:
    # datasets hashes the mapped function to name its cache; a tokenizer object
    # hashes slowly and unreliably, so name the result by what determines it.
    spec = json.dumps(tokenizer.to_dict(), sort_keys=True).encode()
    return hashlib.sha256(split._fingerprint.encode() + spec).hexdigest()[:32]


CACHE_VERSION = 1  # bump when the cached layout or the row_text rule changes


def default_cache_dir() -> Path | None:
    """$WORDGEN_CACHE, or ~/.cache/wordgen; WORDGEN_CACHE=off turns caching off."""
    value = os.environ.get("WORDGEN_CACHE")
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else Path(value)
    return Path.home() / ".cache" / "wordgen"


def content_key(*parts: str | bytes) -> str:
    """A hex digest naming a cache entry by everything that determines it."""
    digest = hashlib.sha256(f"wordgen-cache-v{CACHE_VERSION}".encode())
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)  # length-prefixed: no ambiguous joins
    return digest.hexdigest()[:40]


def encode_split(split: datasets.Dataset, tokenizer: Tokenizer, cache_dir: str | Path | None = None) -> TokenStream:
    """Tokenize every row of `split` and concatenate the ids into one stream.

    With `cache_dir`, the stream is read from (or written to) a file named by
    the split's text and the tokenizer's full description (`to_dict`).
    """
    if cache_dir is None:
        return _encode_split(split, tokenizer)
    spec = json.dumps(tokenizer.to_dict(), sort_keys=True)
    # Expanded here as atomic_write expands it, so a "~/..." cache is read where it is written.
    path = expand(cache_dir) / "streams" / f"{content_key(split_text(split), spec)}.pt"
    if path.is_file():
        try:
            d = torch.load(path, weights_only=True)  # tensors and ints only, never code
            return TokenStream(ids=d["ids"].long(), num_chars=d["num_chars"], num_words=d["num_words"],
                               num_unk=d["num_unk"])
        except Exception:  # a damaged cache file is rebuilt, never trusted
            path.unlink(missing_ok=True)
    stream = _encode_split(split, tokenizer)
    small = stream.ids.to(torch.int32) if tokenizer.vocab_size < 2**31 else stream.ids  # half the file
    record = {"ids": small, "num_chars": stream.num_chars, "num_words": stream.num_words, "num_unk": stream.num_unk}
    atomic_write(path, lambda tmp: torch.save(record, tmp))
    return stream


def _encode_split(split: datasets.Dataset, tokenizer: Tokenizer) -> TokenStream:

    def encode_rows(batch: dict) -> dict:
        texts = [row_text(t) for t in batch["text"]]
        ids = tokenizer.encode_batch(texts)
        return {
            "ids": ids,
            "num_chars": [len(t) for t in texts],
            "num_words": [len(t.split()) for t in texts],
            "num_unk": [tokenizer.count_unk(row) for row in ids],
        }

    # The library never prints (the CLI decides what the user sees), and a bar is printing.
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        encoded = split.map(
            encode_rows,
            batched=True,
            remove_columns=split.column_names,
            new_fingerprint=_fingerprint(split, tokenizer),
        )
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    rows = encoded["ids"]
    # One numpy buffer filled row by row: a Python list of every id would cost several
    # times the memory of the int64 buffer, for no use.
    ids = torch.from_numpy(np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows
                           else np.zeros(0, dtype=np.int64))
    return TokenStream(
        ids=ids,
        num_chars=sum(encoded["num_chars"]),
        num_words=sum(encoded["num_words"]),
        num_unk=sum(encoded["num_unk"]),
    )


def batchify(ids: torch.Tensor, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Cut a stream (N,) into `batch_size` contiguous columns -> (B, N // B).

    With the alphabet as the stream and B = 4:

        a b c d e f g h i j k l m n o p q r s t u v w x y z
        ->  row 0: a b c d e f
            row 1: g h i j k l
            row 2: m n o p q r
            row 3: s t u v w x      (y z dropped: they do not fill a row)

    Each row is read left to right, window by window, with its own recurrent
    state. For data-parallel training every process takes `batch_size` rows of
    a (world_size * batch_size)-row layout, so no two processes share a token.
    """
    rows = batch_size * world_size
    length = ids.numel() // rows
    if length < 2:
        raise CorpusError(
            f"the training text is too short: {ids.numel()} tokens cannot fill "
            f"{rows} rows of at least 2 tokens; use a longer text or a smaller --batch-size"
        )
    table = ids[: rows * length].view(rows, length)  # (world_size * B, L)
    return table[rank * batch_size : (rank + 1) * batch_size]  # (B, L)


def windows(table: torch.Tensor, seq_len: int, start: int = 0) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield (position, inputs (B, T), targets (B, T)) down the columns of `table`.

    Targets are the inputs shifted by one token. The last window may be shorter
    than `seq_len`. `start` resumes in the middle of an epoch.
    """
    length = table.size(1)
    for pos in range(start, length - 1, seq_len):
        t = min(seq_len, length - 1 - pos)
        yield pos, table[:, pos : pos + t], table[:, pos + 1 : pos + 1 + t]


def windows_per_epoch(table: torch.Tensor, seq_len: int) -> int:
    return -(-(table.size(1) - 1) // seq_len)  # ceil((L - 1) / T)
