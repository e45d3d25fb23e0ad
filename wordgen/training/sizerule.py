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
* **passes**, how many times the budget reads the training text: `--epochs`
  itself; `--max-steps` x batch x window / tokens; for `--time-budget` an estimate
  from the model's FLOPs per token and a nominal training rate (`NOMINAL_FLOPS`);
* **strength** s = clip(log2(passes / 2) / 2, 0, 1) -- nothing up to two passes, half
  at four, full from eight -- scales every regulariser between its floor and its full value (`FLOOR`,
  `FULL`) and AdamW's weight decay between 0.01 and 0.1 (SGD keeps AWD-LSTM's L2 of
  1.2e-6). A subword-sized vocabulary (`SUBWORD_VOCAB` up to `WORD_VOCAB`: BPE) counts
  only 0.4 of its passes (`SUBWORD_PASS_SHARE`): it overfits later than words;
* the **output layer** (`softmax_for`): from `ADAPTIVE_VOCAB` tokens on, the adaptive
  softmax (Grave et al. 2017), untied; below it, the full softmax tied to the embedding.
  A full layer over a large vocabulary is most of every step's work, so the adaptive one
  reads the text several times as often in the same time;
* **width**: `WIDE` (384) by default; `NARROW` (256) under `SMALL_TEXT` tokens, and for a
  word-sized vocabulary that the budget reads fewer than `FEW_PASSES` times (the passes
  counted for the wide model), where reading more of the text beats a wider model.

The constants and what supports each are in benchmarks/README.md ("The size rule");
tests/test_autosize.py works through examples with numbers. `resolve` applies the
choice to a TrainConfig and keeps every field the caller set.

Not here: measuring the machine (the rate is a constant on purpose: the choice must
not change from run to run on a busy machine), training, printing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from wordgen.config import TrainConfig

WIDE = 384  # hidden size (= embedding size, tied) for most texts
NARROW = 256  # ... under SMALL_TEXT training tokens (a guess: not measured), and below FEW_PASSES (measured)
SMALL_TEXT = 50_000
# Below this many passes a word-vocabulary run gets NARROW: 2 x 256 against 2 x 384 on the word
# plays at 600 s (0.62 passes for 384): 1.810 against 1.856 bits/char; Moby-Dick at 150 s with
# the full softmax (1.7 passes): 1.930 against 1.952 and, on another split, 1.927 against 1.948;
# with the adaptive softmax (4.6 passes estimated for 384): 1.808 against 1.834. Nothing was
# measured between 6 and 8.8 passes (Frankenstein at 150 s, where 384 is the default)
# (benchmarks/results/trials-2026-11-27.jsonl, benchmarks/README.md "The size rule").
FEW_PASSES = 6.0
WORD_VOCAB = 5_000  # vocabularies this large or larger get the SGD recipe
# Vocabularies from SUBWORD_VOCAB up to WORD_VOCAB (BPE-sized) count this share of their passes
# towards the strength: they overfit later than words. Measured with bpe:2000 on equal token
# budgets (what the rule's 2 x 384 model reads in 150 s on a quiet machine), validation bits/char:
# Dorian Gray, 12.8 passes: s 1 (the rule before) 1.925, s 0.5 1.882, s 0.25 1.907; Frankenstein,
# 16 passes: s 1 1.990, s 0.5 1.956 (and s 0.18, in 150 s, 1.990); Moby-Dick, 4.6 passes:
# s 0.58 2.160, s 0 2.148 (benchmarks/results/trials-2026-11-27.jsonl). The rule sees its own
# estimate of the passes (about 2/3 of these: 10.3, 9.7, 3.2), and 0.4 of it gives s 0.52, 0.48
# and 0; at 600 s (39-41 passes estimated) the two short books stay at full strength. Only 2 000
# tokens was measured; the band's lower end is judgement: more symbols than an alphabet's
# characters with punctuation (a byte-level BPE starts from 256 bytes). Character vocabularies
# keep every pass (not measured this way).
SUBWORD_VOCAB = 300
SUBWORD_PASS_SHARE = 0.4
# From this vocabulary size on the output layer is the adaptive softmax (untied), below it the
# full one (tied). Measured at 150 s (benchmarks/README.md, "The size rule"): Moby-Dick's 19 575
# words read 5.7 times instead of 1.7 and reached 1.798 bits/char against 1.930; Frankenstein's
# 7 139, where the full layer is about half of each step, lost a little (1.640 against 1.617-1.624).
ADAPTIVE_VOCAB = 10_000
RECIPES = {
    "adamw": {"optimizer": "adamw", "lr": 6e-3, "grad_clip": 1.0, "batch_size": 32, "seq_len": 64},
    "sgd": {"optimizer": "sgd", "lr": 20.0, "grad_clip": 0.25, "batch_size": 20, "seq_len": 35},
}
# Training FLOP/s (by the count of wordgen.model.forward_flops_per_token, x3) assumed when a
# time budget has to be turned into passes, by device and precision. CPU: what 2 cores of an
# AMD EPYC reached in benchmarks/README.md's training rows (0.9-1.0e11 in float32, 1.3-1.5e11
# under bf16 autocast, 2 x 384 word and 2 x 512 char models); a GPU's figure is a guess (no GPU
# in these sessions). Small models run below it (per-step latency), so their passes are
# overestimated. A machine 3x faster or slower moves the strength by log2(3)/2 = 0.8 at most,
# and only below eight passes: early stopping is the safety net either way.
NOMINAL_FLOPS = {("cpu", "fp32"): 1.0e11, ("cpu", "bf16"): 1.5e11, ("cuda", "fp32"): 2e12, ("cuda", "bf16"): 5e12,
                 ("mps", "fp32"): 5e11, ("mps", "bf16"): 5e11}
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
    """The passes the strength is taken from: SUBWORD_PASS_SHARE of them for a subword-sized vocabulary."""
    if passes is None or not SUBWORD_VOCAB <= vocab_size < WORD_VOCAB:
        return passes
    return passes * SUBWORD_PASS_SHARE


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
                    device: str = "cpu") -> float | None:
    """How many times the run's budget reads the training text (the smallest of its limits).

    Batch and window left at None are the vocabulary's recipe's. A time budget is
    converted with the FLOPs per token of a `width`-wide model with the output layer
    the config names or `softmax_for` picks (wordgen.model.forward_flops_per_token,
    x3 for training) at NOMINAL_FLOPS.
    """
    from wordgen.model import estimated_adaptive_flops, forward_flops_per_token  # torch: imported only when training

    recipe = RECIPES[recipe_for(vocab_size)]
    tokens = max(1, train_tokens)
    limits = []
    if config.epochs is not None:
        limits.append(config.epochs)
    if config.max_steps is not None:
        batch, window = config.batch_size or recipe["batch_size"], config.seq_len or recipe["seq_len"]
        limits.append(config.max_steps * batch * window / tokens)
    if config.time_budget is not None:
        model = replace(config.model, vocab_size=vocab_size, hidden_size=config.model.hidden_size or width,
                        embedding_dim=config.model.embedding_dim or config.model.hidden_size or width,
                        softmax=config.model.softmax or softmax_for(vocab_size))
        head = estimated_adaptive_flops(model) if model.output_layer() == "adaptive" else None
        precision = "bf16" if config.precision == "bf16" else "fp32"
        rate = NOMINAL_FLOPS.get((device.split(":")[0], precision), NOMINAL_FLOPS[("cpu", precision)])
        limits.append(config.time_budget * rate / (3 * forward_flops_per_token(model, head)) / tokens)
    return min(limits) if limits else None


