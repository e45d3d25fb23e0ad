"""The speed paths of issue #5: adaptive softmax, the generation stepper, the data cache.

Each fast path must compute what the plain path computes (same loss, same
logits, same tokens), and every new option must survive a checkpoint round trip.
"""

import json

import numpy as np
import pytest
import torch
from helpers import tiny_flags

from wordgen.cli import main
from wordgen.config import ModelConfig, TrainConfig
from wordgen.errors import ConfigError
from wordgen.generation.stepper import LSTMStepper
from wordgen.model import IGNORE, LSTMLanguageModel
from wordgen.training.checkpoint import Bundle


def _model(softmax="full", rnn="lstm", vocab=300):
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=vocab, embedding_dim=16, hidden_size=16, num_layers=2, dropout=0.0,
                         rnn_type=rnn, softmax=softmax, tie_weights=softmax == "full",
                         adaptive_cutoffs=[20, 100] if softmax == "adaptive" else None)
    return LSTMLanguageModel(config).eval()


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_loss_equals_cross_entropy_of_the_forward_scores(softmax):
    model = _model(softmax)
    ids = torch.randint(0, 300, (3, 9))
    targets = torch.randint(0, 300, (3, 9))
    targets[2, 5:] = IGNORE
    logits, _ = model(ids)  # (3, 9, V)
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                                                 reduction="sum")
    loss, _ = model.loss(ids, targets, reduction="sum")
    assert torch.allclose(loss, expected, rtol=1e-5)
    if softmax == "adaptive":  # scores are normalised log-probabilities
        assert torch.allclose(logits.exp().sum(-1), torch.ones(3, 9), atol=1e-4)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
@pytest.mark.parametrize("batch, vocab", [(2, 300), (1, 301)])  # 301 splits unevenly over the threads
def test_stepper_gives_the_logits_of_the_whole_sequence(softmax, batch, vocab):
    model = _model(softmax, vocab=vocab)
    ids = torch.randint(0, vocab, (batch, 8))
    with torch.inference_mode():
        logits, _ = model(ids)  # (N, 8, V)
        _, state = model.features(ids[:, :3])
        step = LSTMStepper(model, state)
        for t in range(3, 8):
            out = step(ids[:, t])  # (N, V), the prediction after token t
            assert torch.allclose(out, logits[:, t], atol=1e-5), t


def test_adaptive_softmax_is_untied_refuses_tied_weights_and_tiny_cutoffs():
    untied = ModelConfig(vocab_size=100, embedding_dim=8, hidden_size=16, softmax="adaptive")
    untied.validate()  # tie_weights left at None: the adaptive layer has its own matrices
    assert not untied.tied() and not LSTMLanguageModel(untied).config.tied()
    assert ModelConfig(vocab_size=100).tied() and ModelConfig(vocab_size=100).output_layer() == "full"
    with pytest.raises(ConfigError, match="tie_weights"):
        ModelConfig(vocab_size=100, softmax="adaptive", tie_weights=True).validate()
    with pytest.raises(ConfigError, match="tie_weights"):
        TrainConfig(model=ModelConfig(softmax="adaptive", tie_weights=True), max_steps=1).validate()
    with pytest.raises(ConfigError, match="cutoffs"):
        ModelConfig(vocab_size=100, softmax="adaptive", tie_weights=False, adaptive_cutoffs=[50, 100]).validate()
    with pytest.raises(ConfigError, match="softmax"):
        ModelConfig(vocab_size=100, softmax="sparse").validate()


def test_softmax_adaptive_flows_through_the_cli_and_config_json(tmp_path, book, capsys):
    out = tmp_path / "adaptive"
    tiny = tiny_flags()
    code = main(["train", "--corpus", str(book), "--out", str(out), "--max-steps", "4", "--eval-interval", "2",
                 "--quiet", "--softmax", "adaptive", "--no-tie-weights", *tiny])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["model"]["softmax"] == "adaptive"
    bundle = Bundle.load(out, device="cpu")
    assert bundle.model.adaptive
    assert main(["generate", str(out), "--prompt", "ROMEO", "--max-tokens", "5"]) == 0
    # Without --no-tie-weights too: the adaptive layer is never tied, and config.json says so.
    assert main(["train", "--corpus", str(book), "--out", str(tmp_path / "x"), "--max-steps", "1", "--quiet",
                 "--softmax", "adaptive", *tiny]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "x" / "config.json").read_text())["model"]["tie_weights"] is False


