"""Everything a run needs before its first step: the corpus, the tokenizer, the token streams.

`prepare(config)` loads the corpus (or takes a DatasetDict handed in), trains the
tokenizer (or takes one handed in, or finds it in the cache) and encodes the train
and validation splits (cached too). train() calls it; compare and the benchmarks
call it to prepare once and hand the pieces to several runs.

Not here: the model, the optimizer, the loop (train.py).
"""

from __future__ import annotations

from pathlib import Path

from wordgen.config import TrainConfig
from wordgen.corpora import load_corpus
from wordgen.data import content_key, default_cache_dir, encode_split, split_text
from wordgen.errors import ConfigError, WordgenError
from wordgen.tokenization import Tokenizer, load_tokenizer, matches_spec, train_tokenizer


def prepare(config: TrainConfig, tokenizer: Tokenizer | None = None, dataset=None):
    """Load the corpus, train (or reuse) the tokenizer, encode train and validation.

    A `dataset` (DatasetDict with train and validation splits) or a `tokenizer`
    handed in is used as it is: the corpus is then not loaded, the tokenizer not
    trained. Trained tokenizers and encoded streams are cached
    (wordgen.data.default_cache_dir), keyed by the training text and the tokenizer
    spec / the tokenizer itself, so a second run on the same text starts in well
    under a second.
    """
    if dataset is None:
        dataset = load_corpus(config.corpus, seed=config.seed, stage_directions=config.stage_directions)
    missing = [name for name in ("train", "validation") if name not in dataset]
    if missing:
        raise ConfigError(f"the dataset handed to train() has no {' or '.join(missing)} split")
    cache = default_cache_dir()
    if tokenizer is None:
        tokenizer = _cached_tokenizer(config.tokenizer, dataset["train"], cache)
    train_stream = encode_split(dataset["train"], tokenizer, cache_dir=cache)
    val_stream = encode_split(dataset["validation"], tokenizer, cache_dir=cache)
    return dataset, tokenizer, train_stream, val_stream


def _cached_tokenizer(spec: str, split, cache) -> Tokenizer:
    # hf:PATH loads a file that may change under the same spec: never cached.
    if cache is None or spec.startswith("hf:"):
        return train_tokenizer(spec, split["text"])
    path = Path(cache) / "tokenizers" / f"{content_key(split_text(split), spec)}.json"
    if path.is_file():
        try:
            cached = load_tokenizer(path)  # JSON: a damaged file is refused, it cannot run code
        except WordgenError:  # damaged: train again and overwrite
            cached = None
        if cached is not None and matches_spec(cached, spec):  # a swapped file is not trusted
            return cached
    tokenizer = train_tokenizer(spec, split["text"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)  # written through a temporary file and a rename
    return tokenizer
