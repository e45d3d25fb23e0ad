"""The recipe of a comparison's runs: one shared by every tokenizer (the default), or the size rule's own per tokenizer.

A comparison should differ in one thing, the tokenization. The size rule
(wordgen.training.sizerule) picks its recipe from the vocabulary: plain SGD at lr 20
in batches of 20 x 35 for word-sized vocabularies, AdamW at 6e-3 in batches of 32 x 64
below them, the adaptive softmax from 10 000 tokens on, and dropouts from how often
the budget reads the text. Left to pick per tokenizer it makes a word row differ from
a character row in optimizer, schedule, batch, window, regularisation and output
layer as well, so "which tokenizer is better" could not be read off the table.

`shared_recipe` therefore settles every recipe field the caller left open once, for
all runs: it asks the size rule for the tokenizer with the smallest vocabulary (the
characters, when listed; the first such in the list on a tie), with the full softmax
tied to the embedding unless the caller named an output layer, and gives every
tokenizer the answer. Why that one:

* it does not depend on the order of the list;
* for a list with characters or BPE it is the recipe the rule already gives those
  (AdamW), the one of the rule's two recipes that was searched for characters and
  also trains the others, whereas SGD at lr 20 was tuned for word vocabularies only;
* the full tied softmax is exact and cheap for small vocabularies; the adaptive one
  is the rule's speed-up for large vocabularies only, so it is used only when the
  caller asks for it, for every tokenizer (`ModelConfig.softmax`).

The regularisation is then the rule's for that tokenizer's text and budget. Under
`TrainConfig.epochs` every tokenizer reads the text equally often, so the choice suits
them all; under a time budget the smallest vocabulary reads it least often, so the
shared dropouts are the lightest the rule would give any of them; a budget of
characters alone (`TrainConfig.max_chars`) the rule does not turn into passes, and it
takes its lightest regularisation then. The
widths follow `CompareSettings.match` (sizing.match_sizes). Fields the caller set are
never changed. Each filled field is marked "compare" in the runs' config.json
(wordgen.training.plan.SOURCES); `recipe_of` reads back what each run trained with, so
the report describes the runs, not the intent.

With CompareSettings.recipe = PER_TOKENIZER nothing is settled here: each run's own
plan applies the size rule to its own vocabulary, and the report lists each recipe.

Not here: the widths (sizing), training (run), the report's wording (report).
"""

from __future__ import annotations

import dataclasses

from wordgen.compare.records import SHARED, CompareSettings
from wordgen.compare.sizing import Plan
from wordgen.config import TrainConfig
from wordgen.data import default_cache_dir, encode_split
from wordgen.training import sizerule
from wordgen.training.plan import RULE_FIELDS, apply_settings, flat

SOURCE = "compare"  # the mark of a field the comparison set (a key of wordgen.training.plan.SOURCES)
# What makes a recipe, in the order the report lists it (dotted TrainConfig names); sizes are
# CompareSettings.match's business and are reported by sizing.
RECIPE_FIELDS = (
    "optimizer", "lr", "warmup_steps", "lr_min_ratio", "grad_clip", "batch_size", "seq_len", "weight_decay",
    "decay_vectors", "precision", "patience", "plateau_drops", "plateau_factor", "model.num_layers",
    "model.rnn_type", "model.softmax", "model.tie_weights", "model.dropout", "model.input_dropout",
    "model.hidden_dropout", "model.embedding_dropout", "model.weight_dropout", "model.locked_dropout",
    "model.activation_reg", "model.temporal_activation_reg",
)
_FILLED = (*RULE_FIELDS, "model.tie_weights")  # what the rule may fill in (the tie follows the softmax)


def reference(plans: list[Plan]) -> Plan:
    """The plan whose tokenizer has the smallest vocabulary (the first of them on a tie)."""
    return min(plans, key=lambda plan: plan.tokenizer.vocab_size)


def shared_recipe(plans: list[Plan], settings: CompareSettings, dataset) -> tuple[TrainConfig, dict[str, str], str]:
    """The base every run starts from, the fields this settled (marked SOURCE), and how, in words.

    PER_TOKENIZER: the base unchanged, nothing marked. SHARED: every field of the
    recipe (and the width) the base left to the size rule, filled in once as the rule
    fills it for `reference(plans)`, with the full tied softmax unless one was named.
    """
    base = settings.base
    if settings.recipe != SHARED:
        return base, {}, ("the size rule (wordgen.training.sizerule) chose the settings left open from each "
                          "tokenizer's own vocabulary and text, so the rows differ in more than their tokenization")
    from wordgen.device import resolve_device, resolve_precision  # torch: only when a comparison runs

    ref = reference(plans)
    device = resolve_device(base.device)
    asked = dataclasses.replace(base, precision=resolve_precision(base.precision, device),
                                model=dataclasses.replace(base.model, softmax=base.model.softmax or "full"))
    tokens = len(encode_split(dataset["train"], ref.tokenizer, cache_dir=default_cache_dir()))
    resolved, choice = sizerule.resolve(asked, tokens, ref.tokenizer.vocab_size, device.type)
    before, after = flat(base), flat(resolved)
    filled = {name: after[name] for name in _FILLED if before[name] is None}
    config, marked = apply_settings(base, filled, SOURCE)
    passes = "an unknown number of" if choice.passes is None else f"about {choice.passes:.1f}"
    output = ("" if base.model.softmax else "; the output layer is the full softmax tied to the embedding for "
              "every tokenizer (--softmax adaptive asks for the adaptive one for all)")
    how = (f"the size rule's choice (wordgen.training.sizerule) for `{ref.spec}`, the smallest vocabulary of the "
           f"list ({ref.tokenizer.vocab_size:,} tokens, {tokens:,} training tokens, {passes} passes in the budget), "
           f"given to every tokenizer{output}") if filled else "every recipe setting was given"
    return config, marked, how


def recipe_of(config: TrainConfig) -> dict:
    """The recipe a run trained with: RECIPE_FIELDS -> value, from its resolved config."""
    values = flat(config)
    return {name: values[name] for name in RECIPE_FIELDS}


def differences(recipes: list[dict]) -> list[str]:
    """The recipe fields whose values are not the same in every one of `recipes`."""
    return [name for name in RECIPE_FIELDS if len({repr(r.get(name)) for r in recipes}) > 1]


def describe(recipe: dict) -> str:
    """'AdamW at lr 0.006 (warm-up 50 steps, then cosine to 0.1 of it), clip 1, batches of 32 x 64 tokens, ...'."""
    r = recipe
    optimizer = {"adamw": "AdamW", "sgd": "SGD"}.get(r["optimizer"], r["optimizer"])
    output = f"{r['model.softmax']} softmax" + (" tied to the embedding" if r["model.tie_weights"] else ", untied")
    dropouts = ", ".join(f"{label} {r['model.' + name]:g}" for label, name in (
        ("input", "input_dropout"), ("hidden", "hidden_dropout"), ("embedding", "embedding_dropout"),
        ("weight-drop", "weight_dropout")))
    patience = "never stops early" if r["patience"] is None else f"patience {r['patience']}"
    return (f"{optimizer} at lr {r['lr']:g} (warm-up {r['warmup_steps']} steps, then cosine to {r['lr_min_ratio']:g} "
            f"of it), gradient clip {r['grad_clip']:g}, batches of {r['batch_size']} x {r['seq_len']} tokens, weight "
            f"decay {r['weight_decay']:g}, dropout {r['model.dropout']:g} ({dropouts}), {output}, "
            f"{r['model.num_layers']} {r['model.rnn_type'].upper()} layer(s), {r['precision']}, {patience}")
