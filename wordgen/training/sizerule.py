"""The size rule: recipe, width, dropout and weight decay chosen from the training text and the budget.

A book is 0.1-0.3 M word tokens and a 10-minute budget reads it 10-60 times; the
built-in plays are 1.2 M and are read about twice. One fixed setting cannot suit
both: unregularised, a small text is memorised or the run stalls (issue 10), and
heavy dropout on a big one only slows learning. So the fields a config leaves at
None are filled in from three numbers, by `choose`:

* the **vocabulary** picks the optimisation recipe (`RECIPES`): below `WORD_VOCAB`
  tokens (characters, small BPE) AdamW at 6e-3, batches of 32 x 64, clip 1 -- the
  character search's winner; from `WORD_VOCAB` on, plain SGD at lr 20, clip 0.25,
  batches of 20 x 35 (word_language_model's recipe), which beat AdamW on a book;
* **passes**, how many times the budget reads the training text: `epochs`
  itself; `max_steps` x batch x window / tokens; for `time_budget` an estimate
  from the model's FLOPs per token and the training rate in FLOP/s: measured on
  this machine for this model by the plan (wordgen.training.probe), or, where
  nothing was measured, a nominal one (`NOMINAL_FLOPS`);
* **strength** s = clip(log2(passes / 2) / 2, 0, 1) -- nothing up to two passes, half
  at four, full from eight -- scales every regulariser between its floor and its full value (`FLOOR`,
  `FULL`) and AdamW's weight decay between 0.01 and 0.1 (SGD keeps AWD-LSTM's L2 of
  1.2e-6). A subword-sized vocabulary (`SUBWORD_VOCAB` up to `WORD_VOCAB`: BPE) counts
  only 0.4 of its passes (`SUBWORD_PASS_SHARE`), characters 0.25 (`CHAR_PASS_SHARE`): they
  overfit later than words;
* the **output layer** (`softmax_for`): from `ADAPTIVE_VOCAB` tokens on, the adaptive
  softmax (Grave et al. 2017), untied; below it, the full softmax tied to the embedding.
  A full layer over a large vocabulary is most of every step's work, so the adaptive one
  reads the text several times as often in the same time;
* **width**: `WIDE` (384) by default; `NARROW` (256) under `SMALL_TEXT` tokens, and for a
  word-sized vocabulary that the budget reads fewer than `FEW_PASSES` times (the passes
  counted for the wide model), where reading more of the text beats a wider model.

The constants and what supports each are in docs/development/log.md ("The size rule");
tests/test_autosize.py works through examples with numbers. `resolve` applies the
choice to a TrainConfig and keeps every field the caller set; wordgen.training.plan
marks what came from where and describes it.

Not here: measuring the machine (probe.py), training, describing the choice (plan.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from wordgen.config import TrainConfig

# Every figure behind these constants is in docs/development/log.md, "The size rule".
WIDE = 384  # hidden size (= embedding size, tied) for most texts
NARROW = 256  # under SMALL_TEXT training tokens (a guess), and below FEW_PASSES (measured)
SMALL_TEXT = 50_000
# Below this many passes a word-vocabulary run gets NARROW: reading the text more often beat a
# wider model there (the plays and Moby-Dick); the threshold itself is judgement.
FEW_PASSES = 6.0
WORD_VOCAB = 5_000  # vocabularies this large or larger get the SGD recipe
# Vocabularies from SUBWORD_VOCAB up to WORD_VOCAB (BPE-sized) count this share of their passes
# towards the strength: they overfit later than words, and full strength held bpe:2000 back.
# Only 2 000 tokens was measured; the band's lower end is judgement (an alphabet's characters
# with punctuation, and the 256 bytes a byte-level BPE starts from, stay below it).
SUBWORD_VOCAB = 300
SUBWORD_PASS_SHARE = 0.4
# A character vocabulary (below SUBWORD_VOCAB) counts this share of its (measured) passes: on a
# 1 MB text of plays at 600 s, 0.25 beat 0.4 and 1 (docs/development/log.md, "The size rule").
CHAR_PASS_SHARE = 0.25
# From this vocabulary size on the output layer is the adaptive softmax (untied), below it the
# full one (tied): over a large vocabulary the full layer is most of each step; over a smaller
# one the adaptive layer saves little and loses the tied embedding.
ADAPTIVE_VOCAB = 10_000
RECIPES = {
    "adamw": {"optimizer": "adamw", "lr": 6e-3, "grad_clip": 1.0, "batch_size": 32, "seq_len": 64},
    "sgd": {"optimizer": "sgd", "lr": 20.0, "grad_clip": 0.25, "batch_size": 20, "seq_len": 35},
}
# Training FLOP/s (by the count of wordgen.model.forward_flops_per_token, x3) assumed when a
# time budget has to be turned into passes and no rate was measured, by device and precision:
# the CPU's are what the training benchmarks reached, the GPU's and MPS's guesses.
NOMINAL_FLOPS = {("cpu", "fp32"): 1.0e11, ("cpu", "bf16"): 1.5e11, ("cuda", "fp32"): 2e12, ("cuda", "bf16"): 5e12,
                 ("mps", "fp32"): 5e11, ("mps", "bf16"): 5e11}
# The fields whose value depends on the passes: a time budget needs a measured rate to fill them.
PASS_FIELDS = ("model.hidden_size", "model.embedding_dim", "model.dropout", "model.input_dropout",
               "model.hidden_dropout", "model.embedding_dropout", "model.weight_dropout", "weight_decay")
# Each regulariser at full strength (s = 1) and at none (s = 0); in between, linear in s.
FULL = {"dropout": 0.4, "input_dropout": 0.4, "hidden_dropout": 0.2, "embedding_dropout": 0.1,
        "weight_dropout": 0.3}
FLOOR = {"dropout": 0.1, "input_dropout": 0.1, "hidden_dropout": 0.1, "embedding_dropout": 0.0,
         "weight_dropout": 0.0}
ADAMW_DECAY = (0.01, 0.1)  # AdamW's decoupled decay at strength 0 and 1, geometric in between
SGD_DECAY = 1.2e-6  # SGD's L2 coefficient (Merity et al. 2017's setting for the AWD-LSTM)


@dataclass(frozen=True)
class Choice:
    """What the rule picked, and the numbers it picked it from."""

    train_tokens: int
    vocab_size: int
    passes: float | None  # None: unknown (no budget to read), taken as one pass
    strength: float  # s in [0, 1]
    recipe: str  # a key of RECIPES
    softmax: str  # "full" (tied) or "adaptive" (untied)
    width: int
    dropout: float
    input_dropout: float
    hidden_dropout: float
    embedding_dropout: float
    weight_dropout: float
    weight_decay: float

    def model_fields(self) -> dict:
        return {"embedding_dim": self.width, "hidden_size": self.width, "softmax": self.softmax,
                "dropout": self.dropout, "input_dropout": self.input_dropout, "hidden_dropout": self.hidden_dropout,
                "embedding_dropout": self.embedding_dropout, "weight_dropout": self.weight_dropout}


def recipe_for(vocab_size: int) -> str:
    """'sgd' for word-sized vocabularies, 'adamw' below WORD_VOCAB."""
    return "sgd" if vocab_size >= WORD_VOCAB else "adamw"


def softmax_for(vocab_size: int) -> str:
    """'adaptive' from ADAPTIVE_VOCAB tokens on, 'full' below."""
    return "adaptive" if vocab_size >= ADAPTIVE_VOCAB else "full"


def counted_passes(vocab_size: int, passes: float | None) -> float | None:
    """The passes the strength is taken from: a share of them below a word-sized vocabulary (pass_share)."""
    return passes if passes is None else passes * pass_share(vocab_size)


def pass_share(vocab_size: int) -> float:
    """CHAR_PASS_SHARE below SUBWORD_VOCAB, SUBWORD_PASS_SHARE up to WORD_VOCAB, 1 for words."""
    if vocab_size >= WORD_VOCAB:
        return 1.0
    return SUBWORD_PASS_SHARE if vocab_size >= SUBWORD_VOCAB else CHAR_PASS_SHARE


def strength(passes: float | None) -> float:
    """s = clip(log2(passes / 2) / 2, 0, 1): 0 up to two passes, 0.5 at four, 1 from eight on."""
    if passes is None or passes <= 2:
        return 0.0
    return min(1.0, math.log2(passes / 2) / 2)


def choose(train_tokens: int, vocab_size: int, passes: float | None) -> Choice:
    """The rule itself: a pure function of the text's size, the vocabulary and the passes."""
    s = strength(counted_passes(vocab_size, passes))
    recipe = recipe_for(vocab_size)
    few = recipe == "sgd" and passes is not None and passes < FEW_PASSES
    width = NARROW if train_tokens < SMALL_TEXT or few else WIDE
    reg = {name: round(FLOOR[name] + s * (FULL[name] - FLOOR[name]), 3) for name in FULL}
    return Choice(train_tokens=train_tokens, vocab_size=vocab_size, passes=passes, strength=round(s, 3),
                  recipe=recipe, softmax=softmax_for(vocab_size), width=width,
                  weight_decay=weight_decay(recipe, s), **reg)


