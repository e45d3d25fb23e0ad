import math

import pytest
import torch

from wordgen.config import ModelConfig
from wordgen.errors import ConfigError
from wordgen.model import LSTMLanguageModel, detach_state


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
@pytest.mark.parametrize("tie", [True, False])
def test_shapes_and_state(rnn_type, tie):
    config = ModelConfig(vocab_size=50, embedding_dim=12, hidden_size=12, num_layers=2, rnn_type=rnn_type, tie_weights=tie)
    model = LSTMLanguageModel(config)
    ids = torch.randint(0, 50, (3, 7))
    logits, state = model(ids)
    assert logits.shape == (3, 7, 50)
    first = state[0] if rnn_type == "lstm" else state
    assert first.shape == (2, 3, 12)
    # Carrying the state gives the same logits as running the whole sequence at once.
    model.eval()
    full, _ = model(ids)
    a, s = model(ids[:, :4])
    b, _ = model(ids[:, 4:], detach_state(s))
    torch.testing.assert_close(torch.cat([a, b], dim=1), full)


def test_initial_loss_is_close_to_log_vocab():
    torch.manual_seed(0)
    vocab = 1000
    model = LSTMLanguageModel(ModelConfig(vocab_size=vocab, embedding_dim=32, hidden_size=32))
    ids = torch.randint(0, vocab, (4, 20))
    logits, _ = model(ids[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
    assert abs(loss.item() - math.log(vocab)) < 0.05


def test_tied_weights_are_one_tensor_and_counted_once():
    tied = LSTMLanguageModel(ModelConfig(vocab_size=100, embedding_dim=8, hidden_size=8, num_layers=1))
    untied = LSTMLanguageModel(ModelConfig(vocab_size=100, embedding_dim=8, hidden_size=8, num_layers=1, tie_weights=False))
    assert tied.head.weight is tied.embedding.weight
    assert untied.num_parameters() - tied.num_parameters() == 100 * 8


@pytest.mark.parametrize(
    "settings",
    [dict(vocab_size=0), dict(vocab_size=5, dropout=1.0), dict(vocab_size=5, rnn_type="rnn"),
     dict(vocab_size=5, embedding_dim=8, hidden_size=16)],
)
def test_bad_model_config(settings):
    with pytest.raises(ConfigError):
        LSTMLanguageModel(ModelConfig(**settings))


def test_precision_auto_picks_bf16_only_where_the_device_has_it(monkeypatch):
    from wordgen import device as model_module

    cpu = torch.device("cpu")
    assert model_module.resolve_precision("fp32", cpu) == "fp32"
    monkeypatch.setattr(model_module, "cpu_runs_bf16_rnns", lambda: True)
    assert model_module.resolve_precision("bf16", cpu) == "bf16"
    for fast, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(model_module, "bf16_is_fast", lambda device, fast=fast: fast)
        assert model_module.resolve_precision("auto", cpu) == expected
    # A CPU with bf16 flags whose oneDNN still has no bf16 recurrent layers: auto keeps float32.
    monkeypatch.setattr(model_module, "cpu_runs_bf16_rnns", lambda: False)
    assert model_module.resolve_precision("auto", cpu) == "fp32"


def test_explicit_bf16_where_the_cpu_cannot_run_it_is_refused_in_one_line(monkeypatch):
    from wordgen import device as model_module

    monkeypatch.setattr(model_module, "cpu_runs_bf16_rnns", lambda: False)
    with pytest.raises(ConfigError, match=r"TrainConfig.precision='bf16': this CPU cannot .* use fp32 or auto") as e:
        model_module.resolve_precision("bf16", torch.device("cpu"))
    assert "\n" not in str(e.value)


def test_the_bf16_probe_tells_what_a_bf16_lstm_does_here():
    from wordgen.device import cpu_runs_bf16_rnns

    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = torch.nn.LSTM(8, 8, 2)(torch.zeros(5, 3, 8))
        ran = out.dtype == torch.bfloat16
    except RuntimeError:
        ran = False
    assert cpu_runs_bf16_rnns() == ran


@pytest.mark.parametrize("settings", [
    dict(vocab_size=50, embedding_dim=8, hidden_size=8, num_layers=1),
    dict(vocab_size=50, embedding_dim=6, hidden_size=10, num_layers=3, tie_weights=False),
    dict(vocab_size=50, embedding_dim=8, hidden_size=8, num_layers=2, rnn_type="gru"),
    dict(vocab_size=30_000, embedding_dim=32, hidden_size=32, tie_weights=False, softmax="adaptive"),
])
def test_count_parameters_matches_the_built_model(settings):
    from wordgen.model import count_parameters

    config = ModelConfig(**settings)
    assert count_parameters(config) == LSTMLanguageModel(config).num_parameters()


def test_forward_flops_worked_example():
    from wordgen.model import forward_flops_per_token

    # One LSTM layer, E = 3, H = 2, V = 5: gates 2 * 4*2 * (3+2) = 80, output 2 * 2*5 = 20.
    config = ModelConfig(vocab_size=5, embedding_dim=3, hidden_size=2, num_layers=1, tie_weights=False)
    assert forward_flops_per_token(config) == 100
    assert forward_flops_per_token(config, head_flops=7) == 87
    # A GRU has 3 gates: 2 * 3*2 * (3+2) = 60.
    assert forward_flops_per_token(ModelConfig(vocab_size=5, embedding_dim=3, hidden_size=2, num_layers=1,
                                               tie_weights=False, rnn_type="gru")) == 80
