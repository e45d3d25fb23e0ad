import pytest
import torch

from wordgen.config import SampleConfig
from wordgen.errors import ConfigError
from wordgen.generation.sampling import filter_top_k, filter_top_p, next_token


def test_top_k_1_equals_greedy():
    torch.manual_seed(0)
    logits = torch.randn(64, 30)
    gen = torch.Generator().manual_seed(1)
    sampled = next_token(logits, SampleConfig(temperature=1.0, top_k=1), gen)
    assert torch.equal(sampled, next_token(logits, SampleConfig(greedy=True)))
    assert torch.equal(sampled, logits.argmax(-1))


def test_temperature_zero_is_greedy():
    logits = torch.randn(5, 10)
    assert torch.equal(next_token(logits, SampleConfig(temperature=0.0)), logits.argmax(-1))


def test_top_k_keeps_exactly_k():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0, -1.0]])
    kept = filter_top_k(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, False, True, False]]


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.25, 0.15, 0.1]])
    logits = probs.log()
    keep = lambda p: torch.isfinite(filter_top_p(logits, p)).tolist()[0]  # noqa: E731
    assert keep(0.5) == [True, False, False, False]  # 0.5 reached by the first token alone
    assert keep(0.6) == [True, True, False, False]  # 0.5 < 0.6 <= 0.75
    assert keep(0.75) == [True, True, False, False]
    assert keep(0.8) == [True, True, True, False]  # 0.75 < 0.8 <= 0.9
    assert keep(1.0) == [True, True, True, True]
    # Order in the row does not matter.
    shuffled = logits[:, [2, 0, 3, 1]]
    assert torch.isfinite(filter_top_p(shuffled, 0.6)).tolist()[0] == [False, True, False, True]


def test_top_p_samples_only_from_the_nucleus():
    logits = torch.tensor([[2.0, 1.9, -5.0, -5.0, -5.0]]).repeat(500, 1)
    gen = torch.Generator().manual_seed(0)
    ids = next_token(logits, SampleConfig(top_p=0.9), gen)
    assert set(ids.tolist()) <= {0, 1}
    assert set(ids.tolist()) == {0, 1}


def test_same_seed_same_tokens_and_temperature_spreads():
    logits = torch.randn(1, 50).repeat(300, 1)
    draw = lambda t, s: next_token(logits, SampleConfig(temperature=t), torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.equal(draw(1.0, 7), draw(1.0, 7))
    assert not torch.equal(draw(1.0, 7), draw(1.0, 8))
    assert len(set(draw(0.1, 0).tolist())) < len(set(draw(2.0, 0).tolist()))


@pytest.mark.parametrize(
    "settings", [dict(temperature=-0.1), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5), dict(temperature=float("nan"))]
)
def test_bad_sampling_settings(settings):
    with pytest.raises(ConfigError):
        SampleConfig(**settings).validate()


def test_generation_never_draws_unk():
    from wordgen.config import ModelConfig
    from wordgen.generation.decode import generate, stream_steps
    from wordgen.model import LSTMLanguageModel
    from wordgen.tokenization import train_tokenizer

    tokenizer = train_tokenizer("word", ["a b c d e f g\n"])
    model = LSTMLanguageModel(ModelConfig(vocab_size=tokenizer.vocab_size, embedding_dim=8, hidden_size=8, num_layers=1))
    with torch.no_grad():  # make <unk> by far the most likely token everywhere
        model.head.bias[tokenizer.unk_id] = 50.0
    for sample in (SampleConfig(greedy=True), SampleConfig(temperature=1.5)):
        # Every one of the 20 steps draws a token, and none is <unk>, whatever the random weights
        # make the runner-up (a line break from a greedy model is a token too, not a missing one).
        drawn = [int(step.ids[0]) for step in stream_steps(model, tokenizer, "a", max_tokens=20, sample=sample)]
        assert len(drawn) == 20 and tokenizer.unk_id not in drawn, drawn
        (text,) = generate(model, tokenizer, "a", max_tokens=20, sample=sample)
        assert "<unk>" not in text and len(text) > len("a")


def test_draw_follows_the_probabilities_and_never_draws_a_zero():
    from wordgen.generation.sampling import draw

    probs = torch.tensor([[0.5, 0.0, 0.3, 0.2, 0.0]]).expand(20_000, -1)  # (N, 5)
    ids = draw(probs, torch.Generator().manual_seed(0))
    freq = torch.bincount(ids, minlength=5).double() / ids.numel()
    assert freq[1] == 0 and freq[4] == 0
    # 20 000 draws: the standard error of each frequency is below 0.004.
    assert torch.allclose(freq, probs[0].double(), atol=0.015)
