"""Verdicts that follow the evidence: one metric (classify) and several (scorecard).

The cases the issue found wrong are here by name; a property test checks over random evidence
that no verdict contradicts the direction or the interval it reports.
"""

from __future__ import annotations

import math

import pytest
from honeycomb_evaluator.judgement.classify import Classification, Rule, classify, threshold_tests
from honeycomb_evaluator.judgement.evidence import CountEvidence, PairedEvidence
from honeycomb_evaluator.judgement.scorecard import score
from honeycomb_evaluator.judgement.sequential import CountBucket, log_threshold
from hypothesis import given, settings
from hypothesis import strategies as st

LATENCY = Rule(allowed_increase=1.05, harmful_increase=1.3)
ERRORS = Rule(allowed_increase=1.0, harmful_increase=2.0)


def paired(*log_ratios: float) -> PairedEvidence:
    return PairedEvidence(tuple(log_ratios), (300.0,) * len(log_ratios))


def counts(*buckets: tuple[float, float, float, float]) -> CountEvidence:
    return CountEvidence(tuple(CountBucket(*b) for b in buckets))


def test_a_canary_ten_times_worse_on_few_buckets_is_nodata_never_pass() -> None:
    ten_times = math.log(10)
    for n in (1, 2, 3, 4):
        judged = classify(paired(*[ten_times + 0.01 * i for i in range(n)]), LATENCY, 0.02)
        assert judged.verdict == "nodata" and judged.needed == f"at least 5 paired buckets (has {n})"
    assert classify(paired(*[ten_times + 0.01 * i for i in range(5)]), LATENCY, 0.02).verdict == "high"


def test_one_error_in_fifty_against_none_in_five_hundred_is_not_a_failure() -> None:
    judged = classify(counts((1, 50, 0, 500)), ERRORS, 0.02)
    assert judged.verdict == "nodata" and "events of interest in all (has 1)" in (judged.needed or "")
    many = classify(counts((10, 50, 0, 500)), ERRORS, 0.02)  # 20 % against a clean baseline
    assert many.verdict == "high" and many.low is not None and many.low > 1


def test_a_doubled_error_rate_is_high_and_a_clean_canary_passes() -> None:
    doubled = counts(*[(10, 1000, 5, 1000)] * 14)
    judged = classify(doubled, ERRORS, 0.02)
    assert judged.verdict == "high" and judged.ratio == pytest.approx(2.0, rel=1e-9)
    assert judged.low is not None and judged.low > 1
    same = counts(*[(50, 10000, 50, 10000)] * 10)
    assert classify(same, ERRORS, 0.02).verdict == "pass"


def test_higher_over_the_window_but_lower_bucket_by_bucket_is_not_high() -> None:
    """The direction-blind case: the evidence says lower, so the verdict cannot be high."""
    lower = paired(*[-0.2 + 0.01 * (i % 3) for i in range(12)])
    judged = classify(lower, LATENCY, 0.02)
    assert judged.verdict == "pass" and judged.high is not None and judged.high < 1


def test_tolerance_is_a_floor_under_the_band_not_an_addition() -> None:
    rule = Rule(allowed_increase=1.2, tolerance=0.001)
    # A baseline of 1 % errors: 20 % of it (0.002) is wider than the tolerance, which adds nothing.
    assert threshold_tests(rule, 0.0119, 0.01).verdict(0.05) == "pass"
    assert threshold_tests(rule, 0.0121, 0.01).verdict(0.05) == "high"
    # At 0.1 % the tolerance is the wider: up to 0.2 % passes.
    assert threshold_tests(rule, 0.0019, 0.001).verdict(0.05) == "pass"
    assert threshold_tests(rule, 0.0021, 0.001).verdict(0.05) == "high"
    # A clean baseline: the tolerance alone.
    assert threshold_tests(rule, 0.0009, 0.0).verdict(0.05) == "pass"
    assert threshold_tests(rule, 0.0011, 0.0).verdict(0.05) == "high"


def test_the_tolerance_floor_moves_the_tested_ratio() -> None:
    # 0.1 % errors against 0.05 %: 2x, but only 0.05 points; a tolerance of 0.1 points allows it.
    buckets = counts(*[(100, 100_000, 50, 100_000)] * 20)
    assert classify(buckets, ERRORS, 0.02).verdict == "high"
    tolerant = Rule(allowed_increase=1.0, harmful_increase=4.0, tolerance=0.001)
    judged = classify(buckets, tolerant, 0.02)
    assert judged.verdict != "high" and judged.tests.band.allowed_increase > 2.5


