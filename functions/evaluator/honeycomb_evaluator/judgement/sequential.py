"""Anytime-valid evidence for one canary/baseline comparison, in stdlib math (no scipy in Lambda).

An AnalysisRun measures the same comparison again and again over overlapping windows. Each
statistic here is an *e-process* over time buckets: under the null hypothesis its expected
value is at most 1 however many buckets have been added, so by Ville's inequality the chance
that it EVER reaches 1/alpha is at most alpha. A look rejects when the e-value is >= 1/alpha;
inverting that test gives a confidence sequence (bounds that hold at every look at once).

Two e-processes:

- `PairedLogRatios`: per-bucket log(canary / baseline) of a positive value (a P99, an AVG),
  paired by time so load both versions see cancels. The e-value is the Bayes factor of the
  t-statistic with a right-Haar prior on the unknown scale and a half-normal prior (variance
  `PRIOR_VARIANCE`) on the standardised effect in the tested direction: an e-process for
  "mean log ratio <= theta" (the "safe t-test": Perez-Ortiz, Lardy, de Heide, Grunwald,
  "E-statistics, group invariance and anytime-valid testing", 2024). It depends on the data
  only through n and the t-statistic, so the confidence bounds are mean -+ t*(n) s / sqrt(n).
- `EventCounts`: events of interest (errors) among each version's events, per bucket. Given a
  bucket's total events of interest, the canary's share is binomial with a probability fixed
  by the rate ratio r and the bucket's exposures (the Poisson model of rare events, which is
  conservative for binomial data). The e-value is a likelihood ratio against r0 mixed over a
  fixed grid of alternatives on one side: exact at any count, zeros included.

Everything is a pure function of floats; tests/evaluator/test_judgement_sequential.py checks
the closed forms against scipy's numerical integration and distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The normal prior's variance on the standardised effect (mean / sd of the per-bucket log
# ratios). 1 spreads the evidence over effects of 0.3-3 standard deviations per bucket, which
# is where a regression worth stopping sits after 5-30 buckets (calibration: docs/canary-judgement.md).
PRIOR_VARIANCE = 1.0

# Alternatives of the counts test, as log-ratio steps away from the null ratio, and their
# weights (sum 1). Centred on a doubling, the change the shipped error-rate template must catch.
COUNT_STEPS = (math.log(1.5), math.log(2.0), math.log(3.0), math.log(6.0))
COUNT_WEIGHTS = (0.25, 0.45, 0.2, 0.1)

_LOG_RATIO_LIMIT = math.log(1e6)  # confidence bounds are searched within 1e-6x .. 1e6x
_BISECTIONS = 60


def log_threshold(alpha: float) -> float:
    """log(1/alpha): the log e-value a test at level alpha must reach."""
    return -math.log(alpha)


# --- paired log ratios -------------------------------------------------------------------


@dataclass(frozen=True)
class PairedLogRatios:
    """Per-bucket log ratios summarised: n, mean, sample standard deviation (0 when n < 2)."""

    n: int
    mean: float
    sd: float

    @classmethod
    def of(cls, values: Sequence[float]) -> PairedLogRatios:
        n = len(values)
        if n == 0:
            return cls(0, 0.0, 0.0)
        mean = math.fsum(values) / n
        if n < 2:
            return cls(n, mean, 0.0)
        variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
        return cls(n, mean, math.sqrt(variance))


def _log_beta_fraction(x: float, a: float, b: float) -> float:
    """log of the continued fraction of the regularized incomplete beta (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return math.log(fraction)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function (scipy.special.betainc)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front + _log_beta_fraction(x, a, b)) / a
    return 1 - math.exp(log_front + _log_beta_fraction(1 - x, b, a)) / b


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom (scipy.stats.t.cdf)."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return 1 - tail if t > 0 else tail


