"""Canary against baseline as one number: ratio, difference or percent change.

Rules for the edges, the same everywhere (docs/canary-judgement.md "No data and zero"):
- either value missing (no data) → every measure is None;
- baseline 0: `difference` is still defined; `ratio` and `percent_change` are 1.0 and 0.0 when
  the canary is 0 too (the groups are the same) and None otherwise (undefined, never ±inf, so a
  zero baseline can neither fail nor pass every canary through a numeric condition; the verdict
  then falls back on the statistical test and the absolute tolerance, see verdict.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ComparisonKind = Literal["ratio", "difference", "percent_change"]


@dataclass(frozen=True)
class Comparison:
    ratio: float | None
    difference: float | None
    percent_change: float | None

    def value(self, kind: ComparisonKind) -> float | None:
        return {"ratio": self.ratio, "difference": self.difference, "percent_change": self.percent_change}[
            kind
        ]


def _finite(number: float) -> float | None:
    return number if math.isfinite(number) else None


def compare(canary: float | None, baseline: float | None) -> Comparison:
    if canary is None or baseline is None:
        return Comparison(None, None, None)
    difference = _finite(canary - baseline)
    if baseline == 0:
        same = canary == 0
        return Comparison(1.0 if same else None, difference, 0.0 if same else None)
    # A negative baseline (rare: a difference column) keeps the sign of the change in percent.
    return Comparison(
        _finite(canary / baseline), difference, _finite((canary - baseline) / abs(baseline) * 100)
    )
