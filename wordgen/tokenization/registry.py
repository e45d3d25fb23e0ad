"""The tokenizer registry: spec strings such as ``word:min_freq=2`` or ``bpe:8000``, plugins, loading.

`register_tokenizer` plugs in a student's class under a new spec name (or an installed
package does, through the ``wordgen.tokenizers`` entry-point group); it refuses a class
that lacks any member of `Tokenizer.CONTRACT`. `train_tokenizer` turns a spec into a
trained tokenizer; `load_tokenizer` / `tokenizer_from_dict` read one back.

Deliberately not here: what any tokenizer does with text (char.py, word.py, hf.py),
and no unregistering (a notebook that re-runs a cell simply registers again).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import re
from typing import Any, Iterable

from wordgen import _io
from wordgen.errors import TokenizerError
from wordgen.tokenization.base import Tokenizer, existing_file
from wordgen.tokenization.char import CharTokenizer
from wordgen.tokenization.hf import BPETokenizer, HFTokenizer
from wordgen.tokenization.word import WordTokenizer

_REGISTRY: dict[str, type] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
    "hf": HFTokenizer,
}
_BUILTIN = frozenset(_REGISTRY)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _missing_members(cls: type) -> list[str]:
    """The members of `Tokenizer.CONTRACT` that `cls` does not implement, in contract order."""
    # A Tokenizer subclass has every name (the base defines them) but may leave some
    # abstract; any other class must define them all itself.
    abstract = getattr(cls, "__abstractmethods__", frozenset())
    return [m for m in Tokenizer.CONTRACT if m in abstract or not hasattr(cls, m)]


def register_tokenizer(name: str, cls: type) -> None:
    """Make `cls` available as tokenizer spec `name` (and loadable by `load_tokenizer`).

    `cls` should subclass `Tokenizer` (and implement its abstract methods); any other
    class must provide every member of `Tokenizer.CONTRACT` itself, as methods or
    class-level properties, or it is refused here rather than failing later in the
    middle of a training run. Its `kind` is set to `name` when the class does not
    define one. Re-registering one of your own names replaces it (handy when a
    notebook cell runs twice); built-in names are taken.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise TokenizerError(
            f"tokenizer name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
        )
    if name in _BUILTIN:
        raise TokenizerError(f"{name!r} is a built-in tokenizer; register yours under another name")
    if not isinstance(cls, type):
        raise TokenizerError(f"register_tokenizer needs a class, got {type(cls).__name__} {cls!r}")
    missing = _missing_members(cls)
    if missing and issubclass(cls, Tokenizer):
        raise TokenizerError(f"{cls.__name__} does not implement {', '.join(missing)}, which wordgen calls")
    if missing:
        inherited = [m for m in Tokenizer.CONTRACT if m not in Tokenizer.__abstractmethods__]
        raise TokenizerError(
            f"{cls.__name__} lacks {', '.join(missing)}, which wordgen calls on every tokenizer; add them, "
            f"or subclass wordgen.tokenization.Tokenizer to inherit {', '.join(inherited)}"
        )
    # Only the class's own `kind` counts: a subclass of WordTokenizer inherits "word",
    # and saving it under that name would load it back as a plain WordTokenizer.
    own_kind = cls.__dict__.get("kind")
    if own_kind is None:
        cls.kind = name
    elif own_kind != name:
        raise TokenizerError(
            f"{cls.__name__}.kind is {own_kind!r} but you registered it as {name!r}; use the same name"
        )
    _REGISTRY[name] = cls


ENTRY_POINT_GROUP = "wordgen.tokenizers"


def _is_known(name: str) -> bool:
    """True if `name` is registered, registering it first from an installed plugin.

    A package can offer tokenizers without any import by the user: it declares
    `[project.entry-points."wordgen.tokenizers"] mine = "mypkg.tok:MyTokenizer"`
    and `--tokenizer mine` then works in every wordgen command.
    """
    if name in _REGISTRY:
        return True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        register_tokenizer(name, entry.load())
        return True
    return False


def available_tokenizers() -> list[str]:
    """Spec names that `train_tokenizer` accepts: the built-ins, then registered ones."""
    return list(_REGISTRY)


def _unknown_name(name: str) -> TokenizerError:
    return TokenizerError(
        f"unknown tokenizer {name!r}; available: {', '.join(_REGISTRY)} "
        "(add your own with register_tokenizer)"
    )


_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


def _parse_value(text: str) -> Any:
    # Spec values arrive as text; turn the ones that look like numbers, booleans or
    # "none" into Python values, and leave everything else a string.
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    return text