def safe_t_log_e_value(n: int, t: float) -> float:
    """log e-value of a t-statistic on n observations (n >= 2) against "mean = 0", for a mean
    above it: the Bayes factor with a half-normal prior on the standardised effect.

    With the prior on both sides the Bayes factor has the closed form E2 below; keeping the
    positive half (doubled) multiplies it by 2 P(Z <= c W) for W ~ chi_n, which is a Student t
    CDF with n degrees of freedom at n t / sqrt((n - 1 + t^2 / (1 + n g)) (n + 1 / g)), g the
    prior variance. Increasing in t, so it orders the outcomes as the t-test does.
    """
    if n < 2:
        return 0.0
    nu, g = n - 1, PRIOR_VARIANCE
    spread = 1 + n * g
    if math.isinf(t):
        two_sided = nu / 2 * math.log(spread)
        where = n * math.sqrt(g) if t > 0 else -n * math.sqrt(g)
    else:
        t2 = t * t
        two_sided = -0.5 * math.log(spread) + n / 2 * (math.log1p(t2 / nu) - math.log1p(t2 / (nu * spread)))
        where = n * t / math.sqrt((nu + t2 / spread) * (n + 1 / g))
    half = student_t_cdf(where, n)
    return two_sided + math.log(2 * half) if half > 0 else -math.inf


def safe_t_max_log_e_value(n: int) -> float:
    """The largest log e-value n buckets can give (t -> infinity): below the threshold, no
    outcome of the test on n buckets could be significant."""
    return safe_t_log_e_value(n, math.inf) if n >= 2 else 0.0


def safe_t_critical(n: int, alpha: float) -> float:
    """The t at which the e-value reaches 1/alpha on n buckets; inf when it never can."""
    threshold = log_threshold(alpha)
    if n < 2 or safe_t_max_log_e_value(n) <= threshold:
        return math.inf
    low, high = 0.0, 1.0
    while safe_t_log_e_value(n, high) < threshold:
        low, high = high, high * 2
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if safe_t_log_e_value(n, middle) < threshold:
            low = middle
        else:
            high = middle
    return high


def paired_t(sample: PairedLogRatios, theta: float) -> float:
    """The t-statistic of the log ratios against the log ratio theta."""
    shift = sample.mean - theta
    if sample.sd == 0:
        return 0.0 if shift == 0 else math.copysign(math.inf, shift)
    return shift / (sample.sd / math.sqrt(sample.n))


def paired_log_e_value(sample: PairedLogRatios, theta: float, upward: bool) -> float:
    """log e-value against "mean log ratio <= theta" (upward) or ">= theta" (downward)."""
    t = paired_t(sample, theta)
    return safe_t_log_e_value(sample.n, t if upward else -t)


def paired_bounds(sample: PairedLogRatios, alpha: float) -> tuple[float, float]:
    """(lower, upper) log-ratio bounds of the confidence sequence, each side at alpha (each is
    where that side's one-sided e-value crosses 1/alpha); -inf/inf when unbounded."""
    critical = safe_t_critical(sample.n, alpha)
    if math.isinf(critical):
        return -math.inf, math.inf
    radius = critical * sample.sd / math.sqrt(sample.n)
    return sample.mean - radius, sample.mean + radius


# --- event counts ------------------------------------------------------------------------


@dataclass(frozen=True)
class CountBucket:
    """One bucket: events of interest and all events, per version (may be fractional: sampling)."""

    canary_events: float
    canary_total: float
    baseline_events: float
    baseline_total: float

    @property
    def exposure_ratio(self) -> float:
        return self.canary_total / self.baseline_total

    @property
    def events(self) -> float:
        return self.canary_events + self.baseline_events

    @property
    def informative(self) -> bool:
        return self.canary_total > 0 and self.baseline_total > 0 and self.events > 0


@dataclass(frozen=True)
class CountTable:
    """The informative buckets as columns: exposure ratio k, canary events x, all events t."""

    k: tuple[float, ...]
    x: tuple[float, ...]
    t: tuple[float, ...]

    @classmethod
    def of(cls, buckets: Sequence[CountBucket]) -> CountTable:
        used = [b for b in buckets if b.informative]
        return cls(
            tuple(b.exposure_ratio for b in used),
            tuple(b.canary_events for b in used),
            tuple(b.events for b in used),
        )

    def extreme(self, upward: bool) -> CountTable:
        """The same totals with every event of interest in the canary (upward) or the baseline."""
        return CountTable(self.k, self.t if upward else tuple(0.0 for _ in self.t), self.t)


