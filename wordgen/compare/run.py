"""Training one model per planned tokenizer and seed, and its test score and sample.

Each run is an ordinary `wordgen.training.loop.train` call with the base settings (the
shared recipe already in them, wordgen.compare.recipe), its own tokenizer spec, seed,
output folder, model size and periodic validation length, and the tokenizer and
corpus the plan already holds: nothing is loaded or trained twice, and every
seed trains on the same split. The run is told where each setting came from
(`sources`), so its config.json marks what the comparison set as "compare". With several seeds the runs go seed by seed
(every tokenizer once, then again), so a machine that gets busier or quieter
during a long comparison touches every tokenizer alike. The test split is
scored here without the `<unk>` penalty (that needs every model; see
`wordgen.compare.score.score_rows`). Each run records how busy the rest of the
machine was while it trained (`wordgen.cpu.CpuWatch`).

Not here: choosing the recipe or the sizes, the penalty, reports.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from wordgen.compare.recipe import SOURCE, recipe_of
from wordgen.compare.records import CompareSettings, Row
from wordgen.compare.score import score_split
from wordgen.compare.sizing import Plan, run_folder
from wordgen.config import SampleConfig, TrainConfig
from wordgen.cpu import CpuWatch, was_busy
from wordgen.model import count_parameters
from wordgen.training.checkpoint import Bundle


def run_all(plans: list[Plan], settings: CompareSettings, base: TrainConfig, sources: dict[str, str], dataset, *,
            progress: bool, log: Callable[[str], None]) -> tuple[list[Row], dict[tuple[str, int], Bundle]]:
    """Train and test every plan once per seed from `base` (its fields' `sources` as recipe.shared_recipe marked
    them); return the rows and each (spec, seed)'s trained bundle."""
    rows, bundles = [], {}
    seeds = range(settings.base.seed, settings.base.seed + settings.seeds)
    total, i = len(plans) * len(seeds), 0
    for seed in seeds:
        for plan in plans:
            i += 1
            which = f"{plan.spec}" + (f", seed {seed}" if settings.seeds > 1 else "")
            log(f"[{i}/{total}] training {which}: vocabulary {plan.tokenizer.vocab_size:,}, "
                f"{count_parameters(plan.model):,} parameters")
            row, bundles[plan.spec, seed] = run_one(plan, settings, base, sources, dataset, seed, progress=progress)
            rows.append(row)
            busy = f"; other processes used {row.cpu['other_cores']:.1f} cores" if was_busy(row.cpu) and \
                row.cpu.get("other_cores") is not None else ""
            log(f"[{i}/{total}] {which}: {row.steps} steps in {row.train_seconds:.0f} s, "
                f"test {row.test.raw.bits_per_char:.3f} bits/char{busy}")
    return rows, bundles


def run_one(plan: Plan, settings: CompareSettings, base: TrainConfig, sources: dict[str, str], dataset, seed: int,
            *, progress: bool) -> tuple[Row, Bundle]:
    """One tokenizer's training run with one seed, its test score (no penalty yet) and its sample."""
    from wordgen.training.loop import train  # late: importing the package stays light

    started, watch = time.perf_counter(), CpuWatch()
    config = copy.deepcopy(base)
    out = run_folder(plan, seed, settings)
    config.tokenizer, config.out, config.model = plan.spec, str(out), copy.deepcopy(plan.model)
    config.seed = seed  # initial weights, dropout and the sample; the split was drawn once, with base.seed
    config.eval_tokens = plan.eval_tokens
    own = dict.fromkeys(("tokenizer", "out", "seed", "eval_tokens"), SOURCE)
    result = train(config, tokenizer=plan.tokenizer, dataset=dataset, overwrite=settings.overwrite, progress=progress,
                   sources={**settings.sources, **sources, **plan.sources, **own})
    bundle = result.bundle
    test = score_split(bundle.model, bundle.tokenizer, dataset["test"])
    text = ""
    if settings.sample_chars:
        text = sample(bundle, settings.prompt, settings.sample_chars, SampleConfig(temperature=settings.temperature),
                      config.seed)
    row = Row(
        tokenizer=plan.spec, name=plan.name, seed=seed, checkpoint=str(out),
        vocab_size=bundle.tokenizer.vocab_size, parameters=bundle.model.num_parameters(),
        embedding_dim=plan.model.embedding_dim, hidden_size=plan.model.hidden_size,
        steps=result.steps, tokens_seen=result.tokens_seen, train_seconds=result.seconds,
        wall_seconds=time.perf_counter() - started, tokens_per_second=result.tokens_per_second,
        chars_seen=result.chars_seen, sample=text, history=result.history, test=test, recipe=recipe_of(bundle.config),
        cpu=watch.stop(), thread_changes=result.thread_changes,
    )
    return row, bundle


def sample(bundle: Bundle, prompt: str, chars: int, settings: SampleConfig, seed: int) -> str:
    """Prompt + about `chars` characters of continuation, whatever the tokenization.

    Every tokenizer shows the same length of text rather than the same number
    of tokens, so drawing stops as soon as `chars` characters have come out.
    """
    from wordgen.generation.decode import stream

    text = ""
    # The cap only guards against a model that keeps drawing empty pieces.
    for (piece,) in stream(bundle.model, bundle.tokenizer, prompt, max_tokens=4 * chars + 16, sample=settings,
                           seed=seed):
        text += piece
        if len(text) >= chars:
            break
    return prompt + text[:chars]
