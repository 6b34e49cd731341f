"""The judgement's statistics against scipy/statsmodels: every number to 1e-6 or better.

The e-values are checked against an independent computation, not against the closed forms
they come from: the one-sided safe t e-value as scipy's numerical integral of noncentral-t
likelihood ratios over the half-normal prior; the counts e-value as a mixture of scipy's
binomial likelihood ratios; Holm against statsmodels.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from honeycomb_evaluator.judgement.evidence import CountEvidence, PairedEvidence
from honeycomb_evaluator.judgement.scorecard import holm_adjusted
from honeycomb_evaluator.judgement.sequential import (
    COUNT_STEPS,
    COUNT_WEIGHTS,
    PRIOR_VARIANCE,
    CountBucket,
    CountTable,
    PairedLogRatios,
    count_bounds,
    count_log_e_value,
    count_log_ratio_estimate,
    log_threshold,
    paired_bounds,
    paired_log_e_value,
    regularized_beta,
    safe_t_critical,
    safe_t_log_e_value,
    student_t_cdf,
)
from scipy import integrate, optimize, special, stats
from statsmodels.stats.multitest import multipletests

rng = random.Random(20261206)


def test_incomplete_beta_and_student_t_agree_with_scipy() -> None:
    for _ in range(300):
        a, b, x = rng.uniform(0.05, 80), rng.uniform(0.05, 5), rng.random()
        assert regularized_beta(x, a, b) == pytest.approx(special.betainc(a, b, x), abs=1e-12)
        t, df = rng.uniform(-40, 40), rng.randint(1, 400)
        assert student_t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-12)


def _safe_t_by_integration(n: int, t: float) -> float:
    """log of the mixture over a half-normal prior of the noncentral t likelihood ratios."""

    def integrand(delta: float) -> float:
        ratio = stats.nct.pdf(t, n - 1, delta * math.sqrt(n)) / stats.t.pdf(t, n - 1)
        return float(ratio * 2 * stats.norm.pdf(delta, 0, math.sqrt(PRIOR_VARIANCE)))

    return math.log(integrate.quad(integrand, 0, math.inf, epsabs=1e-14, epsrel=1e-12)[0])


@pytest.mark.parametrize(
    ("n", "t"), [(2, 1.0), (3, 6.0), (5, 2.0), (10, 3.1), (14, -0.5), (25, 4.4), (40, 0.0)]
)
def test_the_safe_t_e_value_is_the_integral_it_claims_to_be(n: int, t: float) -> None:
    assert safe_t_log_e_value(n, t) == pytest.approx(_safe_t_by_integration(n, t), abs=1e-6)


def test_the_paired_bounds_are_where_the_e_value_reaches_one_over_alpha() -> None:
    values = [rng.gauss(0.2, 0.3) for _ in range(12)]
    sample = PairedLogRatios.of(values)
    assert (sample.mean, sample.sd) == pytest.approx((np.mean(values), np.std(values, ddof=1)), abs=1e-12)
    low, high = paired_bounds(sample, 0.02)
    assert paired_log_e_value(sample, low, upward=True) == pytest.approx(log_threshold(0.02), abs=1e-6)
    assert paired_log_e_value(sample, high, upward=False) == pytest.approx(log_threshold(0.02), abs=1e-6)
    critical = safe_t_critical(12, 0.02)
    assert _safe_t_by_integration(12, critical) == pytest.approx(math.log(50), abs=1e-6)
    # Few buckets cannot reach 1/alpha whatever they show.
    assert math.isinf(safe_t_critical(4, 0.02)) and not math.isinf(safe_t_critical(5, 0.02))


def _buckets(n: int) -> list[CountBucket]:
    out = []
    for _ in range(n):
        canary_total, baseline_total = rng.randint(1, 800), rng.randint(1, 3000)
        out.append(CountBucket(rng.randint(0, 9), canary_total, rng.randint(0, 15), baseline_total))
    return out


def _counts_by_scipy(buckets: list[CountBucket], ratio: float, upward: bool) -> float:
    """The mixture of binomial likelihood ratios of the canary's share of each bucket's events."""
    total = 0.0
    for step, weight in zip(COUNT_STEPS, COUNT_WEIGHTS, strict=True):
        log_lr = 0.0
        for b in buckets:
            k = b.canary_total / b.baseline_total
            alternative = ratio * math.exp(step if upward else -step)
            x, t = int(b.canary_events), int(b.canary_events + b.baseline_events)
            log_lr += stats.binom.logpmf(x, t, k * alternative / (k * alternative + 1))
            log_lr -= stats.binom.logpmf(x, t, k * ratio / (k * ratio + 1))
        total += weight * math.exp(log_lr)
    return math.log(total)


def test_the_counts_e_value_is_a_mixture_of_binomial_likelihood_ratios() -> None:
    for _ in range(12):
        buckets = _buckets(rng.randint(1, 20))
        if not any(b.informative for b in buckets):
            continue
        table = CountTable.of(buckets)
        for ratio, upward in ((1.0, True), (1.5, True), (2.0, False), (0.7, False)):
            ours = count_log_e_value(table, ratio, upward)
            assert ours == pytest.approx(_counts_by_scipy(buckets, ratio, upward), abs=1e-6)


def test_the_rate_ratio_estimate_solves_its_score_equation_and_sits_inside_the_bounds() -> None:
    for _ in range(40):
        buckets = [b for b in _buckets(15) if b.informative]
        table = CountTable.of(buckets)
        observed, everything = sum(table.x), sum(table.t)
        if observed in (0, everything):
            continue

        def score(log_r: float, table: CountTable = table, observed: float = observed) -> float:
            pairs = zip(table.k, table.t, strict=True)
            return sum(t / (1 + 1 / (k * math.exp(log_r))) for k, t in pairs) - observed

        estimate = count_log_ratio_estimate(table)
        assert estimate == pytest.approx(optimize.brentq(score, -30, 30, xtol=1e-14), abs=1e-9)
        low, high = count_bounds(table, 0.02)
        assert low < estimate < high
        if math.isfinite(low):
            assert count_log_e_value(table, math.exp(low), True) == pytest.approx(math.log(50), abs=1e-6)
        if math.isfinite(high):
            assert count_log_e_value(table, math.exp(high), False) == pytest.approx(math.log(50), abs=1e-6)


@pytest.mark.slow  # statsmodels' multipletests takes ~25 ms a call (150 ms under pytest): 200 calls
def test_holm_agrees_with_statsmodels() -> None:
    for _ in range(200):
        p = [rng.random() ** rng.choice([1, 3, 8]) for _ in range(rng.randint(1, 10))]
        _, expected, _, _ = multipletests(p, alpha=0.05, method="holm")
        assert holm_adjusted(p) == pytest.approx(list(expected), abs=1e-12)


def test_the_minimum_detectable_effect_is_caught_about_80_percent_of_the_time() -> None:
    """At the MDE the one-bucket test rejects in about 80 % of binomial outcomes (exact, by scipy)."""
    evidence = CountEvidence((CountBucket(25, 5000, 25, 5000),))
    mde = evidence.detectable(1.0, 0.02, upward=True)
    assert mde is not None and 1.5 < mde < 4
    rate = 25.5 / 5000
    total = rate * 5000 * (1 + mde)
    n = round(total)
    share = mde / (1 + mde)
    table = [
        count_log_e_value(CountTable.of([CountBucket(x, 5000, n - x, 5000)]), 1.0, True) for x in range(n + 1)
    ]
    power = sum(stats.binom.pmf(x, n, share) for x in range(n + 1) if table[x] >= math.log(50))
    assert 0.7 < power < 0.9
    paired = PairedEvidence(tuple(rng.gauss(0, 0.2) for _ in range(14)), (100.0,) * 14)
    shift = paired.detectable(1.0, 0.02, upward=True)
    assert shift is not None and shift > 1
