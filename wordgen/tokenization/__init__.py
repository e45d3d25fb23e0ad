"""Tokenizers: text <-> token ids, one interface for characters, words, BPE and any tokenizer.json.

What it does
------------
* `Tokenizer` (base.py) is the contract every part of wordgen codes against:
  `Tokenizer.CONTRACT` lists each member wordgen calls and why.
* Four built-in kinds, picked by a short spec string (`parse_tokenizer_spec`):

  ==========  ===================  ==============================================
  spec        class                vocabulary
  ==========  ===================  ==============================================
  ``char``    `CharTokenizer`      ``<unk>`` + every character seen in training
  ``word``    `WordTokenizer`      ``<unk>``, ``\\n`` + the most frequent words
  ``bpe:N``   `BPETokenizer`       byte-level BPE of size N (Hugging Face)
  ``hf:PATH`` `HFTokenizer`        whatever the tokenizer.json at PATH holds
  ==========  ===================  ==============================================

* `register_tokenizer` (registry.py) plugs in a student's own class under a new spec
  name, or an installed package does through the ``wordgen.tokenizers`` entry points.
* `save` writes one JSON file. Char and word tokenizers use a small versioned format
  (``{"wordgen_tokenizer": "word", "version": 1, ...}``); BPE and hf tokenizers write the
  Hugging Face ``tokenizer.json`` itself, so ``tokenizers.Tokenizer.from_file`` opens it.

What it deliberately does not do
--------------------------------
* No normalisation (lower-casing, Unicode NFC, ...): case and spelling are part of the
  text the model learns. A wrapped Hugging Face tokenizer keeps its own normaliser.
* No beginning/end-of-text or padding tokens: the language model reads one long stream
  (see `wordgen.data`), so the only special token wordgen itself adds is ``<unk>``.
* No printing, no progress bars, no downloads: a tokenizer.json comes from a local file.

Only hf.py imports Hugging Face ``tokenizers``; the package is called ``tokenization``
because a local ``tokenizers`` module would shadow that library.
"""

from wordgen.tokenization.base import FORMAT_VERSION, START_TEXT, UNK, Tokenizer
from wordgen.tokenization.char import CharTokenizer
from wordgen.tokenization.hf import BPETokenizer, HFTokenizer
from wordgen.tokenization.registry import (
    ENTRY_POINT_GROUP,
    available_tokenizers,
    load_tokenizer,
    matches_spec,
    parse_tokenizer_spec,
    register_tokenizer,
    tokenizer_from_dict,
    train_tokenizer,
)
from wordgen.tokenization.word import WordTokenizer

__all__ = [
    "START_TEXT",
    "ENTRY_POINT_GROUP",
    "FORMAT_VERSION",
    "UNK",
    "Tokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "HFTokenizer",
    "BPETokenizer",
    "register_tokenizer",
    "available_tokenizers",
    "parse_tokenizer_spec",
    "train_tokenizer",
    "load_tokenizer",
    "tokenizer_from_dict",
    "matches_spec",
]
