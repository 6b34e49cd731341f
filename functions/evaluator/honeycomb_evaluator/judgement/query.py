"""The one Honeycomb query of a comparison, from the caller's query (checked before any call).

The caller's query plus a filter `column in [canary, baseline]`, a breakdown on `column` and
`COUNT` (each group's event count) when the caller did not ask for it. What would change the
meaning of that query, or make one group's row disappear, is refused with a 422 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.judgement.statistics import TestName

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Compare, Judge
    from honeycomb_evaluator.models.query import QuerySpec
    from honeycomb_evaluator.models.request import EvaluateRequest

COUNT = "COUNT"


@dataclass(frozen=True)
class ComparisonPlan:
    query: QuerySpec  # what runs at Honeycomb
    calculation: str  # the result key compared
    test: TestName | None  # the statistical test the verdict will run, if any
    needs_series: bool  # the time buckets must be fetched (select.over: series or Mann-Whitney)


def has_buckets(request: EvaluateRequest) -> bool:
    """The caller asked for time buckets: `select.over: series` or an explicit granularity."""
    return request.over_series or request.query.granularity is not None


def chosen_test(judge: Judge | None, buckets: bool) -> TestName | None:
    if judge is None or judge.test == "none":
        return None
    if judge.test == "auto":
        return "mann_whitney" if buckets else None
    return judge.test


def _refuse_what_cannot_be_compared(request: EvaluateRequest, compare: Compare) -> None:
    query = request.query
    if query.breakdowns:
        raise InvalidRequest(
            "compare breaks the query down by compare.column itself; narrow the groups with filters "
            f"instead of breakdowns {query.breakdowns}",
            field="query.breakdowns",
        )
    if request.select is not None and request.select.match:
        raise InvalidRequest("select.match does not apply with compare (no breakdowns)", field="select.match")
    if query.limit is not None:
        raise InvalidRequest(
            "query.limit could drop a group's row; leave it unset with compare", field="query.limit"
        )
    if query.havings:
        raise InvalidRequest(
            "query.havings could drop a group's row and read as no data; not with compare",
            field="query.havings",
        )
    if query.compare_time_offset_seconds is not None:
        raise InvalidRequest(
            "compare and compare_time_offset_seconds cannot be combined",
            field="query.compare_time_offset_seconds",
        )
    if query.filter_combination == "OR" and query.filters:
        raise InvalidRequest(
            "filter_combination OR would not enforce the filter `column in [canary, baseline]` that "
            "compare adds; use AND (the default)",
            field="query.filter_combination",
        )
    for i, existing in enumerate(query.filters):
        if existing.column == compare.column:
            raise InvalidRequest(
                f"the query filters on compare.column {compare.column!r}; remove that filter, compare adds "
                "one for the canary and the baseline",
                field=f"query.filters.{i}",
            )


def plan_comparison(request: EvaluateRequest, calculation: str) -> ComparisonPlan:
    """The comparison query for a request with `compare` (`calculation` as selection chose it)."""
    # Imported here: the request models are built by now, and importing this module must not build them.
    from honeycomb_evaluator.models.query import Calculation, Filter

    compare = request.compare
    if compare is None:
        raise ValueError("plan_comparison needs a request with compare")
    _refuse_what_cannot_be_compared(request, compare)
    test = chosen_test(request.judge, has_buckets(request))
    if test == "proportions" and not calculation.startswith("AVG("):
        raise InvalidRequest(
            f"the proportions test compares shares of events: it needs an AVG of a 0/1 column "
            f"(e.g. a calculated field IF($error, 1, 0)), not {calculation}",
            field="judge.test",
        )
    query = request.query
    calculations = list(query.effective_calculations)
    if COUNT not in query.calculation_keys:
        calculations.append(Calculation(op="COUNT"))
    in_groups = Filter(column=compare.column, op="in", value=[compare.canary, compare.baseline])
    rewritten = query.model_copy(
        update={
            "calculations": calculations,
            "filters": [*query.filters, in_groups],
            "filter_combination": None if query.filter_combination == "OR" else query.filter_combination,
            "breakdowns": [compare.column],
        }
    )
    needs_series = has_buckets(request) or test == "mann_whitney"
    return ComparisonPlan(query=rewritten, calculation=calculation, test=test, needs_series=needs_series)