def weight_decay(recipe: str, s: float) -> float:
    """SGD: the fixed L2 of SGD_DECAY; AdamW: ADAMW_DECAY's ends, geometric in the strength s."""
    low, high = ADAMW_DECAY
    return SGD_DECAY if recipe == "sgd" else round(low * (high / low) ** s, 4)


def expected_passes(config: TrainConfig, train_tokens: int, vocab_size: int, width: int,
                    device: str = "cpu", flops: float | None = None,
                    chars_per_token: float | None = None) -> float | None:
    """How many times the run's budget reads the training text (the smallest of its limits).

    Batch and window left at None are the vocabulary's recipe's; a character limit
    counts with the training text's `chars_per_token` (none given: not counted). A time budget is
    converted with the FLOPs per token of a `width`-wide model (`training_flops_per_token`)
    at `flops` FLOP/s, the rate measured on this machine, or NOMINAL_FLOPS without one.
    """
    recipe = RECIPES[recipe_for(vocab_size)]
    tokens = max(1, train_tokens)
    limits = []
    if config.epochs is not None:
        limits.append(config.epochs)
    if config.max_steps is not None:
        batch, window = config.batch_size or recipe["batch_size"], config.seq_len or recipe["seq_len"]
        limits.append(config.max_steps * batch * window / tokens)
    if config.max_chars is not None and chars_per_token:
        limits.append(config.max_chars / chars_per_token / tokens)
    if config.time_budget is not None:
        if flops is None:
            precision = "bf16" if config.precision == "bf16" else "fp32"
            flops = NOMINAL_FLOPS.get((device.split(":")[0], precision), NOMINAL_FLOPS[("cpu", precision)])
        limits.append(config.time_budget * flops / training_flops_per_token(config, vocab_size, width) / tokens)
    return min(limits) if limits else None


