"""The one Honeycomb query of a comparison, from the caller's query (checked before any call).

The caller's query plus a filter `column in [canary, baseline]`, a breakdown on `column`,
`COUNT` (each group's events), `SUM(<rate column>)` when the sampling names one, and a
granularity (1-minute buckets by default) when a test will run: the tests pair the versions
bucket by bucket. What would change the meaning of that query, or make one group's row
disappear, is refused with a 422 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.judgement.evidence import TestName
from honeycomb_evaluator.models.limits import MAX_QUERY_LIMIT

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Compare, JudgeRules
    from honeycomb_evaluator.models.query import QuerySpec
    from honeycomb_evaluator.models.request import EvaluateRequest

COUNT = "COUNT"
# Calculations that grow with a version's share of the traffic: canary against baseline says
# more about the traffic split than about the canary. `test: none` may still compare them.
GROUP_SIZE_OPS = frozenset({"COUNT", "SUM", "CONCURRENCY", "COUNT_DISTINCT", "MAX", "MIN", "RATE_SUM"})
# With slices the one breakdown is version x dimensions, so each row is a cell and a version's
# (or a slice's) number is added up from its cells: only these calculations add up (AVG weighted
# by COUNT). A percentile of a union of cells is not in any row.
ADDITIVE_OPS = frozenset({"COUNT", "SUM", "AVG"})
# Bucket sizes chosen when the caller sets no granularity: the first one giving at most 1000
# buckets (Honeycomb's bound), so 1 minute for any window up to 16 hours.
DEFAULT_GRANULARITIES = (60, 300, 900, 1800, 3600, 7200, 21600, 86400)


@dataclass(frozen=True)
class Judged:
    """One metric to judge: a calculation of the query, its band, its test."""

    label: str
    calculation: str
    rules: JudgeRules
    test: TestName | None  # None: `test: none`, the window's values against the band
    critical: bool = True
    field: str = "judge"  # where a refusal points


@dataclass(frozen=True)
class ComparisonPlan:
    query: QuerySpec  # what runs at Honeycomb
    calculation: str  # the answer's `calculation`: the selected one, or the first metric's
    judged: tuple[Judged, ...]  # nothing without judge/scorecard
    needs_series: bool  # the time buckets must be fetched

    @property
    def tested(self) -> bool:
        return any(j.test is not None for j in self.judged)


def op_of(calculation: str) -> str:
    return calculation.split("(", 1)[0]


def chosen_test(rules: JudgeRules, calculation: str, field: str) -> TestName | None:
    if rules.test == "none":
        return None
    if rules.test == "proportions":
        if op_of(calculation) != "AVG":
            raise InvalidRequest(
                f"the proportions test compares shares of events: it needs an AVG of a 0/1 column "
                f"(e.g. a calculated field IF($error, 1, 0)), not {calculation}",
                field=f"{field}.test",
            )
        return "proportions"
    if op_of(calculation) in GROUP_SIZE_OPS:
        raise InvalidRequest(
            f"{calculation} grows with a version's share of the traffic, so canary against baseline "
            "would judge the traffic split; judge a per-event calculation (AVG, a percentile), or set "
            'test: "none" to compare the numbers as they are',
            field=f"{field}.test",
        )
    return "paired"


def judged_metrics(request: EvaluateRequest, calculation: str | None) -> tuple[Judged, ...]:
    """The metrics a request judges; each calculation checked against the query's."""
    if request.judge is not None:
        assert calculation is not None
        test = chosen_test(request.judge, calculation, "judge")
        return (Judged(calculation, calculation, request.judge, test),)
    if request.scorecard is None:
        return ()
    keys = request.query.calculation_keys
    out = []
    for i, metric in enumerate(request.scorecard.metrics):
        field = f"scorecard.metrics.{i}"
        if metric.calculation not in keys:
            raise InvalidRequest(
                f"{metric.calculation!r} is not one of the query's calculations: {keys}",
                field=f"{field}.calculation",
            )
        test = chosen_test(metric, metric.calculation, field)
        out.append(Judged(metric.label, metric.calculation, metric, test, metric.critical, field))
    return tuple(out)


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


def _refuse_what_cannot_be_sliced(request: EvaluateRequest, judged: tuple[Judged, ...]) -> None:
    slices = request.slices
    if slices is None:
        return
    for i, calculation in enumerate(request.query.effective_calculations):
        if calculation.op not in ADDITIVE_OPS:
            raise InvalidRequest(
                f"with slices the query breaks down by version x {slices.columns()}, and a version's "
                f"{calculation.key} cannot be added up from its cells; judge an AVG (e.g. "
                "AVG(duration_ms) for latency, AVG of IF($error, 1, 0) for errors) or leave slices out",
                field=f"query.calculations.{i}",
            )
    if not any(j.test is not None and j.critical for j in judged):
        raise InvalidRequest(
            "slices are judged with the comparison's tests: at least one critical metric needs a test "
            '(not test: "none")',
            field="slices",
        )
    if request.compare is not None and request.compare.column in slices.columns():
        raise InvalidRequest(
            f"{request.compare.column!r} tells the versions apart; it cannot also be a slice dimension",
            field="slices.dimensions",
        )


def default_granularity(duration: int) -> int:
    for granularity in DEFAULT_GRANULARITIES:
        if granularity * 1000 >= duration:
            return min(granularity, duration)
    return DEFAULT_GRANULARITIES[-1]


def plan_comparison(request: EvaluateRequest, calculation: str | None) -> ComparisonPlan:
    """The comparison query for a request with `compare` (`calculation` as selection chose it;
    None for a scorecard, whose metrics name their own)."""
    # Imported here: the request models are built by now, and importing this module must not build them.
    from honeycomb_evaluator.models.query import Calculation, Filter, Order

    compare = request.compare
    if compare is None:
        raise ValueError("plan_comparison needs a request with compare")
    _refuse_what_cannot_be_compared(request, compare)
    judged = judged_metrics(request, calculation)
    _refuse_what_cannot_be_sliced(request, judged)
    query = request.query
    calculations = list(query.effective_calculations)
    if COUNT not in query.calculation_keys:
        calculations.append(Calculation(op="COUNT"))
    sampling = compare.sampling
    if sampling is not None and sampling.column is not None:
        rate_sum = Calculation(op="SUM", column=sampling.column)
        if rate_sum.key not in [c.key for c in calculations]:
            calculations.append(rate_sum)
    in_groups = Filter(column=compare.column, op="in", value=[compare.canary, compare.baseline])
    tested = any(j.test is not None for j in judged)
    granularity = query.granularity
    if tested and granularity is None:
        granularity = default_granularity(query.duration())
    update: dict[str, object] = {
        "calculations": calculations,
        "filters": [*query.filters, in_groups],
        "filter_combination": None if query.filter_combination == "OR" else query.filter_combination,
        "breakdowns": [compare.column],
        "granularity": granularity,
    }
    if request.slices is not None:
        # The largest cells first, as many as Honeycomb returns with series; what is left
        # beyond the limit is counted (other_by_aggregate) and reported, never dropped silently.
        update["breakdowns"] = [compare.column, *request.slices.columns()]
        update["orders"] = [Order(op="COUNT", order="descending")]
        update["limit"] = MAX_QUERY_LIMIT
    rewritten = query.model_copy(update=update)
    answer_calculation = calculation if calculation is not None else judged[0].calculation
    return ComparisonPlan(
        rewritten, answer_calculation, judged, request.over_series or granularity is not None
    )
