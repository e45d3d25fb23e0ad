"""The size rule with worked numbers: a pure function of tokens, vocabulary and passes."""

import math
from dataclasses import replace

import pytest

from wordgen.config import ModelConfig, TrainConfig
from wordgen.training import sizerule as autosize
from wordgen.training.plan import Plan
from wordgen.training.sizerule import choose, expected_passes, resolve, strength


def test_strength_is_zero_up_to_two_passes_and_full_from_eight():
    assert strength(None) == 0 and strength(1.0) == 0 and strength(2.0) == 0
    assert strength(3.0) == pytest.approx(0.2925, abs=1e-4)  # log2(3 / 2) / 2
    assert strength(4.0) == 0.5
    assert strength(8.0) == 1 and strength(500.0) == 1


def test_a_small_book_read_ten_times_gets_everything_and_the_sgd_recipe():
    # Frankenstein, word level: 83 603 training tokens, 7 139 words; 800 000 tokens of budget.
    c = choose(83_603, 7_139, 800_000 / 83_603)  # 9.57 passes
    assert c.strength == 1 and c.width == 384 and c.recipe == "sgd"  # 7 139 >= 5 000 words
    assert (c.dropout, c.input_dropout, c.hidden_dropout, c.embedding_dropout, c.weight_dropout) == \
        (0.4, 0.4, 0.2, 0.1, 0.3)
    assert c.weight_decay == 1.2e-6  # SGD's L2 (AWD-LSTM)


def test_a_longer_book_read_three_times():
    # Moby-Dick-sized: 263 000 tokens, 17 000 words, 800 000 tokens of budget = 3.04 passes.
    passes = 800_000 / 263_000
    s = math.log2(passes / 2) / 2  # 0.3024
    c = choose(263_000, 17_000, passes)
    assert c.strength == pytest.approx(s, abs=1e-3) == pytest.approx(0.302, abs=1e-3)
    # Each regulariser: floor + s * (full - floor).
    assert c.dropout == pytest.approx(0.1 + s * 0.3, abs=1e-3) == pytest.approx(0.191, abs=1e-3)
    assert c.input_dropout == pytest.approx(0.191, abs=1e-3)
    assert c.hidden_dropout == pytest.approx(0.130, abs=1e-3)
    assert c.embedding_dropout == pytest.approx(0.030, abs=1e-3)
    assert c.weight_dropout == pytest.approx(0.091, abs=1e-3)
    assert c.recipe == "sgd" and c.width == 256 and c.weight_decay == 1.2e-6  # fewer than FEW_PASSES


def test_a_big_character_corpus_read_once_and_a_half_gets_the_floor():
    # The built-in plays in characters: 4 070 000 tokens, 77 symbols, 1.4 passes.
    c = choose(4_070_000, 77, 1.4)
    assert c.recipe == "adamw" and c.strength == 0
    assert (c.dropout, c.input_dropout, c.hidden_dropout, c.embedding_dropout, c.weight_dropout) == \
        (0.1, 0.1, 0.1, 0.0, 0.0)
    assert c.weight_decay == 0.01
    # At 4 passes counted (16 read: characters count a quarter), half way: AdamW's decay is the
    # geometric middle of 0.01 and 0.1.
    assert choose(4_070_000, 77, 16.0).weight_decay == pytest.approx(0.0316, abs=1e-4)


def test_a_word_vocabulary_read_fewer_than_six_times_gets_the_narrow_model():
    # Moby-Dick at 150 s: 248 404 tokens, 19 575 words, about 4.6 passes for the wide model.
    assert choose(248_404, 19_575, 4.6).width == 256
    assert choose(248_404, 19_575, 6.0).width == 384  # from FEW_PASSES on: the wide model
    assert choose(248_404, 19_575, None).width == 384  # passes unknown: no evidence to narrow
    assert choose(4_070_000, 77, 1.4).width == 384  # characters: the rule is for word vocabularies


def test_a_tiny_text_gets_the_narrow_model():
    c = choose(20_000, 3_000, 200.0)
    assert c.width == 256 and c.strength == 1 and c.recipe == "adamw" and c.weight_decay == 0.1


