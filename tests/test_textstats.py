"""wordgen.analysis.textstats and wordgen.analysis.embeddings: exact worked examples, then the model-facing parts
(including evaluate.continuation_log_likelihood, the model's view of its own samples)."""

import math

import numpy as np
import pytest
import torch

from wordgen.analysis.embeddings import (
    embedding_matrix,
    frequent_tokens,
    map_figure,
    nearest_neighbours,
    project_2d,
    token_label,
)
from wordgen.analysis.textstats import (
    Loop,
    NgramIndex,
    describe_ngram,
    distinct_n,
    find_loop,
    find_text_loop,
    ngrams,
    text_tokens,
    token_offsets,
    words,
)
from wordgen.errors import ConfigError
from wordgen.evaluate import continuation_log_likelihood
from wordgen.tokenization import WordTokenizer

# ---------------------------------------------------------------- loops


def test_a_greedy_cycle_is_found_with_its_start_and_period():
    tokens = "a b c d e c d e c d e c d".split()
    loop = find_loop(tokens)
    assert loop == Loop(ngram=("c", "d", "e"), start=2, length=11)
    assert loop.period == 3 and loop.end == 13
    assert loop.repeats == pytest.approx(11 / 3)  # the last cycle is cut short


def test_the_shortest_period_is_reported():
    # "x y x y ..." also has period 4 and 6; the cycle is "x y".
    assert find_loop("x y x y x y x y".split()).ngram == ("x", "y")
    assert find_loop(["the"] * 5) == Loop(ngram=("the",), start=0, length=5)


def test_the_loop_covering_most_tokens_wins():
    tokens = "a a a b c b c b c b c".split()  # "a" x3 covers 3 tokens, "b c" x4 covers 8
    loop = find_loop(tokens)
    assert (loop.ngram, loop.start, loop.length) == (("b", "c"), 3, 8)


def test_chance_repetition_is_not_a_loop():
    assert find_loop("I had had enough".split()) is None
    assert find_loop("a b a b".split()) is None  # two cycles only
    assert find_loop("a b a b".split(), min_repeats=2) == Loop(ngram=("a", "b"), start=0, length=4)
    assert find_loop([]) is None
    assert find_loop("no word here repeats at all".split()) is None


def test_a_loop_in_the_middle_is_found():
    loop = find_loop("start go go go go go stop and so on".split())
    assert (loop.ngram, loop.start, loop.length) == (("go",), 1, 5)


def test_find_text_loop_reports_the_character_where_the_loop_starts():
    text = "ROMEO:\nI am the king, the king, the king, the king"
    loop = find_text_loop(text)
    assert loop.ngram == ("the", "king", ",")
    assert loop.char_start == text.index("the")
    assert text[loop.char_start:].startswith("the king, the king")
    assert describe_ngram(("to", "be", "\n")) == "to be ⏎"


def test_find_text_loop_counts_newlines_as_tokens():
    text = "And so\nI go\nI go\nI go\n"
    loop = find_text_loop(text)
    # The cycle starts at the newline after "so": from there on it is "⏎ I go" three times.
    assert loop.ngram == ("\n", "I", "go") and loop.char_start == text.index("\n")


# ---------------------------------------------------------------- diversity and novelty


