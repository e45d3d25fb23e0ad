"""wordgen: word-level text generation with pluggable tokenizers.

The public API in one place; see README.md for a tour.
"""

from wordgen.checkpoint import Bundle
from wordgen.config import ModelConfig, SampleConfig, TrainConfig
from wordgen.corpora import list_builtin_corpora, load_corpus
from wordgen.data import TokenStream, batchify, encode_split
from wordgen.errors import CheckpointError, ConfigError, CorpusError, TokenizerError, WordgenError
from wordgen.evaluate import Metrics, evaluate_split, evaluate_stream, evaluate_text
from wordgen.generate import generate, stream
from wordgen.model import LSTMLanguageModel, resolve_device
from wordgen.tokenization import (
    BPETokenizer,
    CharTokenizer,
    HFTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
    register_tokenizer,
    train_tokenizer,
)
from wordgen.train import TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "BPETokenizer", "Bundle", "CharTokenizer", "CheckpointError", "ConfigError", "CorpusError",
    "HFTokenizer", "LSTMLanguageModel", "Metrics", "ModelConfig", "SampleConfig", "TokenStream",
    "Tokenizer", "TokenizerError", "TrainConfig", "TrainResult", "WordTokenizer", "WordgenError",
    "batchify", "encode_split", "evaluate_split", "evaluate_stream", "evaluate_text", "generate",
    "list_builtin_corpora", "load_corpus", "load_tokenizer", "register_tokenizer", "resolve_device",
    "stream", "train", "train_tokenizer",
]