def test_a_subword_vocabulary_counts_part_of_its_passes():
    # Dorian Gray in bpe:2000: 123 327 training tokens, about 9.72 passes estimated for 150 s.
    assert autosize.SUBWORD_PASS_SHARE == 0.4
    assert autosize.counted_passes(2_000, 9.72) == pytest.approx(3.888)
    c = choose(123_327, 2_000, 9.72)
    assert c.strength == pytest.approx(math.log2(3.888 / 2) / 2, abs=1e-3) == pytest.approx(0.480, abs=1e-3)
    assert c.recipe == "adamw" and c.width == 384
    assert c.dropout == pytest.approx(0.1 + 0.480 * 0.3, abs=1e-3) and c.weight_dropout == pytest.approx(0.144, abs=1e-3)
    assert choose(370_403, 2_000, 3.24).strength == 0  # Moby-Dick at 150 s: 1.3 passes counted
    assert choose(116_498, 2_000, 41.2).strength == 1  # a 600-s budget: 16.5 counted, still full
    # The bands: words from WORD_VOCAB on count every pass, characters below SUBWORD_VOCAB CHAR_PASS_SHARE.
    assert autosize.counted_passes(5_000, 9.72) == 9.72 and choose(83_603, 7_139, 9.72).strength == 1
    assert autosize.counted_passes(2_000, None) is None
    line = Plan.build(TrainConfig(epochs=10.0), train_tokens=123_327, vocab_size=2_000).summary()[0]
    assert "about 10.0 passes in the budget (0.4 of them counted for a subword vocabulary) -> strength 0.5:" in line


def test_characters_count_a_quarter_of_their_passes():
    # A 1 MB text of plays at 600 s: 12.9 passes measured, 3.2 counted.
    assert autosize.CHAR_PASS_SHARE == 0.25 and autosize.counted_passes(299, 12.9) == pytest.approx(3.225)
    assert choose(933_000, 77, 12.9).strength == pytest.approx(math.log2(3.225 / 2) / 2, abs=1e-3)
    assert choose(377_366, 84, 32.0).strength == 1  # Frankenstein at 600 s: 8 counted, full strength
    assert choose(377_366, 84, 8.0).strength == 0  # ... and at 150 s: 2 counted, none
    line = Plan.build(TrainConfig(epochs=12.0), train_tokens=933_000, vocab_size=77).summary()[0]
    assert "(0.25 of them counted for a character vocabulary)" in line


def test_passes_from_each_kind_of_budget():
    # The smallest limit wins: 100 steps x (32 x 64, the AdamW recipe's batch) over 409 600 tokens.
    config = TrainConfig(epochs=3, max_steps=100)
    assert expected_passes(config, 409_600, 1000, 384) == pytest.approx(0.5)
    # ... and with a word vocabulary, the SGD recipe's 20 x 35.
    assert expected_passes(config, 409_600, 7_000, 384) == pytest.approx(100 * 700 / 409_600)
    assert expected_passes(TrainConfig(epochs=3), 409_600, 1000, 384) == 3
    # 600 s at the CPU's nominal float32 rate (1e11 FLOP/s), 2 x 384 LSTM, 7 139 words:
    # forward FLOPs per token = 2*4*384*(384+384) per layer x 2 + 2*384*7139 = 10 201 344; training x3.
    timed = TrainConfig(time_budget=600, precision="fp32", model=ModelConfig(num_layers=2))
    flops = 2 * (2 * 4 * 384 * 768) + 2 * 384 * 7139
    assert flops == 10_201_344
    expected = 600 * 1e11 / (3 * flops) / 83_603
    assert expected_passes(timed, 83_603, 7_139, 384) == pytest.approx(expected) == pytest.approx(23.45, abs=0.01)
    bf16 = TrainConfig(time_budget=600, precision="bf16")
    assert expected_passes(bf16, 83_603, 7_139, 384) == pytest.approx(expected * 1.5)
    # A measured rate replaces the nominal one; a character limit counts with the text's characters per token.
    assert expected_passes(timed, 83_603, 7_139, 384, flops=2e11) == pytest.approx(expected * 2)
    chars = TrainConfig(max_chars=2_000_000, time_budget=600, precision="fp32")
    assert expected_passes(chars, 100_000, 7_139, 384, chars_per_token=5.0) == pytest.approx(4.0)
    assert expected_passes(chars, 100_000, 7_139, 384) > 4  # without the ratio the limit is not counted


