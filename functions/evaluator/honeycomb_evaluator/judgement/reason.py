"""The one sentence a person reads in `kubectl argo rollouts get` or the plugin's message.

"canary P99(duration_ms) 1,208 ms vs baseline 287 ms: 4.19x (96 % CI 3.80-4.62) over 10 paired
buckets, above the allowed 1.05x (p=0.0004); 4,000 vs 4,000 events"

It is written from the same classification as the verdict, so it cannot contradict it.
"""

from __future__ import annotations

import math
import re

from honeycomb_evaluator.judgement.classify import Classification, Verdict
from honeycomb_evaluator.judgement.outcome import MetricOutcome, Notes

# Unit suffixes of OpenTelemetry-style column names, shown after the numbers.
_UNITS = (("_ms", "ms"), ("_us", "µs"), ("_ns", "ns"), ("_seconds", "s"), ("_s", "s"), ("_bytes", "B"))
_COLUMN = re.compile(r"^[A-Z0-9_]+\((?P<column>.*)\)$")


def number(value: float) -> str:
    """1,188 / 299 / 12.3 / 0.0051: thousands separators, about three significant digits."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def times(ratio: float | None) -> str:
    if ratio is None or math.isinf(ratio):
        return "unbounded"
    return f"{number(ratio)}x"


def unit_of(calculation: str) -> str:
    match = _COLUMN.match(calculation)
    column = match.group("column") if match else ""
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return f" {unit}"
    return ""


def shown(value: float | None, calculation: str, as_share: bool) -> str:
    if value is None:
        return "no value"
    if as_share:
        return f"{number(value * 100)} %"
    return number(value) + unit_of(calculation)


def p_text(p: float, name: str = "p") -> str:
    return f"{name}={p:.2g}" if p >= 0.0001 else f"{name}<0.0001"


def _interval(c: Classification) -> str:
    if c.test is None:
        return f"{times(c.ratio)} (no test)"
    low = "0" if c.low is None else number(c.low)
    high = "∞" if c.high is None else number(c.high)
    level = f"{c.confidence * 100:.3g} %"
    unit = "paired buckets" if c.test == "paired" else "buckets"
    return f"{times(c.ratio)} ({level} CI {low}-{high}) over {c.buckets:,} {unit}"


def _clause(c: Classification, verdict: Verdict, p_value: float, name: str = "p") -> str:
    band = c.tests.band
    if c.tests.critical:
        return f"above critical_increase ({times(c.ratio)}): critical"
    if verdict == "high":
        return f"above the allowed {times(band.allowed_increase)} ({p_text(p_value, name)})"
    if verdict == "low":
        return f"below the allowed {times(band.allowed_decrease)} ({p_text(p_value, name)})"
    if verdict == "pass":
        sides = []
        if c.tests.log_e_high is not None:
            sides.append(f"below the harmful {times(band.harmful_increase)}")
        if c.tests.log_e_low is not None:
            sides.append(f"above the harmful {times(band.harmful_decrease)}")
        return "shown " + " and ".join(sides or ["inside the band"])
    if verdict == "nodata":
        return f"no outcome on these counts could show a regression yet: needs {c.needed}"
    caught = f"; {times(c.mde)} or beyond would be caught 80 % of the time" if c.mde else ""
    return f"not beyond the allowed band and not yet shown inside the harmful one{caught}"


def _left_out(notes: Notes) -> str:
    parts = []
    if notes.skipped:
        parts.append(f"{notes.skipped:,} buckets left out ({notes.why_skipped})")
    if notes.dispersion is not None and notes.dispersion > 1:
        parts.append(f"counts divided by the over-dispersion {number(notes.dispersion)} ({notes.sampling})")
    elif notes.sampling and "read off" in notes.sampling:
        parts.append(notes.sampling)
    return "".join(f"; {p}" for p in parts)


def sentence(outcome: MetricOutcome) -> str:
    """The reason for one metric, from the same classification as its verdict."""
    c, canary, baseline, calculation = (
        outcome.classification,
        outcome.canary,
        outcome.baseline,
        outcome.calculation,
    )
    as_share = c.test == "proportions"
    counts = f"; {canary.count:,} vs {baseline.count:,} events"
    head = f"canary {calculation} {shown(canary.value, calculation, as_share)} vs baseline " + shown(
        baseline.value, calculation, as_share
    )
    notes = outcome.notes
    if notes.min_count is not None:
        return f"{head}: no data: fewer than min_count {notes.min_count:,} events in a version{counts}"
    if c.test is not None and c.buckets == 0:
        why = f" ({notes.why_skipped})" if notes.why_skipped else ""
        return f"{head}: no data: no time bucket with events of both versions to test{why}{counts}"
    if c.test is None and (canary.value is None or baseline.value is None):
        return f"{head}: no data{counts}"
    clause = _clause(c, outcome.verdict, outcome.p_value, outcome.adjusted_name)
    return f"{head}: {_interval(c)}, {clause}{counts}{_left_out(notes)}"


def scorecard_sentence(verdict: Verdict, deciding: MetricOutcome, outcomes: list[MetricOutcome]) -> str:
    """ "high: errors decided: <its reason>; latency pass" (the others by name and verdict)."""
    others = [
        f"{o.label} {o.verdict}" + ("" if o.critical_metric else " (not critical)")
        for o in outcomes
        if o is not deciding
    ]
    tail = f"; others: {', '.join(others)}" if others else ""
    return f"{verdict}, decided by {deciding.label}: {sentence(deciding)}{tail}"
