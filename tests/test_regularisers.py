"""The regularisers: off in eval mode (and in the generation stepper), active in train mode; old configs load."""

import json

import pytest
import torch

from wordgen.config import ModelConfig, TrainConfig
from wordgen.generation.stepper import LSTMStepper
from wordgen.model import LSTMLanguageModel
from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle
from wordgen.training.optim import param_groups

PLAIN = dict(dropout=0.0, input_dropout=0.0, hidden_dropout=0.0, embedding_dropout=0.0, weight_dropout=0.0)
# Each regulariser alone, at a strength that cannot go unnoticed.
EACH = [("dropout", 0.5), ("input_dropout", 0.5), ("hidden_dropout", 0.5), ("embedding_dropout", 0.5),
        ("weight_dropout", 0.5), ("activation_reg", 2.0), ("temporal_activation_reg", 2.0)]


def pair(name: str, value: float, **shape):
    """A plain model and one with regulariser `name` = value, holding the same weights."""
    sizes = dict(vocab_size=30, embedding_dim=8, hidden_size=8, num_layers=2, **shape)
    torch.manual_seed(0)
    plain = LSTMLanguageModel(ModelConfig(**sizes, **PLAIN))
    regularised = LSTMLanguageModel(ModelConfig(**sizes, **{**PLAIN, name: value}))
    regularised.load_state_dict(plain.state_dict())
    return plain, regularised


@pytest.mark.parametrize("name,value", EACH)
def test_each_regulariser_is_off_in_eval_mode(name, value):
    plain, regularised = pair(name, value)
    ids = torch.randint(0, 30, (3, 7))
    plain.eval(), regularised.eval()
    torch.testing.assert_close(regularised(ids)[0], plain(ids)[0], rtol=0, atol=0)
    _, penalty, _ = regularised.training_loss(ids[:, :-1], ids[:, 1:])
    assert penalty.item() == 0.0
    # The generation fast path computes the plain network too.
    state = regularised.init_state(3)
    logits = LSTMStepper(regularised, state)(ids[:, 0])
    torch.testing.assert_close(logits, plain(ids[:, :1])[0][:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,value", EACH)
def test_each_regulariser_changes_training(name, value):
    plain, regularised = pair(name, value)
    ids = torch.randint(0, 30, (3, 9))
    grads = []
    for model in (plain, regularised):
        model.train()
        torch.manual_seed(1)  # the same random stream for both: only the regulariser differs
        loss, penalty, _ = model.training_loss(ids[:, :-1], ids[:, 1:])
        model.zero_grad()
        (loss + penalty).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        if name in ("activation_reg", "temporal_activation_reg") and model is regularised:
            assert penalty.item() > 0
    assert not torch.allclose(grads[0], grads[1])


def test_locked_dropout_uses_one_mask_for_every_time_step():
    _, model = pair("dropout", 0.5)
    model.train()
    x = torch.ones(4, 10, 8)
    out = model._dropout(x, 0.5)  # (B, T, D)
    assert torch.equal(out, out[:, :1].expand_as(out))  # same mask at every step
    assert 0 < (out == 0).float().mean() < 1
    model.config.locked_dropout = False
    fresh = model._dropout(x, 0.5)
    assert not torch.equal(fresh, fresh[:, :1].expand_as(fresh))


def test_embedding_dropout_drops_a_word_everywhere_in_the_batch():
    _, model = pair("embedding_dropout", 0.5)
    ids = torch.tensor([[3, 4, 3, 4, 3, 4, 5, 5, 6, 7, 8, 9]] * 4)  # (B, T)
    model.eval()
    assert torch.equal(model._embed(ids), model.embedding(ids))
    model.train()
    torch.manual_seed(0)
    zero = (model._embed(ids) == 0).all(-1)  # (B, T): which positions lost their word
    for token in ids.unique():
        assert zero[ids == token].all() or not zero[ids == token].any()  # all occurrences or none
    assert zero.any() and not zero.all()


def test_weight_dropout_reaches_the_recurrent_weights():
    _, model = pair("weight_dropout", 0.5)
    model.train()
    ids = torch.randint(0, 30, (2, 6))
    loss, _, _ = model.training_loss(ids[:, :-1], ids[:, 1:])
    loss.backward()
    for layer in range(2):
        grad = getattr(model.rnn, f"weight_hh_l{layer}").grad
        assert grad is not None and grad.abs().sum() > 0
        # Dropped entries of W_hh get no gradient from this batch: some rows/columns are exactly 0.
        assert (grad == 0).any()


def test_weight_decay_skips_biases():
    model = LSTMLanguageModel(ModelConfig(vocab_size=30, embedding_dim=8, hidden_size=8))
    config = TrainConfig(weight_decay=0.1, max_steps=1)
    decayed, plain = param_groups(model, config)
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    (everything,) = param_groups(model, TrainConfig(weight_decay=0.1, decay_vectors=True, max_steps=1))
    assert len(everything["params"]) == len(list(model.parameters()))


def test_a_checkpoint_written_before_the_regularisers_loads(trained):
    out = ckpt.Path(trained.bundle.config.out)
    doc = json.loads((out / ckpt.CONFIG_FILE).read_text())
    for name in ("input_dropout", "hidden_dropout", "locked_dropout", "embedding_dropout", "weight_dropout",
                 "activation_reg", "temporal_activation_reg"):
        del doc["model"][name]
    for name in ("decay_vectors", "patience", "plateau_drops", "plateau_factor"):
        del doc[name]
    doc["model"]["dropout"] = 0.3
    (out / ckpt.CONFIG_FILE).write_text(json.dumps(doc))
    bundle = Bundle.load(out)
    m = bundle.config.model
    # Read back as the run it was: `dropout` everywhere, a fresh mask per step, nothing else.
    assert (m.input_dropout, m.hidden_dropout, m.locked_dropout, m.embedding_dropout, m.weight_dropout) == \
        (0.3, 0.3, False, 0.0, 0.0)
    assert bundle.config.decay_vectors is True and bundle.config.patience is None
    ids = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(bundle.model(ids)[0], trained.bundle.model(ids)[0])