def test_direction_decrease_reads_low_and_either_splits_alpha() -> None:
    lower = paired(*[-0.3 + 0.02 * (i % 4) for i in range(12)])
    decrease = Rule(direction="decrease", allowed_decrease=0.95, harmful_decrease=0.8)
    assert classify(lower, decrease, 0.02).verdict == "low"
    either = Rule(direction="either", allowed_increase=1.05, allowed_decrease=0.95)
    judged = classify(lower, either, 0.02)
    assert judged.verdict == "low" and judged.confidence == 0.98


def test_critical_increase_fails_on_the_estimate_alone() -> None:
    rule = Rule(allowed_increase=1.05, critical_increase=3.0)
    judged = classify(paired(math.log(4), math.log(5)), rule, 0.02)
    assert judged.verdict == "high" and judged.tests.critical


def test_the_scorecard_holds_its_alpha_with_holm_and_names_the_deciding_metric() -> None:
    latency = classify(paired(*[0.02 * (i % 3) for i in range(14)]), LATENCY, 0.02).tests
    errors = classify(counts(*[(10, 1000, 5, 1000)] * 14), ERRORS, 0.02).tests
    overall = score([latency, errors], [True, True], 0.02)
    assert overall.verdict == "high" and overall.deciding == 1
    assert overall.metrics[1].adjusted_p_value == min(1.0, 2 * errors.p_value)
    # The same error evidence in a metric that is not critical decides nothing.
    shown_only = score([latency, errors], [True, False], 0.02)
    assert shown_only.verdict == "pass" and shown_only.metrics[1].verdict == "high"
    # Holm: a p-value between alpha/2 and alpha is a regression alone, not with a second metric.
    borderline = classify(counts((17, 1000, 3, 1000)), ERRORS, 0.02).tests
    assert 0.01 < borderline.p_value <= 0.02
    assert borderline.verdict(0.02) == "high"
    assert score([latency, borderline], [True, True], 0.02).metrics[1].verdict != "high"


def _consistent(c: Classification, rule: Rule) -> None:
    """No verdict contradicts its own evidence: interval, estimate and direction agree with it."""
    band = c.tests.band
    # No estimate with bounds is an infinite one: every event of interest in the canary.
    estimate = c.ratio if c.ratio is not None else (math.inf if c.low is not None else math.nan)
    if c.verdict == "high" and not c.tests.critical:
        assert c.low is not None and c.low > band.allowed_increase >= 1
        assert estimate > band.allowed_increase
    if c.verdict == "low":
        assert c.high is not None and c.high < band.allowed_decrease <= 1
        assert estimate < band.allowed_decrease
    if c.verdict == "pass":
        assert c.high is not None and c.high < band.harmful_increase and estimate < band.harmful_increase
    if c.verdict == "nodata":
        assert c.mde is None or c.needed is not None
    if c.low is not None and c.high is not None and c.ratio is not None:
        assert c.low * (1 - 1e-9) <= c.ratio <= c.high * (1 + 1e-9)
    if c.p_value <= 0.02:
        assert c.verdict in ("high", "low")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=0, max_size=25),
    st.floats(-1, 1),
    st.sampled_from([LATENCY, Rule(allowed_increase=1.0), Rule(allowed_increase=1.2, harmful_increase=1.2)]),
)
def test_paired_verdicts_never_contradict_their_evidence(
    noise: list[float], shift: float, rule: Rule
) -> None:
    evidence = paired(*[shift + 0.2 * v for v in noise])
    _consistent(classify(evidence, rule, 0.02), rule)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(1, 2000), st.integers(0, 30), st.integers(1, 2000)),
        min_size=0,
        max_size=12,
    ),
    st.sampled_from([ERRORS, Rule(allowed_increase=1.25, harmful_increase=3.0)]),
)
def test_count_verdicts_never_contradict_their_evidence(
    rows: list[tuple[int, int, int, int]], rule: Rule
) -> None:
    evidence = counts(*[(min(x, n), n, min(y, m), m) for x, n, y, m in rows])
    judged = classify(evidence, rule, 0.02)
    _consistent(judged, rule)
    if judged.verdict == "nodata":
        assert evidence.max_log_e_value(judged.tests.band.allowed_increase, True) < log_threshold(0.02)