def test_distinct_n():
    assert ngrams("a b c".split(), 2) == [("a", "b"), ("b", "c")]
    assert distinct_n("a b a b".split(), 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n("a b a b".split(), 1) == 0.5
    assert distinct_n("a b c d".split(), 3) == 1.0
    assert math.isnan(distinct_n(["a"], 2))


def test_words_are_case_folded_and_skip_punctuation():
    assert text_tokens("O Romeo, Romeo!\n") == ["O", "Romeo", ",", "Romeo", "!", "\n"]
    assert words("O Romeo, ROMEO!\n<unk> 'tis") == ["o", "romeo", "romeo", "<unk>", "'tis"]
    assert token_offsets("O  Romeo,\nhi") == [0, 3, 8, 9, 10]


def test_ngram_index_shares():
    index = NgramIndex.from_texts(["The king, my lord.", "Long live the king"])
    assert index.seen_share("the lord king") == 1.0
    assert index.seen_share("THE KING my lord", 2) == 1.0  # (the king) (king my) (my lord)
    assert index.seen_share("lord the king", 2) == 0.5  # (lord the) is new
    assert index.seen_share("the queen <unk>") == pytest.approx(1 / 3)  # <unk> is never a book's word
    assert index.unseen("The queen and the queen, and <unk>") == ["queen", "and", "<unk>"]
    assert ("long", "live") in index and ("live", "long") not in index
    assert math.isnan(index.seen_share("...", 1))
    with pytest.raises(ValueError):
        index.seen_share("the king", 3)


def test_continuation_log_likelihood_matches_a_direct_computation(shared_trained):
    model, tokenizer = shared_trained.bundle.model, shared_trained.bundle.tokenizer
    prompt, text = "ROMEO:\n", "ROMEO:\nBut soft, what light"
    got = continuation_log_likelihood(model, tokenizer, prompt, text)
    ids = tokenizer.encode(prompt) + tokenizer.encode(text[len(prompt):])
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))  # (1, N, V)
    logp = torch.log_softmax(logits[0].float(), dim=-1)  # (N, V)
    p = len(tokenizer.encode(prompt))
    expected = sum(logp[i - 1, ids[i]].item() for i in range(p, len(ids))) / (len(ids) - p)
    assert got == pytest.approx(expected, abs=1e-4)
    assert got < 0
    assert math.isnan(continuation_log_likelihood(model, tokenizer, prompt, prompt))
    with pytest.raises(ValueError):
        continuation_log_likelihood(model, tokenizer, prompt, "JULIET: hello")


# ---------------------------------------------------------------- embeddings


def test_nearest_neighbours_by_cosine():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])  # (5, 2)
    (row,) = nearest_neighbours(vectors, [0], [0, 1, 2, 3, 4], k=3)
    assert [i for i, _ in row] == [4, 1, 2]  # 4 points the same way as 0, whatever its length
    assert row[0][1] == pytest.approx(1.0) and row[2][1] == pytest.approx(0.0, abs=1e-9)
    # A query outside the candidates gets k neighbours too.
    (row,) = nearest_neighbours(vectors, [3], [0, 1], k=2)
    assert [i for i, _ in row] == [1, 0] or [i for i, _ in row] == [0, 1]
    assert all(sim < 0 for _, sim in row)
    with pytest.raises(ConfigError):
        nearest_neighbours(vectors, [0], [], k=2)


def test_frequent_tokens_rank_words_and_skip_punctuation_and_unk():
    tok = WordTokenizer.train_from_texts(["the king , the king , the lord ."])
    ranked = frequent_tokens(tok, ["the king , the king , the lord . queen"])
    assert [token_label(tok, i) for i, _ in ranked] == ["the", "king", "lord"]  # queen is <unk>
    assert [n for _, n in ranked] == [3, 2, 1]
    everything = frequent_tokens(tok, ["the king , the king , the lord ."], words_only=False, n=2)
    assert [token_label(tok, i) for i, _ in everything] == ["the", ","]
    assert token_label(tok, tok.token_to_id("\n")) == "⏎"


def test_projections_and_the_map(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 6)).astype(np.float32)  # (12, 6)
    for method in ("pca", "tsne"):
        points = project_2d(vectors, method)
        assert points.shape == (12, 2) and np.isfinite(points).all()
    with pytest.raises(ConfigError):
        project_2d(vectors, "umap")
    with pytest.raises(ConfigError):
        project_2d(vectors[:2], "pca")
    labels = [f"w{i}" for i in range(12)]
    fig = map_figure({"PCA": project_2d(vectors, "pca")}, labels, title="test")
    fig.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 1000
    with pytest.raises(ValueError):
        map_figure({"PCA": np.zeros((3, 2))}, labels)


def test_embedding_matrix_is_a_copy_of_the_model_rows(trained):
    model = trained.bundle.model
    matrix = embedding_matrix(model)
    assert matrix.shape == (model.config.vocab_size, model.config.embedding_dim)
    matrix[0, 0] += 1.0
    assert model.embedding.weight[0, 0].item() != matrix[0, 0]


def test_find_text_loop_gives_the_character_span_of_the_loop():
    text = "Once upon a time the king, the king, the king, the king."
    loop = find_text_loop(text)
    assert text[loop.char_start : loop.char_end] == "the king, the king, the king, the king"  # the last cycle is cut short by "."
