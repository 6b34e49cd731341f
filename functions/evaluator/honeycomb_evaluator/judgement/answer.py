"""The response fields of a comparison, from the one query result (merged into the evaluate answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.groups import Group, read_groups
from honeycomb_evaluator.judgement.query import chosen_test, has_buckets
from honeycomb_evaluator.judgement.reason import sentence
from honeycomb_evaluator.judgement.verdict import judge_groups

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest


def _group(group: Group) -> dict[str, Any]:
    return {"key": group.key, "value": group.value, "count": group.count}


def comparison_answer(request: EvaluateRequest, result: QueryResult, calculation: str) -> dict[str, Any]:
    """`value` (the comparison the caller chose), `verdict`, `reason`, both groups and the test.

    With `judge`, `value` is null whenever the verdict is `nodata`, so a numeric condition meets
    the same null as a single-group query without data (`default(result, ...)` decides).
    """
    compare = request.compare
    if compare is None:
        raise ValueError("comparison_answer needs a request with compare")
    canary, baseline = read_groups(request, result, calculation)
    test = chosen_test(request.judge, has_buckets(request))
    judgement = judge_groups(request.judge, test, canary, baseline)
    decision, ran = judgement.decision, judgement.test
    value = judgement.comparison.value(compare.value)
    if decision is not None and decision.verdict == "nodata":
        value = None
    return {
        "value": value,
        "verdict": decision.verdict if decision else None,
        "critical": decision.critical if decision else None,
        "reason": sentence(calculation, canary, baseline, judgement),
        "canary": _group(canary),
        "baseline": _group(baseline),
        "comparison": {
            "column": compare.column,
            "value": compare.value,
            "ratio": judgement.comparison.ratio,
            "difference": judgement.comparison.difference,
            "percent_change": judgement.comparison.percent_change,
        },
        "test": ran.test if ran else None,
        "p_value": ran.p_value if ran else None,
        "effect_size": ran.effect_size if ran else None,
    }
