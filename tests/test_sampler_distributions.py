"""The samplers' draws against the distributions the mathematics gives, computed here without wordgen.

`reference` is written from the definitions alone (numpy, float64): softmax(logits / T); top-k
keeps the k largest; top-p (Holtzman et al. 2020) keeps the smallest set of the most likely
tokens whose mass reaches p; in the order temperature -> top-k -> top-p, each on the
distribution the previous step left. Then 20 000 seeded draws, through `next_token` and through
the generation engine (`sample_ids`, which also bans <unk>), are tested against it: no draw
outside the support, and a chi-square test of the counts.

False alarms: each chi-square test fails a correct sampler with probability ALPHA (1 in 10 000)
over the choice of seed; the seeds are fixed, so a given run is repeatable, and a new seed
brings that chance again. A wrong distribution (temperature applied twice, top-p before top-k)
is off by far more than 20 000 draws can hide: its p-value is far below ALPHA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from wordgen.config import ModelConfig, SampleConfig
from wordgen.generation.decode import sample_ids
from wordgen.generation.sampling import next_token, sampler_probs
from wordgen.model import LSTMLanguageModel

ALPHA = 1e-4
DRAWS = 20_000
# A spread of logits with no ties, so that top-k and top-p have one answer.
LOGITS = np.array([2.3, 1.9, 1.5, 1.2, 0.8, 0.5, 0.1, -0.3, -0.8, -1.4, -2.0, -2.9])


def reference(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
              top_p: float | None = None) -> np.ndarray:
    """The distribution to draw from, by definition: temperature, then top-k, then top-p, renormalised."""
    z = logits / temperature
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    if top_k is not None:
        kept = np.argsort(-probs)[:top_k]
        mask = np.zeros_like(probs)
        mask[kept] = 1
        probs = probs * mask / (probs * mask).sum()
    if top_p is not None:
        order = np.argsort(-probs)
        kept, mass = [], 0.0
        for i in order:  # most likely first, until the kept mass reaches p
            if mass >= top_p:
                break
            kept.append(i)
            mass += probs[i]
        mask = np.zeros_like(probs)
        mask[kept] = 1
        probs = probs * mask / (probs * mask).sum()
    return probs


def check_draws(ids: torch.Tensor, expected: np.ndarray) -> None:
    counts = np.bincount(ids.numpy(), minlength=len(expected))
    assert counts.sum() == DRAWS
    outside = counts[expected == 0]
    assert outside.sum() == 0, f"drew tokens the sampler must never draw: {counts}"
    # The chi-square approximation wants every expected count at 5 or more: the rarest tokens of the
    # support are pooled into one bin (then with the next rarest, until the bin reaches 5).
    order = [i for i in np.argsort(expected) if expected[i] > 0]  # support, rarest first
    observed, wanted = list(counts[order].astype(float)), list(DRAWS * expected[order])
    while len(wanted) > 1 and wanted[0] < 5:
        observed[:2] = [observed[0] + observed[1]]
        wanted[:2] = [wanted[0] + wanted[1]]
    if len(wanted) > 1:
        _, p_value = stats.chisquare(observed, wanted)
        assert p_value > ALPHA, (p_value, counts.tolist(), np.round(DRAWS * expected, 1).tolist())


# (temperature, top_k, top_p): each filter alone, then together, including the cases where the
# order decides: top-p on the top-k renormalised distribution keeps fewer tokens than on the
# whole one; top-p after temperature keeps more tokens at T = 2 than at T = 1.
SETTINGS = [
    (1.0, None, None), (0.5, None, None), (2.0, None, None),
    (1.0, 4, None), (1.0, None, 0.7),
    (0.7, 5, None), (2.0, None, 0.5),
    (1.0, 2, 0.5), (1.0, 4, 0.6), (1.6, 6, 0.8), (0.8, 8, 0.9),
]


def test_the_reference_is_the_textbook_one():
    # Worked by hand: probabilities 0.4 0.3 0.2 0.1. Top-2 renormalised is 4/7, 3/7; top-p 0.55 of that
    # keeps only the first (4/7 >= 0.55), where top-p 0.55 of the whole distribution would keep two.
    logits = np.log([0.4, 0.3, 0.2, 0.1])
    assert np.allclose(reference(logits, top_k=2), [4 / 7, 3 / 7, 0, 0])
    assert np.allclose(reference(logits, top_k=2, top_p=0.55), [1, 0, 0, 0])
    assert np.allclose(reference(logits, top_p=0.55), [4 / 7, 3 / 7, 0, 0])
    assert np.allclose(reference(logits, temperature=0.5), np.array([16, 9, 4, 1]) / 30)


@pytest.mark.parametrize("temperature, top_k, top_p", SETTINGS)
def test_sampler_probs_equal_the_reference(temperature, top_k, top_p):
    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    probs = sampler_probs(torch.tensor(LOGITS, dtype=torch.float32)[None], config)[0]
    np.testing.assert_allclose(probs.double().numpy(), reference(LOGITS, temperature, top_k, top_p), atol=1e-6)


@pytest.mark.parametrize("temperature, top_k, top_p", SETTINGS)
def test_next_token_draws_from_the_reference(temperature, top_k, top_p):
    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    logits = torch.tensor(LOGITS, dtype=torch.float32).expand(DRAWS, -1)  # (N, V): one draw per row
    ids = next_token(logits, config, torch.Generator().manual_seed(1234))
    check_draws(ids, reference(LOGITS, temperature, top_k, top_p))


def _constant_model(logits: np.ndarray) -> LSTMLanguageModel:
    """A model whose next-token logits are `logits` after any input: a zero head and the logits as its bias."""
    config = ModelConfig(vocab_size=len(logits), embedding_dim=8, hidden_size=8, num_layers=1, dropout=0.0,
                         tie_weights=False)
    model = LSTMLanguageModel(config)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(logits, dtype=torch.float32))
    return model.eval()


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, None, None), (0.7, 5, None), (1.6, 6, 0.8)])
def test_the_generation_engine_draws_from_the_reference_without_the_banned_token(temperature, top_k, top_p):
    # Token 0 (the most likely) is banned, as generate() bans <unk>: the filters then work on the rest.
    model = _constant_model(LOGITS)
    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    (ids,) = sample_ids(model, [3], max_tokens=1, sample=config, num_samples=DRAWS, seed=99, banned=[0])
    rest = reference(LOGITS[1:], temperature, top_k, top_p)
    check_draws(ids, np.concatenate([[0.0], rest]))
