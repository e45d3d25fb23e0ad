"""wordgen: word-level text generation with pluggable tokenizers.

The public API in one place; see README.md and docs/ for a tour. Names are imported lazily
(PEP 562 module `__getattr__`): `import wordgen` costs almost nothing, and torch,
datasets and tokenizers load only when a name that needs them is first used, so
`wordgen --help` and `wordgen corpora` start without torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Bundle": "wordgen.training.checkpoint",
    "ModelConfig": "wordgen.config", "SampleConfig": "wordgen.config", "TrainConfig": "wordgen.config",
    "list_builtin_corpora": "wordgen.corpora", "load_corpus": "wordgen.corpora",
    "TokenStream": "wordgen.data", "batchify": "wordgen.data", "encode_split": "wordgen.data",
    "resolve_device": "wordgen.device",
    "CheckpointError": "wordgen.errors", "ConfigError": "wordgen.errors", "CorpusError": "wordgen.errors",
    "DistributedError": "wordgen.errors", "StorageError": "wordgen.errors",
    "TokenizerError": "wordgen.errors", "WordgenError": "wordgen.errors",
    "Metrics": "wordgen.evaluate", "evaluate_split": "wordgen.evaluate", "evaluate_stream": "wordgen.evaluate",
    "evaluate_text": "wordgen.evaluate", "score_tokens": "wordgen.evaluate", "TokenScores": "wordgen.evaluate",
    "generate": "wordgen.generation.decode", "stream": "wordgen.generation.decode",
    "stream_steps": "wordgen.generation.decode", "Step": "wordgen.generation.decode",
    "LSTMLanguageModel": "wordgen.model",
    "BPETokenizer": "wordgen.tokenization", "CharTokenizer": "wordgen.tokenization",
    "HFTokenizer": "wordgen.tokenization", "Tokenizer": "wordgen.tokenization",
    "WordTokenizer": "wordgen.tokenization", "load_tokenizer": "wordgen.tokenization",
    "register_tokenizer": "wordgen.tokenization", "train_tokenizer": "wordgen.tokenization",
    "TrainResult": "wordgen.training.result", "train": "wordgen.training.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wordgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
