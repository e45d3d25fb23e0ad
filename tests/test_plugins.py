"""User tokenizers: the plugin contract, `--plugin MODULE`, installed entry points, and a
hand-written (non-subclass) tokenizer through training, checkpoint and generation."""

import json
import string
import sys

import pytest
from helpers import one_line_message, tiny_flags, tiny_train_config

from wordgen.cli import main
from wordgen.errors import TokenizerError
from wordgen.generation.decode import generate
from wordgen.tokenization import Tokenizer, register_tokenizer, registry, train_tokenizer
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train

PLUGIN = '''
import wordgen

class Lowercase(wordgen.WordTokenizer):
    @classmethod
    def train_from_texts(cls, texts, **options):
        return super().train_from_texts((t.lower() for t in texts), **options)

    def encode(self, text):
        return super().encode(text.lower())

wordgen.register_tokenizer("{name}", Lowercase)
'''

TINY = tiny_flags(embedding_dim=8, hidden_size=8, batch_size=2, max_steps=2, quiet=True)


@pytest.fixture
def clean_registry():
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


class Letters:
    """A student's tokenizer written from scratch, without subclassing wordgen's Tokenizer.

    Text is lower-cased; the vocabulary is <unk>, newline, space and the letters a-z seen
    in training. Anything else (digits, punctuation, accents) is <unk>, decoded as "?".
    Every member of Tokenizer.CONTRACT is written out by hand.
    """

    UNK = "<unk>"

    def __init__(self, letters):
        self._itos = [self.UNK, "\n", " ", *letters]
        self._stoi = {t: i for i, t in enumerate(self._itos)}

    @classmethod
    def train_from_texts(cls, texts):
        seen = set()
        for text in [texts] if isinstance(texts, str) else texts:
            seen.update(c for c in text.lower() if c in string.ascii_lowercase)
        if not seen:
            raise TokenizerError("letters: the training text has no letters a-z")
        return cls(sorted(seen))

    @classmethod
    def from_dict(cls, d):
        return cls(d["letters"])

    def to_dict(self):
        return {"wordgen_tokenizer": self.kind, "version": 1, "letters": self._itos[3:]}

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f)

    def encode(self, text):
        if not isinstance(text, str):
            raise TokenizerError(f"letters: can only encode a string, got {type(text).__name__}")
        # One id per character of the original text, so unk_pieces can line up with it.
        return [self._stoi.get(c.lower(), 0) for c in text]

    def encode_batch(self, texts):
        return [self.encode(text) for text in texts]

    def decode(self, ids):
        return "".join("?" if i == 0 else self._itos[i] for i in map(self._check_id, ids))

    def _check_id(self, i):
        if isinstance(i, float) or not 0 <= int(i) < self.vocab_size:
            raise TokenizerError(f"letters: token id {i!r} is outside 0..{self.vocab_size - 1}")
        return int(i)

    @property
    def vocab_size(self):
        return len(self._itos)

    def id_to_token(self, i):
        return self._itos[self._check_id(i)]

    def token_to_id(self, token):
        return self._stoi.get(token)

    @property
    def special_tokens(self):
        return [self.UNK]

    @property
    def unk_id(self):
        return 0

    def count_unk(self, ids):
        return sum(1 for i in ids if int(i) == 0)

    def unk_pieces(self, text):
        return [c for c in text if self._stoi.get(c.lower(), 0) == 0]


def _without(member):
    """A copy of Letters that lacks `member`: a plugin written against an older, smaller contract."""
    skip = {member, "kind", "__dict__", "__weakref__"}
    return type(f"LettersWithout_{member}", (), {k: v for k, v in vars(Letters).items() if k not in skip})


# ---------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------


def test_hand_written_tokenizer_trains_saves_loads_and_generates(tmp_path, book, clean_registry):
    register_tokenizer("letters", Letters)
    out = tmp_path / "ckpt"
    result = train(tiny_train_config(book, out, tokenizer="letters", max_steps=3))
    saved = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["wordgen_tokenizer"] == "letters"  # Letters.save wrote it, kind set by register
    bundle = Bundle.load(out)
    assert type(bundle.tokenizer) is Letters
    assert bundle.tokenizer.to_dict() == result.bundle.tokenizer.to_dict()
    (text,) = generate(bundle.model, bundle.tokenizer, "Romeo", max_tokens=12)
    # One character per token, and generation never samples <unk> ("?").
    assert text.startswith("Romeo") and len(text) == len("Romeo") + 12
    assert set(text[len("Romeo"):]) <= set(string.ascii_lowercase + " \n")


@pytest.mark.parametrize("member", ["unk_pieces", "save", "encode_batch", "special_tokens", "vocab_size"])
def test_incomplete_plugin_is_refused_naming_what_is_missing(member, clean_registry):
    partial = _without(member)
    with pytest.raises(TokenizerError) as excinfo:
        register_tokenizer("partial", partial)
    assert f"LettersWithout_{member} lacks {member}, which wordgen calls" in one_line_message(excinfo)
    assert "partial" not in registry._REGISTRY and "kind" not in vars(partial)  # left untouched


def test_subclass_with_abstract_methods_left_is_refused(clean_registry):
    class Half(Tokenizer):
        def encode(self, text):
            return []

    with pytest.raises(TokenizerError, match=r"Half does not implement train_from_texts, from_dict, to_dict, decode"):
        register_tokenizer("half", Half)


def test_the_contract_is_what_the_base_class_provides():
    # Every member is on Tokenizer, so a subclass gets the non-abstract ones for free.
    assert all(hasattr(Tokenizer, m) for m in Tokenizer.CONTRACT)
    assert len(set(Tokenizer.CONTRACT)) == len(Tokenizer.CONTRACT)
    assert set(Tokenizer.__abstractmethods__) <= set(Tokenizer.CONTRACT)


# ---------------------------------------------------------------------------------------
# Reaching the command line
# ---------------------------------------------------------------------------------------


def test_plugin_module_from_the_current_folder(tmp_path, book, monkeypatch, capsys, clean_registry):
    (tmp_path / "lowertok.py").write_text(PLUGIN.format(name="lower"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    out = tmp_path / "ckpt"
    assert main(["--plugin", "lowertok", "train", "--corpus", str(book), "--tokenizer", "lower:max_vocab=30",
                 "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["--plugin", "lowertok", "generate", str(out), "--prompt", "ROMEO", "--max-tokens", "4"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO") and text == text[:5] + text[5:].lower()  # the continuation is lower case


def test_unknown_plugin_is_a_usage_error(capsys):
    assert main(["--plugin", "no_such_module_here", "corpora"]) == 2
    assert capsys.readouterr().err.startswith("wordgen: error: cannot import plugin")


def test_installed_entry_point_is_found_by_name(tmp_path, monkeypatch, clean_registry):
    # A real distribution on sys.path: importlib.metadata reads its entry_points.txt.
    (tmp_path / "shout_tok.py").write_text(PLUGIN.format(name="shout"))
    info = tmp_path / "shout_tok-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-tok\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wordgen.tokenizers]\nshout = shout_tok:Lowercase\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    tokenizer = train_tokenizer("shout", ["Hello hello World\n"])
    assert type(tokenizer).__name__ == "Lowercase" and tokenizer.kind == "shout"
    assert tokenizer.encode("HELLO") == tokenizer.encode("hello")
