"""From a corpus spec to token streams: load the corpus, train (or find) the tokenizer, encode.

`prepare` is what `train()` runs before its first step; `prepare_together` is the
same for the processes of a multi-process run: the first process of each machine
fills the cache (tokenizer, token stores) while the others wait, then they find it
there, named by the text hashes rank 0 sends them, without reading the text at all.

Everything a second run on the same text needs is cached (wordgen._io.default_cache_dir):
the tokenizer under tokenizers/, keyed by the training text and the spec, the token
stores under streams/ (wordgen.store), keyed by the split's text and the tokenizer.
The texts stream through: a split is never joined into one string or list.

Not here: the training loop (train.py), the store's format (store.py), how a corpus is
read (corpora/).
"""

from __future__ import annotations

import json
from pathlib import Path

from wordgen.config import TrainConfig
from wordgen.corpora import load_corpus
from wordgen.data import content_key, default_cache_dir, encode_split, iter_texts, text_digest
from wordgen.distributed import Group
from wordgen.errors import ConfigError, WordgenError
from wordgen.tokenization import Tokenizer, load_tokenizer, matches_spec, train_tokenizer


def prepare(config: TrainConfig, tokenizer: Tokenizer | None = None, dataset=None, *,
            text_hashes: dict[str, str] | None = None):
    """Load the corpus, train (or reuse) the tokenizer, encode train and validation.

    A `dataset` (DatasetDict with train and validation splits) or a `tokenizer`
    handed in is used as it is: the corpus is then not loaded, the tokenizer not
    trained. Trained tokenizers and token stores are cached
    (wordgen._io.default_cache_dir), keyed by the text of the split and the tokenizer
    spec / the tokenizer itself, so a second run on the same text starts in well
    under a second. `text_hashes` ({"train": ..., "validation": ...}, as
    `data.text_digest` gives them) spares reading the text to name the cache
    entries (the other processes of a multi-process run get them from rank 0).
    """
    if dataset is None:
        dataset = corpus_for(config)
    missing = [name for name in ("train", "validation") if name not in dataset]
    if missing:
        raise ConfigError(f"the dataset handed to train() has no {' or '.join(missing)} split")
    cache = default_cache_dir()
    hashes = dict(text_hashes or {})
    if cache is not None:
        for name in ("train", "validation"):
            hashes.setdefault(name, text_digest(dataset[name]))
    if tokenizer is None:
        tokenizer = _cached_tokenizer(config.tokenizer, dataset["train"], cache, hashes.get("train"))
    train_stream = encode_split(dataset["train"], tokenizer, cache_dir=cache, text_hash=hashes.get("train"))
    val_stream = encode_split(dataset["validation"], tokenizer, cache_dir=cache, text_hash=hashes.get("validation"))
    return dataset, tokenizer, train_stream, val_stream


def corpus_for(config: TrainConfig):
    """The DatasetDict `config.corpus` names, split as `config` says."""
    return load_corpus(config.corpus, seed=config.seed, stage_directions=config.stage_directions,
                       streaming=config.streaming)


def _cached_tokenizer(spec: str, split, cache, text_hash: str | None) -> Tokenizer:
    # hf:PATH loads a file that may change under the same spec: never cached.
    if cache is None or spec.startswith("hf:"):
        return train_tokenizer(spec, iter_texts(split))
    path = Path(cache) / "tokenizers" / f"{content_key(text_hash or text_digest(split), spec)}.json"
    if path.is_file():
        try:
            cached = load_tokenizer(path)  # JSON: a damaged file is refused, it cannot run code
        except WordgenError:  # damaged: train again and overwrite
            cached = None
        if cached is not None and matches_spec(cached, spec):  # a swapped file is not trusted
            return cached
    tokenizer = train_tokenizer(spec, iter_texts(split))  # the texts stream through: never one list
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)  # written through a temporary file and a rename
    return tokenizer


def prepare_together(config: TrainConfig, tokenizer, dataset, group: Group):
    """`prepare`, with the first process of each machine filling the cache before the others read it.

    Rank 0 names the splits' text (their hashes) for everyone, so the other
    processes find the cache entries without reading the text at all.
    """
    if not group.distributed:
        return prepare(config, tokenizer, dataset)
    hashes = None
    if default_cache_dir() is not None:
        if group.is_main:
            dataset = dataset if dataset is not None else corpus_for(config)
            hashes = {name: text_digest(dataset[name]) for name in ("train", "validation")}
        hashes = _share_hashes(hashes, group)
    if group.local_rank == 0:
        prepared = prepare(config, tokenizer, dataset, text_hashes=hashes)
    group.wait_for_preparation()
    if group.local_rank != 0:
        prepared = prepare(config, tokenizer, dataset, text_hashes=hashes)
    tokenizer = prepared[1]
    group.check_same("tokenizer", json.dumps(tokenizer.to_dict(), sort_keys=True))
    return prepared


def _share_hashes(hashes: dict | None, group: Group) -> dict:
    """Rank 0's two hex SHA-256 digests (64 characters each) on every rank."""
    text = group.broadcast_text(hashes["train"] + hashes["validation"] if hashes else None, 128)
    return {"train": text[:64], "validation": text[64:]}
