"""Several seeds per tokenizer: mean, standard deviation, a 95 % t-interval, and ties with the best.

`spread(values)` summarises one figure (say bits per character) over the runs
of one tokenizer that differ only in their seed:

* mean;
* sample standard deviation (divided by n - 1, the unbiased variance);
* the two-sided 95 % confidence interval of the mean from Student's t
  distribution, mean +- t(0.975, n - 1) * sd / sqrt(n) (scipy.stats.t gives
  the quantile; e.g. 4.303 for n = 3).

`log_spread(values)` does the same on ln(values) and turns the results back
with exp: the geometric mean, the geometric standard deviation (a factor: the
figures lie within mean x/÷ factor about as often as within mean ± sd), and
an interval that stays positive. Perplexity per word is summarised that way:
its logarithm is the NLL per word, the quantity that averages, and an
arithmetic interval of a few skewed perplexities can reach below zero.

`not_distinguishable(best, other)` says whether two intervals overlap. Two
overlapping 95 % intervals do not prove two tokenizers equal, and two that
barely miss each other are a stronger difference than 95 % (overlap is a
conservative test, Schenker & Gentleman 2001, "On judging the significance of
differences by examining the overlap between confidence intervals"); it is
what a reader can check by eye in the table and the chart, so the report uses it
and says so.

Not here: which figure to summarise (wordgen.compare.report), drawing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

CONFIDENCE = 0.95


def t_quantile(probability: float, df: int) -> float:
    """The `probability` quantile of Student's t with `df` degrees of freedom (t(0.975, 2) = 4.3027)."""
    from scipy.stats import t  # scipy comes with scikit-learn; imported late, the package stays light

    return float(t.ppf(probability, df))


@dataclass
class Spread:
    """One figure over n seeds. With one seed there is no spread: sd and the interval are None."""

    values: list[float]
    mean: float  # arithmetic; geometric when `geometric`
    sd: float | None  # sample standard deviation (n - 1 in the denominator); a factor when `geometric`
    low: float | None  # the 95 % t-interval of the mean
    high: float | None
    geometric: bool = False  # computed on ln(values) and turned back (log_spread)

    @property
    def n(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict:
        return {**asdict(self), "n": self.n, "confidence": CONFIDENCE}


def spread(values, confidence: float = CONFIDENCE) -> Spread:
    """Mean, sample standard deviation and the t-interval of the mean of `values` (at least one)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("spread() needs at least one value")
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return Spread(values, mean, None, None, None)
    sd = statistics.stdev(values)  # sqrt(sum((x - mean)^2) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, len(values) - 1) * sd / math.sqrt(len(values))
    return Spread(values, mean, sd, mean - half, mean + half)


def log_spread(values, confidence: float = CONFIDENCE) -> Spread:
    """`spread` of ln(values), turned back: geometric mean, geometric sd (a factor), positive interval."""
    values = [float(v) for v in values]
    if not values or min(values) <= 0:
        raise ValueError("log_spread() needs positive values")
    logs = spread([math.log(v) for v in values], confidence)
    back = (lambda x: None if x is None else math.exp(x))
    return Spread(values, math.exp(logs.mean), back(logs.sd), back(logs.low), back(logs.high), geometric=True)


def not_distinguishable(best: Spread, other: Spread) -> bool | None:
    """True when the two intervals overlap; None when either has no interval (one seed)."""
    if best.low is None or other.low is None:
        return None
    return other.low <= best.high and best.low <= other.high
