"""Time buckets of both versions as Honeycomb answers them, and what sampling means for them.

A `Bucket` is one time bucket of the comparison query's series with a point for each version:
its weighted `COUNT` and every calculation of the query. Honeycomb weights COUNT, SUM, AVG and
the percentiles by each event's sample rate, so a COUNT of 200 may be 10 stored events at
sample rate 20. The tests need stored events; `Sampling` says how to get them:

- `rate`: every event was kept with probability 1/rate: stored = COUNT / rate.
- `column`: each event carries its rate in that column; the query also asks SUM(column)
  (weighted: the sum of squared rates), and the effective number of events is Kish's
  COUNT^2 / SUM(column) (exactly the stored count when the rate is constant).
- not said: COUNT is taken as the number of events, and the counts test estimates the
  over-dispersion from the buckets themselves (measure.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import SamplingSpec


@dataclass(frozen=True)
class Side:
    """One version in one bucket: Honeycomb's weighted COUNT and the query's calculations."""

    count: float
    values: Mapping[str, float | None]


@dataclass(frozen=True)
class Bucket:
    start: int  # unix seconds, inclusive
    end: int  # exclusive
    canary: Side
    baseline: Side


@dataclass(frozen=True)
class Sampling:
    rate: float | None = None  # one constant sample rate for every event
    column: str | None = None  # or the column holding each event's rate
    inferred: bool = False  # the rate was read off the counts, not stated (measure.py)

    @classmethod
    def of(cls, spec: SamplingSpec | None) -> Sampling:
        if spec is None:
            return cls()
        return cls(rate=None if spec.rate is None else float(spec.rate), column=spec.column)

    @property
    def stated(self) -> bool:
        return (self.rate is not None and not self.inferred) or self.column is not None

    @property
    def rate_sum_key(self) -> str | None:
        """The result key of SUM(column), which the comparison query adds."""
        return f"SUM({self.column})" if self.column is not None else None

    def stored(self, side: Side) -> float:
        """The effective number of stored events behind this side's weighted COUNT."""
        if self.rate is not None:
            return side.count / self.rate
        key = self.rate_sum_key
        if key is not None:
            squares = side.values.get(key)
            if squares is None or squares <= 0:
                return 0.0
            return side.count * side.count / squares
        return side.count

    def describe(self) -> str:
        if self.rate is not None:
            return f"sample rate {self.rate:g}" + (" (read off the counts)" if self.inferred else "")
        if self.column is not None:
            return f"sample rates from {self.column}"
        return "sampling not stated"
