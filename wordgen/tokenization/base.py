"""The tokenizer contract: the `Tokenizer` base class and the checks every tokenizer shares.

`Tokenizer.CONTRACT` names, once, every method and property the rest of wordgen calls
on a tokenizer; the registry refuses a plugin class that lacks one. The base class
gives working defaults for the members that can be written in terms of the others
(`encode_batch`, `special_tokens`, `unk_id`, `count_unk`, `unk_pieces`, `save`), so a
subclass writes only the abstract ones.

Deliberately not here: any concrete tokenizer, the registry and spec strings
(`registry.py`), and Hugging Face `tokenizers` (only `hf.py` imports it).
"""

from __future__ import annotations

import abc
import json
import operator
import os
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

from wordgen import _io
from wordgen.errors import StorageError, TokenizerError

# The context a model is given when a prompt is empty, in generation and in scoring alike:
# "a new line begins", which every tokenizer can encode.
START_TEXT = "\n"

UNK = "<unk>"

# Version of wordgen's own JSON format (char and word tokenizers). Bump it when the
# layout changes and teach `from_dict` to read the old one (minbpe's "minbpe v1" idea).
FORMAT_VERSION = 1

EMPTY_TEXT = "cannot train a tokenizer on empty text (the training texts are empty or only whitespace)"


def training_texts(texts: Iterable[str]) -> Iterator[str]:
    """Yield the training texts one by one, refusing anything that is not a string.

    A generator, so a corpus larger than memory streams through; one plain string is
    accepted as a one-text corpus (iterating it would give characters, which silently
    breaks every word into letters).
    """
    if isinstance(texts, str):
        texts = [texts]
    try:
        iterator = iter(texts)
    except TypeError:
        raise TokenizerError(
            f"training texts must be an iterable of strings, got {type(texts).__name__}"
        ) from None
    for text in iterator:
        if not isinstance(text, str):
            raise TokenizerError(f"training texts must be strings, got a {type(text).__name__}")
        yield text


def has_text(text: str) -> bool:
    """Whether `text` holds anything but whitespace (what a tokenizer can learn from)."""
    return text != "" and not text.isspace()


def check_text(text: object) -> str:
    """`text` itself when it is a string; TokenizerError otherwise."""
    if not isinstance(text, str):
        raise TokenizerError(f"can only encode a string, got a {type(text).__name__}")
    return text


def existing_file(path: str | os.PathLike) -> Path:
    """`path` (with `~` expanded) when it names a file; a TokenizerError saying what is wrong otherwise."""
    path = _io.expand(path)
    if not path.exists():
        raise TokenizerError(f"no tokenizer file at {str(path)!r}")
    if path.is_dir():
        raise TokenizerError(f"{str(path)!r} is a folder; give the path of the tokenizer.json inside it")
    return path


def _as_int(value: object, what: str) -> int:
    # operator.index accepts Python, NumPy and one-element torch integers but, unlike
    # int(), refuses floats: token id 3.7 is a bug upstream, not something to round.
    try:
        return operator.index(value)
    except TypeError:
        raise TokenizerError(f"{what} must be a whole number, got {value!r}") from None


