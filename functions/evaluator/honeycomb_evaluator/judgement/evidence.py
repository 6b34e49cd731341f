"""The evidence of one comparison, behind one small interface the classifier reads.

`Evidence` answers, for a rate ratio canary / baseline: how strongly the data reject "the
ratio is at most r" (upward) or "at least r" (downward), what any outcome on these counts
could at best reach, the confidence bounds, the estimate, and the smallest change the test
would catch. `PairedEvidence` (time buckets of a positive value, e.g. P99) and `CountEvidence`
(events of interest among all events, e.g. errors) implement it; anything that can be put in
this shape (a slice of the traffic, another pair of versions) is judged the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist
from typing import Literal, Protocol

from honeycomb_evaluator.judgement.sequential import (
    COUNT_STEPS,
    COUNT_WEIGHTS,
    CountBucket,
    CountTable,
    PairedLogRatios,
    count_bounds,
    count_log_e_value,
    count_log_ratio_estimate,
    count_max_log_e_value,
    log_threshold,
    paired_bounds,
    paired_log_e_value,
    safe_t_critical,
    safe_t_max_log_e_value,
)

TestName = Literal["paired", "proportions"]
POWER = 0.8  # "would have been caught 80 % of the time": the minimum detectable effect's power
_Z_POWER = NormalDist().inv_cdf(POWER)
_MAX_BUCKETS_NEEDED = 10_000


class Evidence(Protocol):
    @property
    def test(self) -> TestName: ...

    @property
    def size(self) -> int:
        """Buckets that carry information."""
        ...

    def log_e_value(self, ratio: float, upward: bool) -> float: ...

    def max_log_e_value(self, ratio: float, upward: bool) -> float: ...

    def log_bounds(self, alpha: float) -> tuple[float, float]: ...

    def log_estimate(self) -> float | None: ...

    def baseline_level(self) -> float | None:
        """The baseline's typical value, which turns an absolute tolerance into a ratio."""
        ...

    def detectable(self, ratio: float, alpha: float, upward: bool) -> float | None:
        """The ratio beyond `ratio` caught with probability POWER at this look, or None."""
        ...

    def needed(self, ratio: float, alpha: float, upward: bool) -> str:
        """Roughly what it would take for any outcome to be significant (for `nodata`)."""
        ...


@dataclass(frozen=True)
class PairedEvidence:
    """log(canary / baseline) per usable time bucket, and the baseline's values for its level."""

    log_ratios: tuple[float, ...]
    baseline_values: tuple[float, ...]
    test: TestName = "paired"

    @property
    def size(self) -> int:
        return len(self.log_ratios)

    @property
    def sample(self) -> PairedLogRatios:
        return PairedLogRatios.of(self.log_ratios)

    def log_e_value(self, ratio: float, upward: bool) -> float:
        return paired_log_e_value(self.sample, math.log(ratio), upward)

    def max_log_e_value(self, ratio: float, upward: bool) -> float:
        return safe_t_max_log_e_value(self.size)

    def log_bounds(self, alpha: float) -> tuple[float, float]:
        return paired_bounds(self.sample, alpha)

    def log_estimate(self) -> float | None:
        return self.sample.mean if self.log_ratios else None

    def baseline_level(self) -> float | None:
        if not self.baseline_values:
            return None
        return math.exp(math.fsum(math.log(v) for v in self.baseline_values) / len(self.baseline_values))

    def detectable(self, ratio: float, alpha: float, upward: bool) -> float | None:
        sample = self.sample
        critical = safe_t_critical(sample.n, alpha)
        if math.isinf(critical):
            return None
        shift = (critical + _Z_POWER) * sample.sd / math.sqrt(sample.n)
        return ratio * math.exp(shift if upward else -shift)

    def needed(self, ratio: float, alpha: float, upward: bool) -> str:
        n = max(self.size, 2)
        while safe_t_max_log_e_value(n) <= log_threshold(alpha) and n < _MAX_BUCKETS_NEEDED:
            n += 1
        return f"at least {n} paired buckets (has {self.size})"


