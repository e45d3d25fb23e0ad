"""Shared fixtures: a small text, a tiny model config, a trained tiny checkpoint."""

from __future__ import annotations

import os

import pytest

from wordgen.config import ModelConfig, TrainConfig

VERSE = """ROMEO:
But, soft! what light through yonder window breaks?
It is the east, and Juliet is the sun.
Arise, fair sun, and kill the envious moon,
Who is already sick and pale with grief,
That thou her maid art far more fair than she.

JULIET:
O Romeo, Romeo! wherefore art thou Romeo?
Deny thy father and refuse thy name;
Or, if thou wilt not, be but sworn my love,
And I'll no longer be a Capulet.
"""


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Keep the tokenizer/stream cache of the test run out of ~/.cache and away from older runs."""
    previous = os.environ.get("WORDGEN_CACHE")
    os.environ["WORDGEN_CACHE"] = str(tmp_path_factory.mktemp("wordgen-cache"))
    yield
    if previous is None:
        os.environ.pop("WORDGEN_CACHE", None)
    else:
        os.environ["WORDGEN_CACHE"] = previous


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster on one thread: hand-offs between threads cost more than they
    save, and on a busy 2-core machine two threads made a 30-step run 20x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def book(tmp_path):
    """A small plain-text book on disk (the verse repeated, so every split has text)."""
    path = tmp_path / "book.txt"
    path.write_text(VERSE * 40, encoding="utf-8")
    return path


def tiny_model_config(**overrides) -> ModelConfig:
    settings = dict(embedding_dim=16, hidden_size=16, num_layers=1, dropout=0.0)
    settings.update(overrides)
    return ModelConfig(**settings)


def tiny_train_config(corpus, out, **overrides) -> TrainConfig:
    settings = dict(
        corpus=str(corpus), tokenizer="word", out=str(out), model=tiny_model_config(),
        batch_size=4, seq_len=8, max_steps=12, eval_interval=5, warmup_steps=2,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture
def trained(tmp_path, book):
    """A tiny word-level model trained for a few steps on `book`, and its result."""
    from wordgen.training.loop import train

    config = tiny_train_config(book, tmp_path / "ckpt")
    return train(config)