class Tokenizer(abc.ABC):
    """Text <-> list of token ids, with a vocabulary of `vocab_size` ids 0..vocab_size-1.

    Subclasses implement the abstract methods; the other members of `CONTRACT` have
    working defaults. Build instances with the classmethods (`train_from_texts`,
    `from_dict`), not with flags on ``__init__``.
    """

    # Every member wordgen calls on a tokenizer, and who needs it. A plugin class that
    # does not subclass Tokenizer must provide all of them (register_tokenizer checks).
    # `kind` is not listed: register_tokenizer sets it from the registered name.
    CONTRACT: ClassVar[tuple[str, ...]] = (
        "train_from_texts",  # train_tokenizer: a spec string and texts -> a tokenizer
        "from_dict",  # load_tokenizer, and so Bundle.load: a checkpoint's tokenizer.json back
        "to_dict",  # the token-stream cache keys on it (data.py); save writes it
        "save",  # train and checkpoint write tokenizer.json into the checkpoint folder
        "encode",  # prompts, evaluation text, spelling costs in compare
        "encode_batch",  # whole dataset splits (data.encode_split), embeddings, benchmarks
        "decode",  # generation and streaming turn ids back into text
        "vocab_size",  # the model's input/output size; Bundle.load checks it against the model
        "id_to_token",  # the lab notebook shows the tokens of a line
        "token_to_id",  # tasks.embeddings looks words up; embeddings finds the special ids
        "special_tokens",  # embeddings leaves them out of "frequent words"
        "unk_id",  # generation never samples <unk>
        "count_unk",  # the <unk> rate reported beside perplexity; prompt warnings
        "unk_pieces",  # compare --unk-penalty charges the text hidden behind each <unk>
    )

    kind: ClassVar[str]  # registry / spec name: "char", "word", "bpe", "hf" or a user's name
    # The option a bare spec value sets: "bpe:8000" means vocab_size=8000. None: the
    # spec takes only key=value options.
    spec_shorthand: ClassVar[str | None] = None

    # -- construction ----------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def train_from_texts(cls, texts: Iterable[str], **options: Any) -> "Tokenizer":
        """Build a tokenizer from training texts; `options` come from the spec string."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        """Inverse of `to_dict`."""

    # -- text <-> ids ----------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text -> token ids. The empty string gives []."""

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Several texts at once (a loop here; Hugging Face tokenizers run in parallel)."""
        return [self.encode(text) for text in texts]

    @abc.abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text. Ids outside [0, vocab_size) raise TokenizerError."""

    # -- vocabulary ------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """Number of ids; every id is in range(vocab_size)."""

    @abc.abstractmethod
    def id_to_token(self, i: int) -> str:
        """The token string of id `i` (TokenizerError when out of range)."""

    @abc.abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of `token`, or None when it is not in the vocabulary."""

    @property
    def special_tokens(self) -> list[str]:
        """Tokens that stand for something other than their own text (here: ``<unk>``)."""
        return [UNK] if self.token_to_id(UNK) is not None else []

    @property
    def unk_id(self) -> int | None:
        """Id that unknown input maps to, or None when nothing is ever unknown."""
        return self.token_to_id(UNK)

    def count_unk(self, ids: Iterable[int]) -> int:
        """How many of `ids` are ``<unk>``.

        Reported beside perplexity: a closed vocabulary that maps rare words to
        ``<unk>`` makes the task easier than it looks.
        """
        unk = self.unk_id
        if unk is None:
            return 0
        return sum(1 for i in ids if operator.index(i) == unk)

    def unk_pieces(self, text: str) -> list[str]:
        """The pieces of `text` that `encode(text)` maps to ``<unk>``, one per ``<unk>``, in order.

        This default only knows the easy answer: when nothing in `text` becomes
        ``<unk>`` there are no pieces. Otherwise it cannot tell which text each
        ``<unk>`` hides, so it raises instead of guessing (a wrong guess would
        silently skew `wordgen compare --unk-penalty`); a tokenizer that can produce
        ``<unk>`` overrides it.
        """
        text = check_text(text)
        if self.unk_id is None or not self.count_unk(self.encode(text)):
            return []
        raise TokenizerError(
            f"the {getattr(self, 'kind', type(self).__name__)!r} tokenizer cannot tell which text its <unk> tokens stand for; "
            "give its class an unk_pieces(text) method"
        )

    # -- persistence -----------------------------------------------------------------
    @abc.abstractmethod
    def to_dict(self) -> dict:
        """A JSON-serialisable description that `from_dict` turns back into this tokenizer."""

    def save(self, path: str | os.PathLike) -> None:
        """Write `to_dict()` as one JSON file, atomically (a crash never leaves half a tokenizer)."""
        d = dict(self.to_dict())  # a copy: to_dict may hand out internal state
        # A user class that forgot the marker still loads back through load_tokenizer;
        # Hugging Face files must stay exactly HF's format (it rejects unknown keys).
        if "model" not in d:
            d.setdefault("wordgen_tokenizer", self.kind)
        try:
            _io.atomic_write_text(path, json.dumps(d, ensure_ascii=False, indent=2))
        except OSError as e:
            raise StorageError(
                f"cannot write tokenizer to {str(_io.expand(path))!r}: {_io.first_line(e)}"
            ) from None

    # -- helpers shared by subclasses ------------------------------------------------
    def _check_ids(self, ids: Sequence[int]) -> list[int]:
        """Plain Python ints, each in [0, vocab_size); TokenizerError otherwise."""
        n = self.vocab_size
        out = [_as_int(i, "a token id") for i in ids]
        for i in out:
            if not 0 <= i < n:
                raise TokenizerError(
                    f"token id {i} is outside this tokenizer's vocabulary (ids 0..{n - 1}); "
                    "was the model trained with a different tokenizer?"
                )
        return out

    @classmethod
    def _check_native_dict(cls, d: dict) -> None:
        """Reject a dict that is not this class's wordgen format (wrong kind or version)."""
        if not isinstance(d, dict):
            raise TokenizerError(f"a {cls.kind} tokenizer must be loaded from a dict, got {type(d).__name__}")
        kind = d.get("wordgen_tokenizer")
        if kind != cls.kind:
            raise TokenizerError(
                f"this is a {kind!r} tokenizer, not {cls.kind!r}: load it with load_tokenizer()"
            )
        version = d.get("version")
        if version != FORMAT_VERSION:
            raise TokenizerError(
                f"{cls.kind} tokenizer file has format version {version!r}; this wordgen reads "
                f"version {FORMAT_VERSION} (upgrade wordgen or retrain the tokenizer)"
            )

    def __repr__(self) -> str:
        # getattr: an instance of a class not registered yet has no `kind` (register_tokenizer's errors show it)
        return f"{type(self).__name__}(kind={getattr(self, 'kind', None)!r}, vocab_size={self.vocab_size})"


class ListVocabTokenizer(Tokenizer):
    """A tokenizer whose vocabulary is a plain list of token strings, id = position.

    The character and word tokenizers share this: the list and its reverse index,
    and the three look-ups the contract asks for. Subclasses still say how text is
    cut into tokens (encode / decode) and how the list is chosen (train_from_texts).
    """

    def __init__(self, tokens: Sequence[str]):
        self._itos = list(tokens)  # id -> token
        self._stoi = {t: i for i, t in enumerate(self._itos)}  # token -> id

    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    def id_to_token(self, i: int) -> str:
        return self._itos[self._check_ids([i])[0]]

    def token_to_id(self, token: str) -> int | None:
        return self._stoi.get(token)