@dataclass(frozen=True)
class CountEvidence:
    """Events of interest per version per time bucket (effective counts under sampling)."""

    buckets: tuple[CountBucket, ...]
    test: TestName = "proportions"

    @cached_property
    def used(self) -> list[CountBucket]:
        return [b for b in self.buckets if b.canary_total > 0 and b.baseline_total > 0]

    @cached_property
    def table(self) -> CountTable:
        return CountTable.of(self.used)

    @property
    def size(self) -> int:
        return len(self.used)

    def log_e_value(self, ratio: float, upward: bool) -> float:
        return count_log_e_value(self.table, ratio, upward)

    def max_log_e_value(self, ratio: float, upward: bool) -> float:
        return count_max_log_e_value(self.table, ratio, upward)

    def log_bounds(self, alpha: float) -> tuple[float, float]:
        return count_bounds(self.table, alpha)

    def log_estimate(self) -> float | None:
        return count_log_ratio_estimate(self.table)

    def _pooled(self) -> tuple[float, float, float]:
        """(canary events, baseline events, baseline rate): the rate has half an event added, so
        a clean baseline still has a small positive rate to be relative to."""
        used = self.used
        canary_total = math.fsum(b.canary_total for b in used)
        baseline_total = math.fsum(b.baseline_total for b in used)
        rate = (math.fsum(b.baseline_events for b in used) + 0.5) / baseline_total if used else 0.0
        return canary_total, baseline_total, rate

    def baseline_level(self) -> float | None:
        return self._pooled()[2] if self.used else None

    def detectable(self, ratio: float, alpha: float, upward: bool) -> float | None:
        if not self.used:
            return None
        canary_total, baseline_total, rate = self._pooled()
        threshold = log_threshold(alpha)

        def caught(log_r: float) -> bool:
            # Expected events under the ratio e^log_r, and the split the test needs (one bucket).
            canary_mean = math.exp(log_r) * rate * canary_total
            total = canary_mean + rate * baseline_total
            share = canary_mean / total
            needed = _split_needed(total, (canary_total, baseline_total), ratio, threshold, upward)
            if needed is None:
                return False
            spread = math.sqrt(total * share * (1 - share))
            margin = (total * share - needed) if upward else (needed - total * share)
            return margin >= _Z_POWER * spread

        start = math.log(ratio)
        far = start + (12.0 if upward else -12.0)
        if not caught(far):
            return None
        near = start
        for _ in range(40):
            middle = (near + far) / 2
            if caught(middle):
                far = middle
            else:
                near = middle
        return math.exp(far)

    def needed(self, ratio: float, alpha: float, upward: bool) -> str:
        canary_total, baseline_total, _ = self._pooled()
        if canary_total <= 0 or baseline_total <= 0:
            return "events in both versions"
        k = canary_total / baseline_total
        a0 = k * ratio
        # Every event of interest in one version: log E = log w + T * gain(step); smallest T.
        best = math.inf
        for step, weight in zip(COUNT_STEPS, COUNT_WEIGHTS, strict=True):
            s = step if upward else -step
            gain = (s if upward else 0.0) + math.log1p(a0) - math.log1p(a0 * math.exp(s))
            if gain > 0:
                best = min(best, (log_threshold(alpha) - math.log(weight)) / gain)
        have = math.fsum(b.events for b in self.used)
        if math.isinf(best):
            return "a different split of traffic"
        return f"about {math.ceil(best):,} events of interest in all (has {have:,.0f})"


def _split_needed(
    total: float, exposure: tuple[float, float], ratio: float, threshold: float, upward: bool
) -> float | None:
    """Fewest (upward) or most (downward) canary events of `total` that reject at `threshold`,
    `exposure` being both versions' events (canary, baseline)."""

    def rejects(x: float) -> bool:
        bucket = CountBucket(x, exposure[0], total - x, exposure[1])
        return count_log_e_value(CountTable.of([bucket]), ratio, upward) >= threshold

    low, high = 0.0, total
    if not rejects(high if upward else low):
        return None
    for _ in range(40):
        middle = (low + high) / 2
        if rejects(middle) == upward:
            high = middle
        else:
            low = middle
    return high if upward else low
