"""The rate probe: a measured tokens/s that leaves the run as it would have been, used only where a time budget needs it."""

import numpy as np
import pytest
import torch
from helpers import tiny_model_config

from wordgen.config import TrainConfig
from wordgen.data import batchify
from wordgen.training import sizerule
from wordgen.training.plan import Plan
from wordgen.training.probe import measure_rate


def _planned(**overrides) -> TrainConfig:
    config = TrainConfig(time_budget=60, model=tiny_model_config(vocab_size=50), batch_size=4, seq_len=8, lr=1e-3,
                         optimizer="adamw", grad_clip=1.0, weight_decay=0.0, precision="fp32")
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


def test_the_probe_measures_real_steps_and_leaves_torch_random_state_alone():
    table = batchify(np.arange(4_000) % 50, 4)  # (4, 1000): 125 windows of 8
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    rate = measure_rate(_planned(), table, torch.device("cpu"), seconds=0.05)
    assert torch.equal(torch.rand(3), expected)  # the run's weights and masks are what they would have been
    assert rate > 0
    # However short the time, one timed step after the warm-up: 32 tokens in a finite time.
    assert measure_rate(_planned(), table, torch.device("cpu"), seconds=0.0) >= 32 / 60
    with pytest.raises(ValueError, match="no window"):
        measure_rate(_planned(), np.zeros((4, 1), dtype=np.int64), torch.device("cpu"))


def test_a_plan_probes_only_where_a_time_budget_sets_the_strength():
    calls = []

    def probe(planned: TrainConfig) -> float:
        calls.append(planned)
        return 1_000.0

    counts = dict(train_tokens=100_000, vocab_size=84, device="cpu")
    assert Plan.with_probe(TrainConfig(epochs=2.0), probe, **counts).rate is None and not calls
    fixed = TrainConfig(time_budget=60, weight_decay=0.01, model=tiny_model_config(
        embedding_dropout=0.0, input_dropout=0.0, hidden_dropout=0.0, weight_dropout=0.0))
    assert Plan.with_probe(fixed, probe, **counts).rate is None and not calls  # nothing left depends on passes
    plan = Plan.with_probe(TrainConfig(time_budget=60), probe, **counts)
    assert len(calls) == 1 and calls[0].model.hidden_size is not None  # the first plan's complete model
    # 1 000 tokens/s for 60 s over 100 000 tokens: 0.6 passes, whatever the nominal FLOP/s would say.
    assert plan.rate == 1_000.0 and plan.choice.passes == pytest.approx(0.6)
    assert "at 1,000 tokens/s measured" in plan.summary()[0]
    nominal = Plan.build(TrainConfig(time_budget=60), **counts).choice.passes
    flops = 1_000.0 * sizerule.training_flops_per_token(calls[0], 84, calls[0].model.hidden_size)
    assert nominal == pytest.approx(0.6 * sizerule.NOMINAL_FLOPS["cpu", "fp32"] / flops)