def resolve(config: TrainConfig, train_tokens: int, vocab_size: int, device: str = "cpu") -> tuple[TrainConfig, Choice]:
    """`config` with every field it left at None filled in by `choose`; the choice beside it.

    Fields the caller set are kept, including a width (the passes are then
    estimated for that width) and an optimizer (its own recipe then fills the rest).
    """
    width = config.model.hidden_size or config.model.embedding_dim or (NARROW if train_tokens < SMALL_TEXT else WIDE)
    passes = expected_passes(config, train_tokens, vocab_size, width, device)
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


def chosen_fields(config: TrainConfig) -> list[str]:
    """The names `resolve` will fill in (model fields, then training fields)."""
    training = [k for k in ("optimizer", "lr", "grad_clip", "batch_size", "seq_len", "weight_decay")
                if getattr(config, k) is None]
    return [*config.model.unresolved(), *training]


def describe(config: TrainConfig, choice: Choice, chosen: list[str]) -> str:
    """One line for `wordgen train` to print: the inputs, then every value, '(given)' where not chosen."""
    m = config.model
    passes = "unknown" if choice.passes is None else f"{choice.passes:.1f}"
    share = counted_passes(choice.vocab_size, choice.passes) != choice.passes
    counted = f" ({SUBWORD_PASS_SHARE:g} of them counted for a subword vocabulary)" if share else ""

    def show(label: str, name: str, value) -> str:
        text = f"{label} {value:g}" if isinstance(value, (int, float)) else f"{label} {value}"
        return text + ("" if name in chosen else " (given)")

    parts = [f"{m.num_layers} x {m.hidden_size}" + ("" if "hidden_size" in chosen else " (given)"),
             show("softmax", "softmax", m.softmax + (" tied" if m.tied() else "")),
             *(show(label, name, getattr(m, name)) for label, name in (
                 ("dropout", "dropout"), ("input", "input_dropout"), ("hidden", "hidden_dropout"),
                 ("embedding", "embedding_dropout"), ("weight-drop", "weight_dropout"))),
             show("weight-decay", "weight_decay", config.weight_decay),
             show("optimizer", "optimizer", config.optimizer), show("lr", "lr", config.lr),
             show("clip", "grad_clip", config.grad_clip),
             f"batch {config.batch_size} x {config.seq_len}"
             + ("" if "batch_size" in chosen and "seq_len" in chosen else " (given)")]
    return (f"size rule: {choice.train_tokens:,} training tokens, vocabulary {choice.vocab_size:,}, "
            f"about {passes} passes in the budget{counted} -> strength {choice.strength:g}: " + ", ".join(parts))