def test_a_checkpoint_without_the_new_fields_still_loads(trained):
    out = trained.bundle.config.out
    doc = json.loads(open(f"{out}/config.json").read())
    for key in ("softmax", "adaptive_cutoffs", "tie_weights"):
        doc["model"].pop(key)
    open(f"{out}/config.json", "w").write(json.dumps(doc))
    config = Bundle.load(out, device="cpu").model.config
    assert (config.softmax, config.tie_weights) == ("full", True)  # what those fields defaulted to then


def test_prepare_caches_tokenizer_and_streams_and_misses_on_any_change(tmp_path, book, monkeypatch):
    from wordgen.training.prepare import prepare

    monkeypatch.setenv("WORDGEN_CACHE", str(tmp_path / "cache"))
    config = TrainConfig(corpus=str(book), tokenizer="word", max_steps=1)
    _, tok, train_a, val_a = prepare(config)
    files = sorted((tmp_path / "cache").rglob("*.*"))
    assert len(files) == 5  # one tokenizer, two token stores (ids + manifest each)
    _, tok_b, train_b, val_b = prepare(config)
    assert tok_b.to_dict() == tok.to_dict() and np.array_equal(train_a.ids, train_b.ids)
    assert (train_b.num_chars, train_b.num_words, train_b.num_unk) == (train_a.num_chars, train_a.num_words,
                                                                       train_a.num_unk)
    assert sorted((tmp_path / "cache").rglob("*.*")) == files  # a hit writes nothing
    prepare(TrainConfig(corpus=str(book), tokenizer="word:max_vocab=20", max_steps=1))  # other settings
    assert len(list((tmp_path / "cache").rglob("*.*"))) == 10
    book.write_text(book.read_text() + "A new line of text.\n")  # other text
    _, _, train_c, _ = prepare(config)
    assert len(list((tmp_path / "cache").rglob("*.*"))) > 10 and len(train_c) > len(train_a)
    monkeypatch.setenv("WORDGEN_CACHE", "off")
    assert np.array_equal(prepare(config)[2].ids, train_c.ids)


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 4])
def test_split_linear_equals_one_linear_layer(parts, batch):
    # 301 outputs do not divide into 2 or 3 blocks: the padded last block must not leak.
    from wordgen.generation.stepper import _SplitLinear

    torch.manual_seed(0)
    layer = torch.nn.Linear(24, 301)
    split = _SplitLinear(layer.weight, layer.bias, parts)
    x = torch.randn(batch, 24)
    with torch.no_grad():
        out = split(x, split.new_out(batch))
        assert out.shape == (batch, 301)
        assert torch.allclose(out, layer(x), atol=1e-5)


def test_stepper_weights_are_reused_until_a_parameter_changes():
    model = _model()
    ids = torch.tensor([3, 7])
    with torch.inference_mode():
        first = LSTMStepper(model, model.init_state(2))
        second = LSTMStepper(model, model.init_state(2))
        assert second.layers is first.layers  # packed once, shared
        logits_before = second(ids).clone()
    with torch.no_grad():
        model.head.bias.add_(1.0)  # what an optimizer step does in place
    with torch.inference_mode():
        third = LSTMStepper(model, model.init_state(2))
        assert third.layers is not first.layers
        assert torch.allclose(third(ids), logits_before + 1.0, atol=1e-5)


def test_two_steppers_of_one_model_keep_their_own_buffers():
    model = _model()
    with torch.inference_mode():
        a = LSTMStepper(model, model.init_state(1))
        b = LSTMStepper(model, model.init_state(1))
        out_a = a(torch.tensor([3]))
        expected = out_a.clone()
        b(torch.tensor([9]))  # must not overwrite a's logits or state
        assert torch.equal(out_a, expected)
