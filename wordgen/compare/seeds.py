"""One line per tokenizer over its seeds: mean, spread, 95 % interval, and whether the best is told apart.

`group_rows(comparison, which)` turns the runs of a comparison (one per
tokenizer and seed) into one dict per tokenizer: the figures that do not
depend on the seed (vocabulary, parameters, tokens per character), the means
of those that do, and a `wordgen.compare.stats.Spread` of bits per character and
of perplexity per word. The lowest mean bits per character is the best row;
`verdict` is "best", "≈ best" when the row's interval overlaps the best one's
(not distinguishable at this many seeds) or "" (worse, as far as the seeds
tell). With one seed there are no intervals and no verdict.

Perplexity per word (and per token) is summarised on the log scale
(`stats.log_spread`: geometric mean, x/÷ factor, interval turned back from
ln), since its logarithm is the NLL per word. The verdict is decided on bits
per character.

Not here: formatting (wordgen.compare.report), the statistics themselves (stats).
"""

from __future__ import annotations

import math

from wordgen.compare.records import Comparison
from wordgen.compare.stats import Spread, log_spread, not_distinguishable, spread

VERDICT_BEST = "best"
VERDICT_TIE = "≈ best"


def _mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def group_rows(comparison: Comparison, which: str = "test") -> list[dict]:
    """One dict per tokenizer spec (in the order given) over its seeds, for `which` ('test' or 'eval_text')."""
    groups = []
    for spec in comparison.settings.tokenizers:
        runs = [r for r in comparison.runs_of(spec) if getattr(r, which) is not None]
        if not runs:
            continue
        scores = [getattr(r, which) for r in runs]
        metrics = [s.metrics for s in scores]
        first = runs[0]
        groups.append({
            "tokenizer": spec, "seeds": [r.seed for r in runs], "n": len(runs),
            "vocab_size": first.vocab_size, "parameters": first.parameters, "hidden_size": first.hidden_size,
            "tokens_per_char": metrics[0].num_tokens / max(1, metrics[0].num_chars),  # same text, same tokenizer
            "tokens_per_second": _mean(r.tokens_per_second for r in runs),
            "chars_seen": _mean(r.chars_seen for r in runs),
            "steps": _mean(r.steps for r in runs),
            "train_seconds": _mean(r.train_seconds for r in runs),
            "unk_rate": _mean(m.unk_rate for m in metrics),
            "num_unk": max(m.num_unk for m in metrics),
            "penalised": any(s.penalty_by for s in scores),
            "raw_bits_per_char": spread(s.raw.bits_per_char for s in scores),
            "bits_per_char": spread(m.bits_per_char for m in metrics),
            "ppl_word": log_spread(m.ppl_word for m in metrics),
            "ppl_token": log_spread(m.ppl_token for m in metrics),
            "busy_runs": [r.seed for r in runs if r.cpu.get("busy")],
        })
    _add_verdicts(groups)
    return groups


def _add_verdicts(groups: list[dict]) -> None:
    if not groups:
        return
    best = min(groups, key=lambda g: g["bits_per_char"].mean)
    for g in groups:
        if g is best:
            g["verdict"] = VERDICT_BEST if g["n"] > 1 else ""
            continue
        tie = not_distinguishable(best["bits_per_char"], g["bits_per_char"])
        g["verdict"] = "" if tie is None or not tie else VERDICT_TIE


def group_to_dict(group: dict) -> dict:
    """JSON-friendly: the spreads as dicts."""
    return {k: (v.to_dict() if isinstance(v, Spread) else v) for k, v in group.items()}
