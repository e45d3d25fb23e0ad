"""User tokenizers reach the command line: `--plugin MODULE` and installed entry points."""

import sys

import pytest

from wordgen import tokenization
from wordgen.cli import main

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

TINY = ["--embedding-dim", "8", "--hidden-size", "8", "--num-layers", "1", "--batch-size", "2", "--seq-len", "8",
        "--max-steps", "2", "--quiet"]


@pytest.fixture
def clean_registry():
    before = dict(tokenization._REGISTRY)
    yield
    tokenization._REGISTRY.clear()
    tokenization._REGISTRY.update(before)


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
    tokenizer = tokenization.train_tokenizer("shout", ["Hello hello World\n"])
    assert type(tokenizer).__name__ == "Lowercase" and tokenizer.kind == "shout"
    assert tokenizer.encode("HELLO") == tokenizer.encode("hello")
