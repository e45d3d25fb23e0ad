"""compare --seeds statistics against numbers worked by hand.

The t quantiles are the ones printed in every statistics table (two-sided 95 %:
df 1 12.706, df 2 4.303, df 3 3.182, df 4 2.776).
"""

from __future__ import annotations

import math

import pytest

from wordgen.compare import not_distinguishable, spread, t_quantile
from wordgen.compare.stats import log_spread


@pytest.mark.parametrize("df,table", [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (30, 2.042)])
def test_t_quantiles_match_the_printed_table(df, table):
    assert t_quantile(0.975, df) == pytest.approx(table, abs=5e-4)


def test_three_seeds_by_hand():
    # mean 2.2; deviations -0.2, 0, 0.2; sd = sqrt(0.08 / 2) = 0.2;
    # half width = 4.302653 * 0.2 / sqrt(3) = 0.496827
    s = spread([2.0, 2.2, 2.4])
    assert s.n == 3 and s.mean == pytest.approx(2.2)
    assert s.sd == pytest.approx(0.2)
    assert s.low == pytest.approx(2.2 - 0.496827, abs=1e-6)
    assert s.high == pytest.approx(2.2 + 0.496827, abs=1e-6)


def test_four_values_by_hand():
    # mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; sd = sqrt(5 / 3) = 1.290994;
    # half width = 3.182446 * 1.290994 / 2 = 2.054260
    s = spread([1, 2, 3, 4])
    assert s.sd == pytest.approx(1.290994, abs=1e-6)
    assert (s.low, s.high) == pytest.approx((2.5 - 2.054260, 2.5 + 2.054260), abs=1e-6)


def test_one_seed_has_no_spread_and_no_verdict():
    s = spread([2.306])
    assert s.mean == 2.306 and s.sd is None and s.low is None and s.high is None
    assert not_distinguishable(s, spread([2.0, 2.1])) is None
    with pytest.raises(ValueError):
        spread([])


def test_equal_values_give_a_zero_width_interval():
    s = spread([1.5, 1.5, 1.5])
    assert s.sd == 0 and s.low == s.high == 1.5


def test_overlap_decides_the_verdict():
    best = spread([2.0, 2.2, 2.4])  # 1.703 .. 2.697
    assert not_distinguishable(best, spread([2.6, 2.7, 2.8])) is True  # 2.452 .. 2.948 overlaps
    assert not_distinguishable(best, spread([3.0, 3.1, 3.2])) is False  # 2.852 .. 3.348 does not
    # The README's old table: bpe:500 2.306 against bpe:2000 2.316 -- with a seed spread of
    # 0.02 the two cannot be told apart.
    assert not_distinguishable(spread([2.286, 2.306, 2.326]), spread([2.296, 2.316, 2.336])) is True


def test_log_spread_is_the_spread_of_logarithms_turned_back():
    # ln values 0, ln 2, ln 4 = 0, 0.6931, 1.3863: mean ln 2 -> geometric mean 2; sd of ln = ln 2
    # -> factor 2; half width 4.302653 * ln 2 / sqrt(3) = 1.721873 -> 2 * e^(-+1.721873)
    s = log_spread([1, 2, 4])
    assert s.geometric and s.mean == pytest.approx(2.0)
    assert s.sd == pytest.approx(2.0)
    assert s.low == pytest.approx(2 * math.exp(-1.721873), rel=1e-6)
    assert s.high == pytest.approx(2 * math.exp(1.721873), rel=1e-6)
    assert s.low > 0  # an arithmetic interval of these three would reach below zero
    assert spread([1, 2, 4]).low < 0
    with pytest.raises(ValueError):
        log_spread([1, 0])
