"""A metric's evidence from the stored buckets: which buckets count, and how much each weighs.

Paired (a P99, an AVG): a bucket counts when both versions have a positive value and enough
stored events for the calculation to be more than its extreme. Honeycomb's P99 is the nearest
rank, so under 100 events it IS the bucket's maximum, and the maximum of fewer events is
smaller: a canary with a tenth of the traffic would look faster than it is. A percentile Pq
needs 1 / min(q, 1 - q) stored events in each version (P99: 100, P95: 20, P50: 2); buckets
below are left out and the answer says how many.

Counts (an AVG of a 0/1 column): events of interest = the share times the stored events.

Sampling not stated: Honeycomb's weighted counts overstate the events by the sample rate. Two
safeguards, both conservative when there was no sampling:
- a constant sample rate shows as every weighted count being a multiple of it, so the largest
  whole number dividing every count (and, for the counts test, every weighted count of events
  of interest) is taken as the rate (`inferred_rate`);
- what that leaves (rates that vary per event, bursts) shows as buckets varying more than
  independent events would: the counts test divides by that over-dispersion, Pearson's
  statistic of the canary's share per bucket around the fitted ratio over its degrees of
  freedom, when it is above 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling
from honeycomb_evaluator.judgement.evidence import CountEvidence, PairedEvidence
from honeycomb_evaluator.judgement.sequential import CountBucket, CountTable, count_log_ratio_estimate

_PERCENTILE = re.compile(r"^P(?P<digits>\d{2,3})\(")


def fewest_events(calculation: str) -> int:
    """Stored events a version needs in a bucket for `calculation` to be more than an extreme."""
    match = _PERCENTILE.match(calculation)
    if not match:
        return 1
    digits = match.group("digits")
    q = int(digits) / float(10 ** len(digits))  # P99 -> 0.99, P999 -> 0.999, P001 -> 0.001
    return math.ceil(1 / min(q, 1 - q) - 1e-9)


@dataclass(frozen=True)
class Measured:
    """A metric's evidence and what was left out on the way."""

    evidence: PairedEvidence | CountEvidence
    skipped: int = 0  # buckets left out
    why_skipped: str | None = None
    dispersion: float | None = None  # the over-dispersion divided out (sampling not stated)
    inferred_rate: float | None = None  # the sample rate read off the counts (sampling not stated)


def _whole(value: float) -> int | None:
    nearest = round(value)
    return nearest if abs(value - nearest) <= 1e-6 * max(1.0, abs(value)) else None


def inferred_rate(counts: Sequence[float]) -> int:
    """The largest whole number dividing every non-zero weighted count (1 if any is fractional).

    Conservative on purpose: counts that happen to share a factor (all even, say) are read as
    sampled, which only weakens the evidence; state the sampling to avoid it. Real traffic's
    per-minute counts share no factor within a few minutes.
    """
    divisor = 0
    for value in counts:
        whole = _whole(value)
        if whole is None:
            return 1
        divisor = math.gcd(divisor, whole)
    return max(divisor, 1)


def _unstated(sampling: Sampling, counts: Callable[[], Sequence[float]]) -> Sampling:
    """The sampling stated, or a rate read off the weighted `counts` (listed only then)."""
    if sampling.stated:
        return sampling
    rate = inferred_rate(counts())
    return Sampling(rate=float(rate), inferred=True) if rate > 1 else sampling


def paired(buckets: Sequence[Bucket], calculation: str, sampling: Sampling, fewest: int = 1) -> Measured:
    """`fewest`: stored events a version needs in a bucket, beyond what the calculation needs."""
    sampling = _unstated(sampling, lambda: [s.count for b in buckets for s in (b.canary, b.baseline)])
    fewest = max(fewest, fewest_events(calculation))
    log_ratios: list[float] = []
    levels: list[float] = []
    small = nonpositive = 0
    for bucket in buckets:
        canary, baseline = bucket.canary.values.get(calculation), bucket.baseline.values.get(calculation)
        if canary is None or baseline is None or canary <= 0 or baseline <= 0:
            nonpositive += 1
        elif sampling.stored(bucket.canary) < fewest or sampling.stored(bucket.baseline) < fewest:
            small += 1
        else:
            log_ratios.append(math.log(canary / baseline))
            levels.append(baseline)
    reasons = []
    if small:
        reasons.append(f"{small} with fewer than {fewest:,} stored events in a version")
    if nonpositive:
        reasons.append(f"{nonpositive} without a positive {calculation} in both")
    why = "; ".join(reasons) or None
    rate = sampling.rate if sampling.inferred else None
    return Measured(
        PairedEvidence(tuple(log_ratios), tuple(levels)), small + nonpositive, why, inferred_rate=rate
    )


def _share(value: float | None, calculation: str, key: object) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= 1:
        raise InvalidRequest(
            f"the proportions test needs a share between 0 and 1; {calculation} is {value:g} in a bucket "
            f"of {key!r} (average a 0/1 column, e.g. a calculated field IF($error, 1, 0))",
            field="judge.test",
        )
    return value


def dispersion(buckets: Sequence[CountBucket]) -> float:
    """Pearson's X^2 / df of the canary's share per bucket around the fitted common ratio."""
    table = CountTable.of(buckets)
    estimate = count_log_ratio_estimate(table)
    if estimate is None or not math.isfinite(estimate) or len(table.t) < 2:
        return 1.0
    ratio = math.exp(estimate)
    statistic = 0.0
    for k, x, t in zip(table.k, table.x, table.t, strict=True):
        share = k * ratio / (k * ratio + 1)
        statistic += (x - t * share) ** 2 / (t * share * (1 - share))
    return max(1.0, statistic / (len(table.t) - 1))


def counts(
    buckets: Sequence[Bucket], calculation: str, sampling: Sampling, keys: tuple[object, object]
) -> Measured:
    """Events of interest per version per bucket; `keys` name the versions in errors."""

    def weighted() -> list[float]:
        out = [s.count for b in buckets for s in (b.canary, b.baseline)]
        for b in buckets:
            for s in (b.canary, b.baseline):
                share = s.values.get(calculation)
                if share is not None:
                    out.append(share * s.count)
        return out

    inferred = _unstated(sampling, weighted)
    counted: list[CountBucket] = []
    missing = 0
    for bucket in buckets:
        canary = _share(bucket.canary.values.get(calculation), calculation, keys[0])
        baseline = _share(bucket.baseline.values.get(calculation), calculation, keys[1])
        if canary is None or baseline is None:
            missing += 1
            continue
        canary_total, baseline_total = inferred.stored(bucket.canary), inferred.stored(bucket.baseline)
        counted.append(
            CountBucket(canary * canary_total, canary_total, baseline * baseline_total, baseline_total)
        )
    why = f"{missing} without a {calculation} in both versions" if missing else None
    if sampling.stated:
        return Measured(CountEvidence(tuple(counted)), missing, why)
    # Not stated: divide out what is left of the over-dispersion after the inferred rate.
    phi = dispersion(counted)
    rate = inferred.rate if inferred.inferred else None
    return Measured(divided(CountEvidence(tuple(counted)), phi), missing, why, phi, rate)


def divided(evidence: CountEvidence, phi: float) -> CountEvidence:
    """The counts divided by an over-dispersion `phi` (>= 1): as many fewer independent events."""
    if phi <= 1:
        return evidence
    return CountEvidence(
        tuple(
            replace(
                b,
                canary_events=b.canary_events / phi,
                canary_total=b.canary_total / phi,
                baseline_events=b.baseline_events / phi,
                baseline_total=b.baseline_total / phi,
            )
            for b in evidence.buckets
        )
    )
