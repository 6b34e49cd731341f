"""Kayenta-style verdict on one metric: `pass`, `high`, `low` or `nodata`.

- `nodata` when either group has fewer than `min_count` events or no value.
- The allowed band is relative to the baseline's magnitude, widened by the absolute `tolerance`:
  high above `baseline + |baseline| (allowed_increase - 1) + tolerance`, low below
  `baseline - |baseline| (1 - allowed_decrease) - tolerance`; only the bad `direction` is checked.
- When a statistical test ran, a value outside the band counts only if the test finds the groups
  different (p < significance): noise in a small canary does not fail it.
- `critical_increase` fails (`high`, critical) above its bound whatever the test says.
- A baseline of 0 has no magnitude to be relative to, so the band is `tolerance` alone and the
  critical bound does not apply: a canary at 0 passes, a canary above the tolerance fails only
  when the test (if one ran) finds it significant. Neither every canary passes (a ratio of
  infinity read as "no data") nor every canary fails (any error against a clean baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.judgement.comparison import Comparison, compare
from honeycomb_evaluator.judgement.groups import Group
from honeycomb_evaluator.judgement.statistics import TestName, TestResult, mann_whitney_u, two_proportions

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Judge

Verdict = Literal["pass", "high", "low", "nodata"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    critical: bool = False
    significant: bool = True  # False: outside the band, but the test could not tell the groups apart


def has_data(judge: Judge, canary: Group, baseline: Group) -> bool:
    groups = (canary, baseline)
    return all(g.value is not None and g.count >= judge.min_count for g in groups)


def run_test(test: TestName | None, canary: Group, baseline: Group) -> TestResult | None:
    """The test's result, or None when it was not asked for or a group gives it nothing to test."""
    if test == "mann_whitney":
        if not canary.samples or not baseline.samples:
            return None
        return mann_whitney_u(canary.samples, baseline.samples)
    if test == "proportions":
        if canary.count <= 0 or baseline.count <= 0 or canary.overall is None or baseline.overall is None:
            return None
        return two_proportions(_events(canary), canary.count, _events(baseline), baseline.count)
    return None


def _events(group: Group) -> int:
    """Events that count (e.g. errors): the group's share times its events."""
    share = group.overall
    assert share is not None
    if not 0 <= share <= 1:
        raise InvalidRequest(
            f"the proportions test needs a share between 0 and 1; the group {group.key!r} has {share:g} "
            "(average a 0/1 column, e.g. a calculated field IF($error, 1, 0))",
            field="judge.test",
        )
    return round(share * group.count)


def bounds(judge: Judge, baseline: float) -> tuple[float, float, float | None]:
    """(lowest passing, highest passing, critical) canary values around this baseline."""
    magnitude = abs(baseline)
    high = baseline + magnitude * (judge.allowed_increase - 1) + judge.tolerance
    low = baseline - magnitude * (1 - judge.allowed_decrease) - judge.tolerance
    critical = None
    if judge.critical_increase is not None and magnitude > 0:
        critical = baseline + magnitude * (judge.critical_increase - 1) + judge.tolerance
    return low, high, critical


def decide(judge: Judge, canary: Group, baseline: Group, test: TestResult | None) -> Decision:
    if not has_data(judge, canary, baseline):
        return Decision("nodata")
    assert canary.value is not None and baseline.value is not None
    low, high, critical = bounds(judge, baseline.value)
    significant = test is None or test.p_value < judge.significance
    if judge.direction != "decrease":
        if critical is not None and canary.value > critical:
            return Decision("high", critical=True)
        if canary.value > high:
            return Decision("high") if significant else Decision("pass", significant=False)
    if judge.direction != "increase" and canary.value < low:
        return Decision("low") if significant else Decision("pass", significant=False)
    return Decision("pass")


@dataclass(frozen=True)
class Judgement:
    """Everything said about the two groups: the comparison, and the verdict when one was asked."""

    comparison: Comparison
    judge: Judge | None = None
    test: TestResult | None = None
    decision: Decision | None = None


def judge_groups(judge: Judge | None, test: TestName | None, canary: Group, baseline: Group) -> Judgement:
    comparison = compare(canary.value, baseline.value)
    if judge is None:
        return Judgement(comparison)
    # No test on groups without data: its p-value would describe nothing the verdict uses.
    ran = run_test(test, canary, baseline) if has_data(judge, canary, baseline) else None
    return Judgement(comparison, judge, ran, decide(judge, canary, baseline, ran))
