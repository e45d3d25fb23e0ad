"""The neural cache (wordgen.generation.cache): the batched scoring against the formula, the mixture, generation, the CLI."""

import json
import math

import pytest
import torch
from helpers import one_line_error, run_cli

from wordgen.config import ModelConfig, SampleConfig
from wordgen.errors import ConfigError
from wordgen.evaluate import score_tokens, total_nll
from wordgen.generation.cache import SKIP, Cache, Memory
from wordgen.generation.decode import sample_steps
from wordgen.model import LSTMLanguageModel

V = 13


def small_model(seed: int = 0) -> LSTMLanguageModel:
    torch.manual_seed(seed)
    return LSTMLanguageModel(ModelConfig(vocab_size=V, embedding_dim=8, hidden_size=8, num_layers=2)).eval()


def formula_nll(model: LSTMLanguageModel, ids: torch.Tensor, cache: Cache) -> float:
    """The cache written out token by token, in one column: what total_nll(batch_size=1) must give."""
    with torch.no_grad():
        h, _ = model.features(ids[None, :-1])  # (1, N-1, H)
        log_model = torch.log_softmax(model.scores(h[0]).double(), -1)  # (N-1, V)
    h = h[0].double()
    total = math.log(V)  # the first token, as total_nll charges it
    for t in range(len(ids) - 1):
        p = log_model[t].exp()  # (V,)
        voters = range(max(0, t - cache.window), t - SKIP)
        if len(voters):
            w = torch.softmax(torch.stack([cache.theta * h[t] @ h[i] for i in voters]), 0)
            p_cache = torch.zeros(V, dtype=torch.float64)
            for weight, i in zip(w, voters):
                p_cache[ids[i + 1]] += weight
            p = (1 - cache.lam) * p + cache.lam * p_cache
        total -= math.log(p[ids[t + 1]].item())
    return total


@pytest.mark.parametrize("window,seq_len", [(6, 5), (6, 64), (40, 7)])
def test_scoring_matches_the_formula(window, seq_len):
    model = small_model()
    ids = torch.randint(0, V, (90,), generator=torch.Generator().manual_seed(1))
    cache = Cache(window=window, theta=0.7, lam=0.3)
    got = total_nll(model, ids, batch_size=1, seq_len=seq_len, cache=cache)
    assert got == pytest.approx(formula_nll(model, ids, cache), rel=1e-5)
    assert got != pytest.approx(total_nll(model, ids, batch_size=1, seq_len=seq_len), rel=1e-3)


def test_columns_each_keep_their_own_cache():
    # n // (4 * window) = 3 columns; each is scored as its own text with its own cache.
    model = small_model()
    ids = torch.randint(0, V, (61,), generator=torch.Generator().manual_seed(2))
    cache = Cache(window=5, theta=0.5, lam=0.2)
    got = total_nll(model, ids, batch_size=16, seq_len=8, cache=cache)
    # Columns of 20 predictions: positions 0-20, 20-40, 40-60 (a column predicts its next 20 tokens).
    parts = [formula_nll(model, ids[s : s + 21], cache) - math.log(V) for s in (0, 20, 40)]
    assert got == pytest.approx(math.log(V) + sum(parts), rel=1e-5)


def test_repeated_text_becomes_cheap_with_the_cache():
    # The vocabulary in a random order, read five times: with the cache, the repeats cost far
    # less than the network alone gives them (it has never seen this order). The weights are
    # scaled up so that an untrained network's outputs follow its recent inputs closely (at
    # initialisation they are nearly constant, and nothing could be matched).
    model = small_model()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "weight" in name:
                p.mul_(30)
    ids = torch.randperm(V, generator=torch.Generator().manual_seed(3)).repeat(5)  # (65,)
    plain = score_tokens_of(model, ids, None)
    cached = score_tokens_of(model, ids, Cache(window=200, theta=30.0, lam=0.5))
    assert sum(cached[2 * V :]) < 0.7 * sum(plain[2 * V :])
    assert cached[:2] == pytest.approx(plain[:2])  # nothing to vote yet


def score_tokens_of(model, ids, cache) -> list[float]:
    class Ids:  # score_tokens takes a text and a tokenizer; this one maps "i j k" to ids
        vocab_size = V
        unk_id = None

        def encode(self, text):
            return [int(t) for t in text.split()]

        def count_unk(self, ids):
            return 0

    text = " ".join(str(i) for i in ids.tolist())
    scores = score_tokens(model, Ids(), text, seq_len=16, cache=cache)
    assert math.fsum(scores.nll) == pytest.approx(total_nll(model, ids, batch_size=1, cache=cache), rel=1e-5)
    return scores.nll