def test_resolve_keeps_what_the_caller_set_and_fills_the_rest():
    config = TrainConfig(epochs=8.0, model=ModelConfig(hidden_size=128, dropout=0.05))
    resolved, choice = resolve(config, 100_000, 5_000)
    m = resolved.model
    assert (m.hidden_size, m.embedding_dim, m.dropout) == (128, 128, 0.05)  # given; tied embedding follows
    assert (m.input_dropout, m.weight_dropout) == (0.4, 0.3) and choice.strength == 1
    assert (resolved.optimizer, resolved.lr, resolved.grad_clip, resolved.batch_size, resolved.seq_len,
            resolved.weight_decay) == ("sgd", 20.0, 0.25, 20, 35, 1.2e-6)
    assert config.model.input_dropout is None and config.lr is None  # the caller's config is not changed
    plan = Plan.build(config, train_tokens=100_000, vocab_size=5_000)
    # The plan is the rule's choice, with the vocabulary and the validation interval and slice filled in too.
    planned = plan.config
    # 100 000 tokens in 20 rows of 5 000: 143 windows of 35 per pass, a check every 71 steps.
    assert (planned.model.vocab_size, planned.eval_interval) == (5_000, 71) and plan.choice == choice
    assert replace(planned, model=replace(planned.model, vocab_size=0), eval_interval=None,
                   eval_tokens=None) == resolved
    assert plan.chosen == ["model.embedding_dim", "model.softmax", "model.input_dropout", "model.hidden_dropout",
                           "model.embedding_dropout", "model.weight_dropout", "optimizer", "lr", "grad_clip",
                           "batch_size", "seq_len", "weight_decay"]
    line = plan.summary()[0]
    assert line.startswith("size rule: 100,000 training tokens, vocabulary 5,000, about 8.0 passes in the budget -> strength 1: 2 x 128 (given)")
    assert "2 x 128 (given)" in line and "dropout 0.05 (given)" in line and "optimizer sgd, lr 20," in line
    assert "softmax full tied," in line and (m.softmax, m.tie_weights) == ("full", True)
    assert line.endswith("batch 20 x 35")


def test_naming_the_optimizer_brings_its_own_recipe():
    config = TrainConfig(epochs=8.0, optimizer="adamw", lr=3e-3)
    resolved, choice = resolve(config, 100_000, 7_000)
    assert (resolved.optimizer, resolved.lr, resolved.grad_clip, resolved.batch_size, resolved.seq_len) == \
        ("adamw", 3e-3, 1.0, 32, 64)
    assert resolved.weight_decay == choice.weight_decay == 0.1  # AdamW's decay at strength 1


def test_a_large_vocabulary_gets_the_untied_adaptive_softmax():
    assert autosize.ADAPTIVE_VOCAB == 10_000
    assert choose(248_404, 19_575, 5.0).softmax == "adaptive" and choose(83_603, 7_139, 9.6).softmax == "full"
    assert autosize.softmax_for(9_999) == "full" and autosize.softmax_for(10_000) == "adaptive"
    resolved, choice = resolve(TrainConfig(epochs=8.0), 248_404, 19_575)
    m = resolved.model
    assert (m.softmax, m.tie_weights, m.embedding_dim, m.hidden_size) == ("adaptive", False, 384, 384)
    assert "softmax adaptive," in Plan.build(TrainConfig(epochs=8.0), train_tokens=248_404, vocab_size=19_575).summary()[0]
    # Given, the output layer is kept either way; a given width is the embedding's too (untied).
    full = resolve(TrainConfig(epochs=5.0, model=ModelConfig(softmax="full")), 248_404, 19_575)[0].model
    assert (full.softmax, full.tie_weights) == ("full", True)
    given = resolve(TrainConfig(epochs=5.0, model=ModelConfig(hidden_size=200)), 248_404, 19_575)[0].model
    assert (given.hidden_size, given.embedding_dim, given.tied()) == (200, 200, False)


def test_a_time_budget_counts_the_adaptive_layer_at_its_expected_cost():
    # 2 x 384, 19 575 words, cutoffs 2000 and 10 000: the head is 384 x (2000 + 2); the tails
    # (96 and 24 wide) are counted for TAIL_SHARE = 15 % of the tokens each.
    from wordgen.model import estimated_adaptive_flops, forward_flops_per_token

    config = ModelConfig(vocab_size=19_575, embedding_dim=384, hidden_size=384, softmax="adaptive")
    head = 2 * 384 * 2002
    tails = 2 * 96 * (384 + 8000) + 2 * 24 * (384 + 9575)
    assert estimated_adaptive_flops(config) == pytest.approx(head + 0.15 * tails) == pytest.approx(1_850_700, abs=1)
    per_token = forward_flops_per_token(config, estimated_adaptive_flops(config))
    timed = TrainConfig(time_budget=600, precision="fp32")
    assert expected_passes(timed, 248_404, 19_575, 384) == pytest.approx(600 * 1e11 / (3 * per_token) / 248_404)
    # The full layer would cost 2 * 384 * 19 575 = 15.0 M per token, 8 x the adaptive one.
    full = expected_passes(TrainConfig(time_budget=600, precision="fp32", model=ModelConfig(softmax="full")),
                           248_404, 19_575, 384)
    assert expected_passes(timed, 248_404, 19_575, 384) > 3 * full


def test_the_lab_leaves_its_output_layer_to_the_rule():
    from wordgen import lab

    config = lab.lab_train_config()
    word = resolve(config, 1_122_273, 10_000)[0].model  # the plays with the lab's 10 000-word cap
    assert (word.softmax, word.tied(), word.hidden_size, word.num_layers) == ("adaptive", False, 256, 1)
    char = resolve(config, 4_070_000, 77)[0].model
    assert (char.softmax, char.tied()) == ("full", True)
