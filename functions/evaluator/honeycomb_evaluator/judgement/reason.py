"""The one sentence a person reads in `kubectl argo rollouts get` or the plugin's message.

"canary P99(duration_ms) 1,188 ms is 3.97x baseline 299 ms (allowed 1.2x, p=0.0001); 2,400 vs 2,380 events"
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from honeycomb_evaluator.judgement.groups import Group
from honeycomb_evaluator.judgement.verdict import Judgement

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Judge

# Unit suffixes of OpenTelemetry-style column names, shown after the numbers.
_UNITS = (("_ms", "ms"), ("_us", "µs"), ("_ns", "ns"), ("_seconds", "s"), ("_s", "s"), ("_bytes", "B"))
_COLUMN = re.compile(r"^[A-Z0-9_]+\((?P<column>.*)\)$")


def number(value: float) -> str:
    """1,188 / 299 / 12.3 / 0.0051: thousands separators, about three significant digits."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def times(ratio: float) -> str:
    return f"{number(ratio)}x"


def unit_of(calculation: str) -> str:
    match = _COLUMN.match(calculation)
    column = match.group("column") if match else ""
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return f" {unit}"
    return ""


def _shown(value: float, calculation: str, as_share: bool) -> str:
    if as_share:
        return f"{number(value * 100)} %"
    return number(value) + unit_of(calculation)


def _band(judge: Judge, baseline: float, as_share: bool) -> str:
    # The tolerance is in the calculation's unit: a share shows as percentage points.
    tolerance = f"{number(judge.tolerance * 100)} %" if as_share else number(judge.tolerance)
    if baseline == 0:
        allowed = f"allowed +{tolerance} over a zero baseline"
    else:
        high, low = times(judge.allowed_increase), times(judge.allowed_decrease)
        allowed = {"increase": high, "decrease": low, "either": f"{low} to {high}"}[judge.direction]
        allowed = f"allowed {allowed}" + (f" + {tolerance}" if judge.tolerance else "")
        if judge.critical_increase is not None and judge.direction != "decrease":
            allowed += f", critical {times(judge.critical_increase)}"
    return allowed


def _no_data(calculation: str, canary: Group, baseline: Group, judge: Judge | None) -> str:
    def state(role: str, group: Group) -> str:
        if group.count > 0 and group.value is None:
            return f"{role} has no {calculation} value ({group.count:,} events)"
        return f"{role} has {group.count:,} events"

    minimum = f" (min_count {judge.min_count:,})" if judge is not None else ""
    return f"no data: {state('canary', canary)}, {state('baseline', baseline)}{minimum}"


def sentence(calculation: str, canary: Group, baseline: Group, judgement: Judgement) -> str:
    decision, judge, test = judgement.decision, judgement.judge, judgement.test
    if canary.value is None or baseline.value is None or (decision and decision.verdict == "nodata"):
        return _no_data(calculation, canary, baseline, judge)
    as_share = test is not None and test.test == "proportions"
    c, b = _shown(canary.value, calculation, as_share), _shown(baseline.value, calculation, as_share)
    ratio = judgement.comparison.ratio
    head = f"canary {calculation} {c} " + (
        f"is {times(ratio)} baseline {b}" if ratio is not None else f"vs baseline {b}"
    )
    notes = [_band(judge, baseline.value, as_share)] if judge is not None else []
    if decision is not None and decision.critical:
        notes.append("critical bound exceeded")
    if test is not None and judge is not None:
        significance = "" if decision is None or decision.significant else ", not significant"
        notes.append(f"p={test.p_value:.2g}{significance}")
    detail = f" ({', '.join(notes)})" if notes else ""
    return f"{head}{detail}; {canary.count:,} vs {baseline.count:,} events"
