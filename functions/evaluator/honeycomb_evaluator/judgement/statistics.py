"""The two tests a canary judgement may run, in stdlib math (no scipy in the Lambda artifact).

- Mann-Whitney U over two samples (the per-bucket values of canary and baseline), two-sided,
  with the tie correction and the continuity correction of the normal approximation: the same
  numbers as `scipy.stats.mannwhitneyu(x, y, method="asymptotic")` (Kayenta's test).
- The pooled two-proportion z-test on event counts (e.g. errors out of events), two-sided.

Both return a `TestResult`; tests/evaluator/test_judgement_statistics.py checks them against
scipy on generated samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TestName = Literal["mann_whitney", "proportions"]


@dataclass(frozen=True)
class TestResult:
    test: TestName
    statistic: float  # U of the canary sample, or z of canary minus baseline
    p_value: float  # two-sided
    # Mann-Whitney: rank-biserial correlation 2U/(n1 n2) - 1, in [-1, 1], > 0 when the canary
    # tends to be larger. Proportions: Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)).
    effect_size: float


def normal_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z; erfc keeps precision far into the tail."""
    return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))


def _normal_upper_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def average_ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """1-based ranks with ties given their average rank, and the size of every tie group."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_sizes: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1  # average of the 1-based positions start+1 .. end+1
        for position in range(start, end + 1):
            ranks[order[position]] = rank
        tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, tie_sizes


def mann_whitney_u(canary: Sequence[float], baseline: Sequence[float]) -> TestResult:
    """Two-sided Mann-Whitney U test by the normal approximation (both samples non-empty)."""
    n1, n2 = len(canary), len(baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs at least one value in each sample")
    ranks, tie_sizes = average_ranks([*canary, *baseline])
    u1 = math.fsum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in tie_sizes)
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    effect = 2 * u1 / (n1 * n2) - 1
    if variance <= 0:
        # Every value is the same: the samples cannot be told apart.
        return TestResult("mann_whitney", u1, 1.0, effect)
    # As scipy: the larger U, shifted half a step towards the mean, doubled upper tail.
    z = (max(u1, u2) - mean - 0.5) / math.sqrt(variance)
    p_value = min(1.0, max(0.0, 2 * _normal_upper_tail(z)))
    return TestResult("mann_whitney", u1, p_value, effect)


def two_proportions(
    canary_events: int, canary_total: int, baseline_events: int, baseline_total: int
) -> TestResult:
    """Pooled two-proportion z-test: is the canary's share of events different from the baseline's?"""
    if canary_total <= 0 or baseline_total <= 0:
        raise ValueError("a two-proportion test needs events in both groups")
    if not (0 <= canary_events <= canary_total and 0 <= baseline_events <= baseline_total):
        raise ValueError("the events counted must be between 0 and the group's total")
    p1 = canary_events / canary_total
    p2 = baseline_events / baseline_total
    pooled = (canary_events + baseline_events) / (canary_total + baseline_total)
    variance = pooled * (1 - pooled) * (1 / canary_total + 1 / baseline_total)
    effect = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    if variance <= 0:
        # No event, or only events, in both groups: identical proportions.
        return TestResult("proportions", 0.0, 1.0, effect)
    z = (p1 - p2) / math.sqrt(variance)
    return TestResult("proportions", z, normal_two_sided(z), effect)
