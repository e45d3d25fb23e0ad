"""Training one model per planned tokenizer, and its test score and sample.

Each run is an ordinary `wordgen.train.train` call with the base settings, its
own tokenizer spec, output folder and model size, and the tokenizer and corpus
the plan already holds: nothing is loaded or trained twice. The test split is
scored here without the `<unk>` penalty (that needs every model; see
`wordgen.compare.score.score_rows`).

Not here: choosing sizes, the penalty, reports.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from wordgen.checkpoint import Bundle
from wordgen.compare.records import CompareSettings, Row
from wordgen.compare.score import score_split
from wordgen.compare.sizing import Plan
from wordgen.config import SampleConfig
from wordgen.model import count_parameters


def run_all(plans: list[Plan], settings: CompareSettings, dataset, *, progress: bool,
            log: Callable[[str], None]) -> tuple[list[Row], dict[str, Bundle]]:
    """Train and test every plan in order; return the rows and each spec's trained bundle."""
    rows, bundles = [], {}
    for i, plan in enumerate(plans, 1):
        log(f"[{i}/{len(plans)}] training {plan.spec}: vocabulary {plan.tokenizer.vocab_size:,}, "
            f"{count_parameters(plan.model):,} parameters")
        row, bundles[plan.spec] = run_one(plan, settings, dataset, progress=progress)
        rows.append(row)
        log(f"[{i}/{len(plans)}] {plan.spec}: {row.steps} steps in {row.train_seconds:.0f} s, "
            f"test {row.test.raw.bits_per_char:.3f} bits/char")
    return rows, bundles


def run_one(plan: Plan, settings: CompareSettings, dataset, *, progress: bool) -> tuple[Row, Bundle]:
    """One tokenizer's training run, its test score (no penalty yet) and its sample."""
    from wordgen.train import train  # late: importing the package stays light

    started = time.perf_counter()
    config = copy.deepcopy(settings.base)
    config.tokenizer, config.out, config.model = plan.spec, str(plan.out), copy.deepcopy(plan.model)
    config.eval_tokens = plan.eval_tokens
    result = train(config, tokenizer=plan.tokenizer, dataset=dataset, overwrite=settings.overwrite, progress=progress)
    bundle = result.bundle
    test = score_split(bundle.model, bundle.tokenizer, dataset["test"])
    text = ""
    if settings.sample_chars:
        text = sample(bundle, settings.prompt, settings.sample_chars, SampleConfig(temperature=settings.temperature),
                      config.seed)
    row = Row(
        tokenizer=plan.spec, name=plan.name, checkpoint=str(plan.out),
        vocab_size=bundle.tokenizer.vocab_size, parameters=bundle.model.num_parameters(),
        embedding_dim=plan.model.embedding_dim, hidden_size=plan.model.hidden_size,
        steps=result.steps, tokens_seen=result.tokens_seen, train_seconds=result.seconds,
        wall_seconds=time.perf_counter() - started, tokens_per_second=result.tokens_per_second,
        sample=text, history=result.history, test=test,
    )
    return row, bundle


def sample(bundle: Bundle, prompt: str, chars: int, settings: SampleConfig, seed: int) -> str:
    """Prompt + about `chars` characters of continuation, whatever the tokenization.

    Every tokenizer shows the same length of text rather than the same number
    of tokens, so drawing stops as soon as `chars` characters have come out.
    """
    from wordgen.generate import stream

    text = ""
    # The cap only guards against a model that keeps drawing empty pieces.
    for (piece,) in stream(bundle.model, bundle.tokenizer, prompt, max_tokens=4 * chars + 16, sample=settings,
                           seed=seed):
        text += piece
        if len(text) >= chars:
            break
    return prompt + text[:chars]