def test_the_mixture_is_a_distribution_and_skips_the_latest_position():
    memory = Memory(Cache(window=10, theta=1.0, lam=0.25))
    keys = torch.eye(4)[None, :3]  # (1, 3, 4): three kept positions
    memory.add(keys, torch.tensor([[5, 7, 9]]))
    logits = torch.zeros(1, V)
    mixed = memory.mix(logits, keys[:, 2])  # the query equals the latest position, whose next token is 9
    assert mixed.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    p_cache = (mixed.exp() - 0.75 / V) / 0.25  # (1, V)
    assert p_cache[0, 9].item() == pytest.approx(0.0, abs=1e-6)  # SKIP: it never votes
    assert p_cache[0, 5].item() + p_cache[0, 7].item() == pytest.approx(1.0, abs=1e-5)


def test_the_window_keeps_only_the_latest_positions():
    memory = Memory(Cache(window=3))
    memory.add(torch.randn(2, 5, 4), torch.arange(10).view(2, 5))
    assert memory.keys.shape == (2, 3, 4) and memory.next_ids.tolist() == [[2, 3, 4], [7, 8, 9]]


def test_generation_with_the_cache_is_repeatable_and_reports_the_mixture():
    model = small_model()
    cache = Cache(window=50, theta=1.0, lam=0.3)
    prompt = [1, 2, 3, 4, 5, 1, 2]

    def draw(cache):
        steps = list(sample_steps(model, prompt, 30, SampleConfig(temperature=1.0), num_samples=2, seed=4,
                                  top=V, cache=cache))
        return torch.stack([s.ids for s in steps], 1), steps

    ids, steps = draw(cache)
    again, _ = draw(cache)
    plain, _ = draw(None)
    assert torch.equal(ids, again) and not torch.equal(ids, plain)
    for step in steps:
        assert step.top_probs.sum(-1).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)  # the whole mixture


def test_the_stepper_and_the_module_give_the_same_cached_generation(monkeypatch):
    # An LSTM draws through the stepper, a GRU through the module: the cache reads the top
    # output of either. The same LSTM sent down the module's path must draw the same tokens.
    model = small_model()
    cache = Cache(window=20, theta=1.0, lam=0.4)
    fast = [s.ids for s in sample_steps(model, [1, 2, 3], 15, SampleConfig(), seed=0, cache=cache)]
    monkeypatch.setattr(model.config, "rnn_type", "gru")  # only sample_steps reads it here
    slow = [s.ids for s in sample_steps(model, [1, 2, 3], 15, SampleConfig(), seed=0, cache=cache)]
    assert torch.equal(torch.stack(fast), torch.stack(slow))


@pytest.mark.parametrize("settings", [{"window": 0}, {"theta": -1.0}, {"lam": 0.0}, {"lam": 1.0}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ConfigError):
        Cache(**settings)


def test_cli_evaluate_and_generate_with_the_cache(shared_trained, capsys):
    ckpt = shared_trained.bundle.config.out
    capsys.readouterr()
    code, out, _ = run_cli(capsys, "evaluate", ckpt, "--json")
    assert code == 0
    plain = json.loads(out)
    code, out, _ = run_cli(capsys, "evaluate", ckpt, "--json", "--cache", "--cache-window", "50")
    assert code == 0
    cached = json.loads(out)
    assert "neural cache" in cached["text"] and cached["cache"] == {"window": 50, "theta": 0.3, "lambda": 0.1}
    assert cached["num_tokens"] == plain["num_tokens"] and cached["nll"] != pytest.approx(plain["nll"])
    code, out, _ = run_cli(capsys, "generate", ckpt, "--cache", "--max-tokens", "8", "--prompt", "the")
    assert code == 0 and out.startswith("the")


@pytest.mark.parametrize("argv,message", [
    (["--cache-window", "10"], "--cache-window only applies with --cache"),
    (["--cache", "--cache-lambda", "1.5"], "lambda in (0, 1)"),
])
def test_cli_refuses_bad_cache_flags_in_one_line(shared_trained, capsys, argv, message):
    capsys.readouterr()
    code, _, err = run_cli(capsys, "evaluate", shared_trained.bundle.config.out, *argv)
    assert code == 2
    line = one_line_error(err)
    assert message in line and "Traceback" not in line
