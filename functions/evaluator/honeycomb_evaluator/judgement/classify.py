"""One metric's verdict from its evidence: the classifier (the scorecard combines several).

The band says which ratios canary / baseline are fine. Two bounds on each bad side:

- `allowed` (e.g. 1.05): up to here a canary must not be aborted. `high` means the evidence
  rejects "ratio <= allowed" at level alpha, anytime-valid: over all looks together a canary
  inside the band is aborted with probability at most alpha.
- `harmful` (e.g. 1.3, at least `allowed`): from here a canary must not pass. `pass` means
  the evidence rejects "ratio >= harmful": the canary is shown better than that, so
  `consecutiveSuccessLimit` may end the analysis early. Between the two, either may happen.

An absolute `tolerance` is a floor under the band's width: allowed = max(ratio, 1 + tolerance /
baseline level). Otherwise: `nodata` when no outcome on these counts could show a regression
(the reason says roughly what would), `inconclusive` when one could but has not, and neither
has `pass`. A verdict never contradicts its evidence: `high` needs the whole interval above
`allowed`, `pass` the whole interval below `harmful`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from honeycomb_evaluator.judgement.evidence import Evidence, TestName
from honeycomb_evaluator.judgement.sequential import log_threshold

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import JudgeRules

Verdict = Literal["pass", "high", "low", "nodata", "inconclusive"]
Direction = Literal["increase", "decrease", "either"]


@dataclass(frozen=True)
class Rule:
    """A judge's band as plain numbers (ratios canary / baseline; tolerance in the value's unit)."""

    direction: Direction = "increase"
    allowed_increase: float = 1.0
    harmful_increase: float | None = None  # None: the same as allowed_increase
    allowed_decrease: float = 1.0
    harmful_decrease: float | None = None
    critical_increase: float | None = None
    tolerance: float = 0.0

    @classmethod
    def of(cls, judge: JudgeRules) -> Rule:
        return cls(
            direction=judge.direction,
            allowed_increase=float(judge.allowed_increase),
            harmful_increase=None if judge.harmful_increase is None else float(judge.harmful_increase),
            allowed_decrease=float(judge.allowed_decrease),
            harmful_decrease=None if judge.harmful_decrease is None else float(judge.harmful_decrease),
            critical_increase=None if judge.critical_increase is None else float(judge.critical_increase),
            tolerance=float(judge.tolerance),
        )

    @property
    def watches_increase(self) -> bool:
        return self.direction != "decrease"

    @property
    def watches_decrease(self) -> bool:
        return self.direction != "increase"


@dataclass(frozen=True)
class Band:
    """The rule's ratios once the tolerance floor is applied at the baseline's level."""

    allowed_increase: float
    harmful_increase: float
    allowed_decrease: float  # 0: no decrease can be shown beyond the tolerance
    harmful_decrease: float


def band_of(rule: Rule, level: float | None) -> Band:
    floor = rule.tolerance / level if rule.tolerance > 0 and level is not None and level > 0 else 0.0
    allowed_up = max(rule.allowed_increase, 1 + floor)
    harmful_up = max(rule.harmful_increase or rule.allowed_increase, allowed_up)
    allowed_down = max(0.0, min(rule.allowed_decrease, 1 - floor))
    harmful_down = min(rule.harmful_decrease or rule.allowed_decrease, allowed_down)
    return Band(allowed_up, harmful_up, allowed_down, harmful_down)


@dataclass(frozen=True)
class Tests:
    """What the tests on one comparison found; `verdict` turns it into a word."""

    band: Band
    side_alpha: float  # alpha per bad side (halved for direction "either")
    log_e_high: float | None  # evidence against "ratio <= allowed_increase"; None if not watched
    log_e_low: float | None  # evidence against "ratio >= allowed_decrease"
    passed: bool  # shown inside the harmful bounds on every watched side
    reachable: bool  # some outcome on these counts could show a regression
    critical: bool  # the estimate is above critical_increase

    @property
    def p_value(self) -> float:
        """Anytime-valid p-value of "no regression beyond the band" (Bonferroni over 2 sides)."""
        sides = [e for e in (self.log_e_high, self.log_e_low) if e is not None]
        if not sides:
            return 1.0
        return min(1.0, len(sides) * math.exp(-max(sides)))

    def verdict(self, alpha: float) -> Verdict:
        return self.verdict_given(regressed=self.p_value <= alpha * (1 + 1e-12))

    def verdict_given(self, regressed: bool) -> Verdict:
        """The word once it is settled whether the regression is shown (at alpha, or under the
        scorecard's Holm adjustment)."""
        if self.critical:
            return "high"
        if regressed:
            high = self.log_e_high if self.log_e_high is not None else -math.inf
            low = self.log_e_low if self.log_e_low is not None else -math.inf
            return "high" if high >= low else "low"
        if self.passed:
            return "pass"
        return "inconclusive" if self.reachable else "nodata"


def run_tests(evidence: Evidence, rule: Rule, alpha: float) -> Tests:
    """The cheap part of a judgement: e-values against the band, no bounds or power."""
    band = band_of(rule, evidence.baseline_level())
    side_alpha = alpha / 2 if rule.direction == "either" else alpha
    threshold = log_threshold(side_alpha)
    log_high = log_low = None
    passed, reachable = True, False
    # The best possible outcome is worked out only when the actual one fell short of it.
    if rule.watches_increase:
        log_high = evidence.log_e_value(band.allowed_increase, upward=True)
        passed &= evidence.log_e_value(band.harmful_increase, upward=False) >= threshold
        reachable |= log_high >= threshold or (
            evidence.max_log_e_value(band.allowed_increase, upward=True) >= threshold
        )
    if rule.watches_decrease:
        if band.allowed_decrease > 0:
            log_low = evidence.log_e_value(band.allowed_decrease, upward=False)
            reachable |= log_low >= threshold or (
                evidence.max_log_e_value(band.allowed_decrease, upward=False) >= threshold
            )
        passed &= band.harmful_decrease > 0 and (
            evidence.log_e_value(band.harmful_decrease, upward=True) >= threshold
        )
    critical = False
    if rule.watches_increase and rule.critical_increase is not None:
        estimate = evidence.log_estimate()
        critical = estimate is not None and estimate > math.log(rule.critical_increase)
    return Tests(band, side_alpha, log_high, log_low, passed and evidence.size > 0, reachable, critical)


@dataclass(frozen=True)
class Classification:
    """One metric judged: the verdict with the statistic it follows from."""

    verdict: Verdict
    test: TestName | None  # None: `test: none`
    tests: Tests
    buckets: int  # time buckets that carried information
    ratio: float | None  # the estimate canary / baseline (None: no information)
    low: float | None  # confidence-sequence bounds on the ratio (None: unbounded)
    high: float | None
    mde: float | None  # the change on the bad side caught 80 % of the time at this look
    needed: str | None  # for nodata: roughly what would make a regression detectable

    @property
    def confidence(self) -> float:
        return 1 - 2 * self.tests.side_alpha

    @property
    def p_value(self) -> float:
        return self.tests.p_value


def _ratio(log_value: float | None) -> float | None:
    """A log ratio as a ratio: no information is None, an infinite ratio (nothing in the
    baseline) None too, no events in the canary 0."""
    if log_value is None or log_value == math.inf:
        return None
    return 0.0 if log_value == -math.inf else math.exp(log_value)


def describe(evidence: Evidence, rule: Rule, tests: Tests, verdict: Verdict) -> Classification:
    """Bounds, estimate and power for the answer (the costly part, once per look)."""
    alpha = tests.side_alpha
    log_low, log_high = evidence.log_bounds(alpha)
    band = tests.band
    if rule.watches_increase:
        mde = evidence.detectable(band.allowed_increase, alpha, upward=True)
        needed = evidence.needed(band.allowed_increase, alpha, upward=True)
    else:
        mde = (
            evidence.detectable(band.allowed_decrease, alpha, upward=False)
            if band.allowed_decrease > 0
            else None
        )
        needed = evidence.needed(band.allowed_decrease or 1.0, alpha, upward=False)
    estimate = evidence.log_estimate()
    return Classification(
        verdict=verdict,
        test=evidence.test,
        tests=tests,
        buckets=evidence.size,
        ratio=_ratio(estimate),
        low=None if math.isinf(log_low) else math.exp(log_low),
        high=None if math.isinf(log_high) else math.exp(log_high),
        mde=mde,
        needed=needed if verdict == "nodata" else None,
    )


def describe_threshold(tests: Tests, verdict: Verdict, ratio: float | None) -> Classification:
    """`test: none`: the window's ratio, no interval, no power."""
    return Classification(verdict, None, tests, 0, ratio, None, None, None, None)


def classify(evidence: Evidence, rule: Rule, alpha: float) -> Classification:
    tests = run_tests(evidence, rule, alpha)
    return describe(evidence, rule, tests, tests.verdict(alpha))


def threshold_tests(rule: Rule, canary: float, baseline: float) -> Tests:
    """`test: none`: the window's two values against the band as they are, no statistics.

    The band is relative to the baseline's magnitude with the tolerance as its floor, so a
    baseline of 0 leaves the tolerance alone: a clean stable version neither fails every canary
    over its first error nor passes every canary.
    """
    magnitude = abs(baseline)

    def bound(ratio: float, up: bool) -> float:
        width = max(magnitude * abs(ratio - 1), rule.tolerance)
        return baseline + width if up else baseline - width

    def ratio_of(limit: float) -> float:
        return limit / baseline if baseline > 0 else math.inf

    harmful_up = rule.harmful_increase or rule.allowed_increase
    harmful_down = rule.harmful_decrease or rule.allowed_decrease
    high_at, low_at = bound(rule.allowed_increase, True), bound(rule.allowed_decrease, False)
    inside = (not rule.watches_increase or canary <= bound(harmful_up, True)) and (
        not rule.watches_decrease or canary >= bound(harmful_down, False)
    )
    band = Band(ratio_of(high_at), ratio_of(bound(harmful_up, True)), max(0.0, ratio_of(low_at)), 0.0)
    critical = (
        rule.watches_increase
        and rule.critical_increase is not None
        and magnitude > 0
        and canary > bound(rule.critical_increase, True)
    )
    return Tests(
        band=band,
        side_alpha=0.0,
        log_e_high=(math.inf if canary > high_at else -math.inf) if rule.watches_increase else None,
        log_e_low=(math.inf if canary < low_at else -math.inf) if rule.watches_decrease else None,
        passed=inside,
        reachable=True,
        critical=critical,
    )
