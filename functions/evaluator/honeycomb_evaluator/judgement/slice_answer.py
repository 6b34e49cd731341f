"""The answer's `slices` block, and the verdict and reason when a slice or a new error type decides.

The whole comparison's fields stay as they are (its value, estimate, interval); a regressed slice
changes `verdict`, `reason` and adds `deciding_slice`. `slices.top` lists the slices a person
would look at first, the way BubbleUp ranks them: the regressed ones, then the most significant.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.judgement.buckets import Side
from honeycomb_evaluator.judgement.cells import Coverage
from honeycomb_evaluator.judgement.classify import Rule, Verdict, describe
from honeycomb_evaluator.judgement.groups import Group
from honeycomb_evaluator.judgement.outcome import MetricOutcome
from honeycomb_evaluator.judgement.reason import number, sentence
from honeycomb_evaluator.judgement.slices import NamedError, SlicesJudged, SliceVerdict
from honeycomb_evaluator.judgement.slicing import SHARE, SliceData, error_sides, label_of, pairs_of

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Compare
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.models.slices import Slices

TOP_SLICES = 10


def _group(key: Any, side: Side | None, calculation: str) -> Group:
    if side is None:
        return Group(key, None, 0)
    return Group(key, side.values.get(calculation), int(side.count), side)


def _window_sides(data: SliceData, identity: str) -> tuple[Side | None, Side | None]:
    if identity.startswith("e:"):
        pair = error_sides(data, identity, None)
        return pair if pair is not None else (None, None)
    sums = data.slices.sides(identity)
    return tuple(sums[r].side() if r in sums else None for r in ("canary", "baseline"))  # type: ignore[return-value]


def outcome_of(verdict: SliceVerdict, data: SliceData, compare: Compare) -> MetricOutcome:
    """A slice's verdict as a metric outcome (so its reason reads like the whole comparison's)."""
    h = verdict.hypothesis
    canary, baseline = _window_sides(data, h.identity)
    calculation = h.judged.calculation
    shown_as = f"share of events with {label_of(h.identity)}" if calculation == SHARE else calculation
    rule = Rule.of(h.judged.rules)
    classification = describe(h.evidence, rule, h.tests, verdict.verdict)
    return MetricOutcome(
        h.judged.label,
        shown_as,
        True,
        _group(compare.canary, canary, calculation),
        _group(compare.baseline, baseline, calculation),
        classification,
        verdict.verdict,
        verdict.q_value,
        h.notes,
        adjusted_name="q",
    )


def _slice_entry(verdict: SliceVerdict, data: SliceData, compare: Compare) -> dict[str, Any]:
    outcome = outcome_of(verdict, data, compare)
    c = outcome.classification
    identity = verdict.hypothesis.identity
    return {
        "slice": pairs_of(identity),
        "error_type": None if identity.startswith("s:") else label_of(identity),
        "label": label_of(identity),
        "metric": verdict.hypothesis.judged.label,
        "calculation": outcome.calculation,
        "verdict": verdict.verdict,
        "reason": sentence(outcome),
        "canary": {"value": outcome.canary.value, "count": outcome.canary.count},
        "baseline": {"value": outcome.baseline.value, "count": outcome.baseline.count},
        "estimate": c.ratio,
        "ratio_ci": [c.low, c.high],
        "q_value": verdict.q_value,
        "p_value": c.p_value,
        "mde": c.mde,
        "buckets": c.buckets,
    }


def _named(error: NamedError, judged: SlicesJudged) -> dict[str, Any]:
    tested = next((v for v in judged.verdicts if v.hypothesis.identity == error.identity), None)
    return {
        "type": label_of(error.identity),
        "canary_count": error.canary_count,
        "baseline_count": error.baseline_count,
        "critical": error.critical,
        "verdict": "high" if error.critical else (tested.verdict if tested is not None else "nodata"),
        "q_value": tested.q_value if tested is not None else None,
    }


def new_errors_note(judged: SlicesJudged) -> str:
    named = judged.named_errors
    if not named:
        return ""
    shown = ", ".join(
        f"{label_of(e.identity)} ({number(e.canary_count)} vs {number(e.baseline_count)} events)"
        for e in named[:3]
    )
    more = f" and {len(named) - 3} more" if len(named) > 3 else ""
    return f"; new error types: {shown}{more}"


def coverage_note(coverage: Coverage) -> str:
    if not coverage.truncated:
        return ""
    beyond = coverage.events_beyond_limit
    events = f"{number(beyond)} events" if beyond else "the smaller groups"
    return f"; {events} beyond Honeycomb's {coverage.limit:,} groups not judged"


def slices_block(
    spec: Slices, judged: SlicesJudged, data: SliceData, compare: Compare, coverage: Coverage
) -> dict[str, Any]:
    seen = len(data.slices.window)
    admitted = sum(1 for i in judged.history.admitted if i.startswith("s:"))
    top = [v for v in judged.verdicts if v.regressed] or list(judged.verdicts)
    return {
        "dimensions": list(spec.dimensions),
        "depth": spec.depth,
        "significance": judged.q,
        "family": judged.family,
        "seen": seen,
        "judged": admitted,
        "too_small": seen - judged.candidates,
        "beyond_max_slices": max(0, judged.candidates - admitted),
        "regressed": len(judged.regressed),
        "buckets_seen": len(judged.history.buckets),
        "top": [_slice_entry(v, data, compare) for v in top[:TOP_SLICES]],
        "new_errors": [_named(e, judged) for e in judged.named_errors],
        "coverage": dataclasses.asdict(coverage),
    }


def decided_by_slices(
    whole: Verdict, judged: SlicesJudged
) -> tuple[Verdict, SliceVerdict | NamedError] | None:
    """The verdict a regressed slice or a critical new error type gives, when the whole
    comparison did not regress itself (it then decides, being the broader finding)."""
    if whole in ("high", "low"):
        return None
    if judged.critical:
        return "high", judged.critical[0]
    if judged.regressed:
        first = judged.regressed[0]
        return first.verdict, first
    return None


def slice_reason(
    deciding: SliceVerdict | NamedError, data: SliceData, compare: Compare, whole: tuple[Verdict, str]
) -> str:
    verdict, whole_reason = whole
    if isinstance(deciding, NamedError):
        return (
            f"high, decided by the new error type {label_of(deciding.identity)}: "
            f"{number(deciding.canary_count)} events in the canary, none in the baseline "
            f"(critical_count); whole comparison: {verdict} ({whole_reason})"
        )
    outcome = outcome_of(deciding, data, compare)
    where = (
        f"error type {label_of(deciding.hypothesis.identity)}"
        if deciding.hypothesis.identity.startswith("e:")
        else f"slice {label_of(deciding.hypothesis.identity)} ({outcome.label})"
    )
    return f"{deciding.verdict}, decided by {where}: {sentence(outcome)}; whole comparison: {verdict}"


def sliced_fields(
    request: EvaluateRequest,
    fields: dict[str, Any],
    judged: SlicesJudged,
    data: SliceData,
    coverage: Coverage,
) -> dict[str, Any]:
    """The whole comparison's `fields` with the slices block, and the verdict a slice gives."""
    spec, compare = request.slices, request.compare
    assert spec is not None and compare is not None
    out = dict(fields)
    out["slices"] = slices_block(spec, judged, data, compare, coverage)
    out["deciding_slice"] = None
    decided = decided_by_slices(fields["verdict"], judged)
    tail = new_errors_note(judged) + coverage_note(coverage)
    if decided is None:
        out["reason"] = f"{fields['reason']}{tail}"
        return out
    verdict, deciding = decided
    out["verdict"] = verdict
    out["reason"] = slice_reason(deciding, data, compare, (fields["verdict"], fields["reason"])) + tail
    out["deciding_slice"] = label_of(
        deciding.identity if isinstance(deciding, NamedError) else deciding.hypothesis.identity
    )
    return out