def parse_tokenizer_spec(spec: str) -> tuple[str, dict]:
    """Split a spec string into (name, options).

    ``char`` -> ("char", {});  ``word:min_freq=2,max_vocab=10000`` -> ("word", {...});
    ``bpe:8000`` -> ("bpe", {"vocab_size": 8000}) (a bare value sets the class's
    `spec_shorthand` option); ``hf:/path/tokenizer.json`` -> ("hf", {"path": ...}) (a
    path takes everything after the colon, commas and '=' included). Values that look
    like an int, float, bool or none are converted. Whether the options suit the
    tokenizer is checked by `train_tokenizer`.
    """
    if not isinstance(spec, str):
        raise TokenizerError(f"a tokenizer spec must be a string like 'word' or 'bpe:8000', got {spec!r}")
    text = spec.strip()
    if not text:
        raise TokenizerError(f"empty tokenizer spec; use one of: {', '.join(_REGISTRY)}")
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise TokenizerError(
            f"cannot read tokenizer spec {spec!r}: expected NAME or NAME:key=value,... such as 'word:min_freq=2'"
        )
    if not _is_known(name):
        raise _unknown_name(name)
    if not colon:
        return name, {}
    rest = rest.strip()
    if not rest:
        raise TokenizerError(f"tokenizer spec {spec!r} has nothing after ':'")
    shorthand = getattr(_REGISTRY[name], "spec_shorthand", None)
    if shorthand == "path":
        return name, {"path": rest[len("path="):] if rest.startswith("path=") else rest}
    if "=" not in rest:
        if shorthand is None:
            raise TokenizerError(
                f"tokenizer spec {spec!r}: the {name} tokenizer takes key=value options, e.g. '{name}:key=value'"
            )
        return name, {shorthand: _parse_value(rest)}
    options: dict[str, Any] = {}
    for item in rest.split(","):
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not _KEY_RE.fullmatch(key) or not value:
            raise TokenizerError(
                f"cannot read option {item.strip()!r} in tokenizer spec {spec!r}: expected key=value"
            )
        if key in options:
            raise TokenizerError(f"option {key!r} is given twice in tokenizer spec {spec!r}")
        options[key] = _parse_value(value)
    return name, options


def train_tokenizer(spec: str, texts: Iterable[str]) -> Tokenizer:
    """Parse `spec` and train that tokenizer on `texts` (a list, a dataset column, a generator)."""
    name, options = parse_tokenizer_spec(spec)
    cls = _REGISTRY[name]
    # Check the option names against the signature before calling, instead of
    # catching TypeError from the call: that would also swallow real bugs inside it.
    try:
        inspect.signature(cls.train_from_texts).bind(texts, **options)
    except TypeError:
        params = list(inspect.signature(cls.train_from_texts).parameters.values())[1:]
        accepted = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        unknown = sorted(set(options) - set(accepted))
        what = f"unknown option {', '.join(map(repr, unknown))}" if unknown else f"bad options {options!r}"
        takes = f"it accepts: {', '.join(accepted)}" if accepted else "it takes no options"
        raise TokenizerError(f"{what} for the {name} tokenizer; {takes}") from None
    return cls.train_from_texts(texts, **options)


def matches_spec(tokenizer: Tokenizer, spec: str) -> bool:
    """Whether `tokenizer` is of the spec's kind, with the spec's options wherever its `to_dict` records them.

    For caches keyed by a spec: a file that was swapped or damaged but still parses
    must not be used, or a run would train on another vocabulary without a word said.
    """
    name, options = parse_tokenizer_spec(spec)
    saved = tokenizer.to_dict()
    return tokenizer.kind == name and all(saved.get(key, value) == value for key, value in options.items())


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from `to_dict()` output (what `load_tokenizer` does after reading).

    wordgen's own format names its kind and goes to the registered class; a Hugging Face
    dict becomes a `BPETokenizer` when it has wordgen's BPE recipe, else an `HFTokenizer`.
    """
    if not isinstance(d, dict):
        raise TokenizerError(f"a tokenizer file must hold a JSON object, not a {type(d).__name__}")
    if "wordgen_tokenizer" in d:
        kind = d["wordgen_tokenizer"]
        if not isinstance(kind, str) or not _is_known(kind):
            raise TokenizerError(
                f"this tokenizer was saved by a tokenizer class registered as {kind!r}; "
                f"call register_tokenizer({kind!r}, YourClass), or import the module that does, "
                f"before loading it"
            )
        return _REGISTRY[kind].from_dict(d)
    if "model" in d:
        cls = BPETokenizer if BPETokenizer.looks_like_wordgen_bpe(d) else HFTokenizer
        return cls.from_dict(d)
    raise TokenizerError(
        "not a tokenizer: the JSON has neither 'wordgen_tokenizer' (wordgen's format) nor 'model' (Hugging Face's)"
    )


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer file written by `Tokenizer.save` (or any Hugging Face tokenizer.json)."""
    path = existing_file(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerError(f"{str(path)!r} is not a valid JSON tokenizer file: {_io.first_line(e)}") from None
    except OSError as e:
        raise TokenizerError(f"cannot read tokenizer file {str(path)!r}: {_io.first_line(e)}") from None
    try:
        return tokenizer_from_dict(d)
    except TokenizerError as e:
        raise TokenizerError(f"{str(path)!r}: {e}") from None