def _log_likelihood_ratios(table: CountTable, ratio: float, steps: Sequence[float]) -> list[float]:
    """log LR of rate ratio r0 * e^step against r0 = `ratio`, for each step, given each bucket's
    total events of interest: per bucket x * step + t * log((k r0 + 1) / (k r0 e^step + 1))."""
    growth = [math.exp(step) for step in steps]
    totals = [math.fsum(table.x) * step for step in steps]
    log1p = math.log1p
    for k, t in zip(table.k, table.t, strict=True):
        a0 = k * ratio
        base = log1p(a0)
        for i, g in enumerate(growth):
            totals[i] += t * (base - log1p(a0 * g))
    return totals


def count_log_e_value(table: CountTable, ratio: float, upward: bool) -> float:
    """log e-value against "rate ratio <= ratio" (upward) or ">= ratio" (downward)."""
    if not table.t or ratio <= 0 or math.isinf(ratio):
        return 0.0
    steps = COUNT_STEPS if upward else tuple(-step for step in COUNT_STEPS)
    terms = [
        math.log(w) + ratio_term
        for w, ratio_term in zip(COUNT_WEIGHTS, _log_likelihood_ratios(table, ratio, steps), strict=True)
    ]
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))


def count_max_log_e_value(table: CountTable, ratio: float, upward: bool) -> float:
    """The largest log e-value these totals allow (every event of interest in one version)."""
    return count_log_e_value(table.extreme(upward), ratio, upward)


def _bisect_log_ratio(table: CountTable, alpha: float, upward: bool) -> float:
    """The log ratio where the one-sided e-value crosses 1/alpha (it moves monotonically in r)."""
    threshold = log_threshold(alpha)

    def rejected(log_r: float) -> bool:
        return count_log_e_value(table, math.exp(log_r), upward) >= threshold

    low, high = -_LOG_RATIO_LIMIT, _LOG_RATIO_LIMIT
    # upward: small ratios are rejected, large ones not; downward the other way round.
    if upward and not rejected(low):
        return -math.inf
    if not upward and not rejected(high):
        return math.inf
    if upward and rejected(high):
        return math.inf
    if not upward and rejected(low):
        return -math.inf
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if rejected(middle) == upward:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def count_bounds(table: CountTable, alpha: float) -> tuple[float, float]:
    """(lower, upper) log rate-ratio bounds of the confidence sequence (each side at alpha)."""
    return _bisect_log_ratio(table, alpha, upward=True), _bisect_log_ratio(table, alpha, upward=False)


def count_log_ratio_estimate(table: CountTable) -> float | None:
    """Maximum-likelihood log rate ratio (the conditional model's); None without any event.

    Solves sum(x) = sum(t * k r / (k r + 1)), whose right side grows with r. Always inside the
    confidence bounds: at the estimate no alternative is more likely, so every mixture e-value
    is below 1.
    """
    observed, everything = math.fsum(table.x), math.fsum(table.t)
    if everything <= 0:
        return None
    if observed <= 0:
        return -math.inf
    if observed >= everything:
        return math.inf
    # Newton's method on log r, kept inside a bracket that bisection narrows whenever a Newton
    # step would leave it (the score is monotone, so the bracket always holds the root).
    typical_k = math.fsum(k * t for k, t in zip(table.k, table.t, strict=True)) / everything
    low, high = -_LOG_RATIO_LIMIT, _LOG_RATIO_LIMIT
    log_r = min(high, max(low, math.log(observed / (everything - observed)) - math.log(typical_k)))
    for _ in range(4 * _BISECTIONS):
        expected = slope = 0.0
        for k, t in zip(table.k, table.t, strict=True):
            share = 1 / (1 + 1 / (k * math.exp(log_r)))
            expected += t * share
            slope += t * share * (1 - share)
        if expected < observed:
            low = log_r
        else:
            high = log_r
        newton = log_r + (observed - expected) / slope if slope > 0 else math.nan
        following = newton if low < newton < high else (low + high) / 2
        if abs(following - log_r) < 1e-12 or high - low < 1e-12:
            return following
        log_r = following
    return log_r