def training_flops_per_token(config: TrainConfig, vocab_size: int, width: int) -> float:
    """FLOPs one trained token costs (3x the forward's: wordgen.model.forward_flops_per_token) for a `width`-wide
    model with the output layer `config` names or `softmax_for` picks."""
    from wordgen.model import estimated_adaptive_flops, forward_flops_per_token  # torch: imported only when training

    model = replace(config.model, vocab_size=vocab_size, hidden_size=config.model.hidden_size or width,
                    embedding_dim=config.model.embedding_dim or config.model.hidden_size or width,
                    softmax=config.model.softmax or softmax_for(vocab_size))
    head = estimated_adaptive_flops(model) if model.output_layer() == "adaptive" else None
    return 3 * forward_flops_per_token(model, head)


def resolve(config: TrainConfig, train_tokens: int, vocab_size: int, device: str = "cpu",
            flops: float | None = None, chars_per_token: float | None = None) -> tuple[TrainConfig, Choice]:
    """`config` with every field it left at None filled in by `choose`; the choice beside it.

    Fields the caller set are kept, including a width (the passes are then
    estimated for that width) and an optimizer (its own recipe then fills the rest).
    flops, chars_per_token: the training FLOP/s measured on this machine and the text's
    characters per token (see `expected_passes`).
    """
    width = config.model.hidden_size or config.model.embedding_dim or (NARROW if train_tokens < SMALL_TEXT else WIDE)
    passes = expected_passes(config, train_tokens, vocab_size, width, device, flops, chars_per_token)
    choice = choose(train_tokens, vocab_size, passes)
    fields = {k: v for k, v in choice.model_fields().items() if getattr(config.model, k) is None}
    model = replace(config.model, **fields)
    if model.tie_weights is None:  # config.json records whether the output layer was tied
        model.tie_weights = model.tied()
    if config.model.hidden_size is not None and config.model.embedding_dim is None:
        model.embedding_dim = model.hidden_size  # the embedding follows a given width
    if model.tied() and config.model.embedding_dim is not None and config.model.hidden_size is None:
        model.hidden_size = model.embedding_dim
    recipe = RECIPES[config.optimizer or choice.recipe]
    if recipe["optimizer"] != choice.recipe:  # the caller named the other optimizer: its decay too
        choice = replace(choice, recipe=recipe["optimizer"],
                         weight_decay=weight_decay(recipe["optimizer"], choice.strength))
    training = {k: v for k, v in recipe.items() if getattr(config, k) is None}
    decay = choice.weight_decay if config.weight_decay is None else config.weight_decay
    return replace(config, model=model, weight_decay=decay, **training), choice
