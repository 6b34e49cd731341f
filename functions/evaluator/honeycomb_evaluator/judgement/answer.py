"""The response fields of a comparison (merged into the evaluate answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.judgement.classify import Verdict
from honeycomb_evaluator.judgement.comparison import compare
from honeycomb_evaluator.judgement.groups import Group
from honeycomb_evaluator.judgement.outcome import MetricOutcome
from honeycomb_evaluator.judgement.reason import scorecard_sentence, sentence, shown, times

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest


def _group(group: Group) -> dict[str, Any]:
    return {"key": group.key, "value": group.value, "count": group.count}


def comparison_fields(
    request: EvaluateRequest, calculation: str, canary: Group, baseline: Group
) -> dict[str, Any]:
    """`value` (the comparison the caller chose), both groups, the comparison; no verdict."""
    spec = request.compare
    assert spec is not None
    measures = compare(canary.value, baseline.value)
    ratio = f" ({times(measures.ratio)})" if measures.ratio is not None else ""
    reason = (
        f"canary {calculation} {shown(canary.value, calculation, False)} vs baseline "
        f"{shown(baseline.value, calculation, False)}{ratio}; {canary.count:,} vs {baseline.count:,} events"
    )
    return {
        "value": measures.value(spec.value),
        "verdict": None,
        "critical": None,
        "reason": reason,
        "canary": _group(canary),
        "baseline": _group(baseline),
        "comparison": {
            "column": spec.column,
            "value": spec.value,
            "ratio": measures.ratio,
            "difference": measures.difference,
            "percent_change": measures.percent_change,
        },
    }


def _evidence(outcome: MetricOutcome) -> dict[str, Any]:
    c, notes = outcome.classification, outcome.notes
    return {
        "buckets": c.buckets,
        "buckets_seen": notes.buckets_seen,
        "new_buckets": notes.new_buckets,
        "skipped_buckets": notes.skipped,
        "why_skipped": notes.why_skipped,
        "sampling": notes.sampling,
        "dispersion": notes.dispersion,
        "needed": c.needed,
        "history_full": notes.history_full,
    }


def _statistics(outcome: MetricOutcome) -> dict[str, Any]:
    c = outcome.classification
    tested = c.test is not None
    return {
        "test": c.test,
        "p_value": outcome.classification.p_value if tested else None,
        "estimate": c.ratio,
        "ratio_ci": [c.low, c.high] if tested else None,
        "confidence": c.confidence if tested else None,
        "mde": c.mde,
        "evidence": _evidence(outcome) if tested else None,
    }


def judgement_fields(request: EvaluateRequest, outcome: MetricOutcome) -> dict[str, Any]:
    fields = comparison_fields(request, outcome.calculation, outcome.canary, outcome.baseline)
    if outcome.verdict == "nodata":
        fields["value"] = None  # a numeric condition meets the same null as a query without data
    fields.update(
        verdict=outcome.verdict,
        critical=outcome.classification.tests.critical,
        reason=sentence(outcome),
        **_statistics(outcome),
    )
    return fields


def _metric(outcome: MetricOutcome) -> dict[str, Any]:
    return {
        "name": outcome.label,
        "calculation": outcome.calculation,
        "critical": outcome.critical_metric,
        "verdict": outcome.verdict,
        "reason": sentence(outcome),
        "canary": _group(outcome.canary),
        "baseline": _group(outcome.baseline),
        "adjusted_p_value": outcome.adjusted_p_value,
        **_statistics(outcome),
    }


def scorecard_fields(
    request: EvaluateRequest, verdict: Verdict, deciding: MetricOutcome, outcomes: list[MetricOutcome]
) -> dict[str, Any]:
    """The overall verdict, named after the metric that decided it, and every metric's own."""
    fields = judgement_fields(request, deciding)
    fields.update(
        verdict=verdict,
        calculation=deciding.calculation,
        reason=scorecard_sentence(verdict, deciding, outcomes),
        deciding_metric=deciding.label,
        metrics=[_metric(o) for o in outcomes],
    )
    if verdict == "nodata":
        fields["value"] = None
    return fields
