"""The generation engine behind the playground: step records, forced tokens, pieces, per-token scores.

The one promise that matters most: asking for probabilities never changes the
tokens drawn, so the playground shows exactly what `wordgen generate` prints.
"""

import math

import pytest
import torch
from helpers import VERSE

from wordgen.config import ModelConfig, SampleConfig
from wordgen.errors import ConfigError
from wordgen.evaluate import evaluate_text, score_tokens, total_nll
from wordgen.generation.decode import generate, sample_ids, sample_steps, stream_steps, token_pieces
from wordgen.generation.sampling import next_token, sampler_probs
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import train_tokenizer

SAMPLERS = [
    SampleConfig(greedy=True),
    SampleConfig(temperature=1.3),
    SampleConfig(temperature=0.8, top_k=4),
    SampleConfig(temperature=1.5, top_p=0.7),
]


def tiny(tokenizer, rnn="lstm", seed=0):
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=tokenizer.vocab_size, embedding_dim=12, hidden_size=12, num_layers=2,
                         dropout=0.0, rnn_type=rnn)
    return LSTMLanguageModel(config).eval()


@pytest.fixture(scope="module")
def word():
    return train_tokenizer("word", [VERSE])


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("sample", SAMPLERS, ids=lambda s: s.describe())
@pytest.mark.parametrize("num_samples", [1, 3])
def test_steps_draw_the_tokens_generate_draws(word, rnn, sample, num_samples):
    model = tiny(word, rnn)
    expected = generate(model, word, "ROMEO:", max_tokens=25, sample=sample, num_samples=num_samples, seed=7)
    texts = ["ROMEO:"] * num_samples
    for record in stream_steps(model, word, "ROMEO:", max_tokens=25, sample=sample, num_samples=num_samples,
                               seed=7, top=10):
        texts = [t + p for t, p in zip(texts, record.pieces)]
    assert texts == expected
    prompt_ids = word.encode("ROMEO:")
    plain = torch.stack(list(sample_ids(model, prompt_ids, 25, sample, num_samples, 7)))  # (T, N)
    detailed = torch.stack([r.ids for r in sample_steps(model, prompt_ids, 25, sample, num_samples, 7, top=5)])
    assert torch.equal(plain, detailed)


@pytest.mark.parametrize("sample", SAMPLERS, ids=lambda s: s.describe())
def test_step_probabilities_are_the_models_and_the_samplers(word, sample):
    model = tiny(word)
    prompt_ids = word.encode("JULIET:")
    records = list(sample_steps(model, prompt_ids, 12, sample, 1, seed=3, banned=[word.unk_id], top=10))
    drawn = [r.ids.item() for r in records]
    with torch.no_grad():  # the whole sequence at once, the way training sees it
        logits, _ = model(torch.tensor([prompt_ids + drawn]))  # (1, P + T, V)
    probs = torch.softmax(logits[0, len(prompt_ids) - 1 : -1], dim=-1)  # (T, V): the distribution before each token
    for t, r in enumerate(records):
        assert r.prob.item() == pytest.approx(probs[t, drawn[t]].item(), abs=1e-5)
        assert torch.allclose(r.top_probs[0], probs[t].topk(10).values, atol=1e-5)
        assert (r.top_probs[0][:-1] >= r.top_probs[0][1:]).all()  # most likely first
        assert r.sampler_prob.item() > 0 and not r.forced
        unk = r.top_ids[0] == word.unk_id
        assert (r.top_sampler_probs[0][unk] == 0).all()  # <unk> is never drawn
        if sample.is_greedy:
            assert r.sampler_prob.item() == 1.0
        if sample.top_k is not None:
            assert int((r.top_sampler_probs[0] > 0).sum()) <= sample.top_k


def test_forced_tokens_come_first_and_generation_goes_on_from_them(word):
    model = tiny(word)
    forced = word.encode("fair moon")
    greedy = SampleConfig(greedy=True)
    records = list(stream_steps(model, word, "ROMEO:", max_tokens=8, sample=greedy, forced=forced, top=3))
    assert len(records) == len(forced) + 8
    assert [r.forced for r in records] == [True] * len(forced) + [False] * 8
    assert [r.ids.item() for r in records[: len(forced)]] == forced
    text = "ROMEO:" + "".join(r.pieces[0] for r in records)
    # Greedy decoding is deterministic: forcing the words equals writing them into the prompt.
    assert text == generate(model, word, "ROMEO: fair moon", max_tokens=8, sample=greedy)[0]
    # A forced <unk> is allowed (the student typed a word the model does not know).
    (first,) = stream_steps(model, word, "ROMEO:", max_tokens=0, forced=[word.unk_id])
    assert first.pieces == [" <unk>"]
    with pytest.raises(ConfigError, match="not in the vocabulary"):
        list(stream_steps(model, word, "ROMEO:", max_tokens=1, forced=[word.vocab_size]))


@pytest.mark.parametrize("spec", ["word", "char", "bpe:300"])
def test_token_pieces_join_to_the_decoded_text(spec):
    tokenizer = train_tokenizer(spec, [VERSE + "naïve café\n"])
    text = "ROMEO: naïve café, “wherefore” 😀 art thou?\nJULIET:"
    ids = tokenizer.encode(text)
    pieces = token_pieces(tokenizer, ids)
    assert len(pieces) == len(ids)
    assert "".join(pieces) == tokenizer.decode(ids)
    if spec == "bpe:300":  # the emoji is 4 bytes: its last byte's token carries the whole character
        assert "😀" in pieces and "" in pieces


def test_sampler_probs_is_what_next_token_draws_from():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    assert sampler_probs(logits, SampleConfig(greedy=True)).tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]
    probs = sampler_probs(logits, SampleConfig(temperature=0.7, top_k=3))
    assert probs[0, 3:].sum() == 0 and probs.sum().item() == pytest.approx(1.0)
    many = logits.expand(5000, -1)
    ids = next_token(many, SampleConfig(temperature=0.7, top_k=3), torch.Generator().manual_seed(0))
    freq = torch.bincount(ids, minlength=5).double() / ids.numel()
    assert torch.allclose(freq, probs[0].double(), atol=0.03)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_score_tokens_splits_the_total_that_evaluate_reports(word, softmax):
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=word.vocab_size, embedding_dim=12, hidden_size=12, num_layers=1, dropout=0.0,
                         softmax=softmax, tie_weights=softmax == "full")
    model = LSTMLanguageModel(config).eval()
    text = VERSE * 2
    scores = score_tokens(model, word, text, seq_len=16)  # several chunks, state carried between them
    assert scores.ids == word.encode(text) and len(scores.nll) == len(scores.ids)
    assert scores.nll[0] == pytest.approx(math.log(word.vocab_size))
    whole = total_nll(model, torch.tensor(scores.ids), batch_size=1)
    assert scores.metrics.nll == pytest.approx(whole, rel=1e-5)
    reference = evaluate_text(model, word, text, batch_size=1)
    assert scores.metrics.bits_per_char == pytest.approx(reference.bits_per_char, rel=1e-5)
    assert scores.metrics.num_words == reference.num_words and scores.metrics.num_chars == len(text)
    assert score_tokens(model, word, "").nll == []
