"""The judgement's statistics (stdlib only) agree with scipy on generated samples to 1e-9."""

from __future__ import annotations

import math

import pytest
from honeycomb_evaluator.judgement.statistics import average_ranks, mann_whitney_u, two_proportions
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

TOLERANCE = 1e-9

# Small integers force ties (per-bucket P99s of quiet services repeat); floats cover the rest.
values = st.one_of(
    st.integers(min_value=0, max_value=6).map(float),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
samples = st.lists(values, min_size=1, max_size=60)


@settings(max_examples=400, deadline=None)
@given(canary=samples, baseline=samples)
def test_mann_whitney_matches_scipy_asymptotic(canary: list[float], baseline: list[float]) -> None:
    ours = mann_whitney_u(canary, baseline)
    reference = stats.mannwhitneyu(canary, baseline, alternative="two-sided", method="asymptotic")
    assert ours.statistic == pytest.approx(float(reference.statistic), abs=TOLERANCE)
    expected_p = float(reference.pvalue)
    if math.isnan(expected_p):  # scipy's 0/0 when every value is tied: the samples are the same
        expected_p = 1.0
    assert ours.p_value == pytest.approx(expected_p, abs=TOLERANCE)
    rank_biserial = 2 * float(reference.statistic) / (len(canary) * len(baseline)) - 1
    assert ours.effect_size == pytest.approx(rank_biserial, abs=TOLERANCE)
    assert -1 <= ours.effect_size <= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40))
def test_average_ranks_match_scipy_rankdata(sample: list[int]) -> None:
    ranks, ties = average_ranks([float(v) for v in sample])
    assert ranks == pytest.approx(list(stats.rankdata(sample)), abs=TOLERANCE)
    assert sorted(ties) == sorted(sample.count(v) for v in set(sample))


def test_mann_whitney_separates_shifted_samples_and_not_identical_ones() -> None:
    slow = [float(v) for v in range(100, 130)]
    fast = [float(v) for v in range(10, 40)]
    assert mann_whitney_u(slow, fast).p_value < 1e-6
    assert mann_whitney_u(slow, fast).effect_size == 1.0
    assert mann_whitney_u(fast, slow).effect_size == -1.0
    assert mann_whitney_u([5.0, 5.0], [5.0]).p_value == 1.0


def test_mann_whitney_needs_both_samples() -> None:
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])


counts = st.integers(min_value=1, max_value=200_000)


@st.composite
def two_groups(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n1, n2 = draw(counts), draw(counts)
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


@settings(max_examples=400, deadline=None)
@given(two_groups())
def test_two_proportions_matches_scipy(groups: tuple[int, int, int, int]) -> None:
    x1, n1, x2, n2 = groups
    ours = two_proportions(x1, n1, x2, n2)
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if standard_error == 0:
        assert (ours.statistic, ours.p_value) == (0.0, 1.0)
        return
    z = (p1 - p2) / standard_error
    assert ours.statistic == pytest.approx(z, rel=1e-9, abs=TOLERANCE)
    assert ours.p_value == pytest.approx(float(2 * stats.norm.sf(abs(z))), abs=TOLERANCE)
    # An independent implementation: the 2x2 chi-square without Yates' correction is z squared.
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert ours.p_value == pytest.approx(float(chi2.pvalue), abs=TOLERANCE)
    cohen_h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    assert ours.effect_size == pytest.approx(cohen_h, abs=TOLERANCE)


def test_two_proportions_edges() -> None:
    assert two_proportions(0, 40, 0, 2400).p_value == 1.0  # no errors anywhere: nothing differs
    assert two_proportions(3, 40, 12, 2400).p_value < 0.01  # 7.5 % against 0.5 %
    with pytest.raises(ValueError):
        two_proportions(1, 0, 1, 10)
    with pytest.raises(ValueError):
        two_proportions(11, 10, 1, 10)
