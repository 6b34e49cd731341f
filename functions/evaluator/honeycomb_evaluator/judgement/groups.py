"""Read the comparison query's one result back into the canary and baseline groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.errors import NoData
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.query import COUNT
from honeycomb_evaluator.selection import matching_rows, number_in_result, reduce_values

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest

GroupKey = str | int | bool


@dataclass(frozen=True)
class Group:
    key: GroupKey  # the group's value of compare.column
    value: float | None  # the compared number (the `empty` policy applied); None = no data
    count: int  # events in the group over the whole window
    overall: float | None  # the calculation over the whole window (the summary row)
    samples: tuple[float, ...]  # the calculation per time bucket, oldest first (Mann-Whitney)


def _numbers(rows: Iterable[Mapping[str, Any]], calculation: str) -> tuple[float, ...]:
    values = (number_in_result(row.get(calculation), calculation) for row in rows)
    return tuple(v for v in values if v is not None)


def _count(rows: list[Mapping[str, Any]]) -> int:
    counted = number_in_result(rows[0].get(COUNT), COUNT) if rows else None
    return int(counted) if counted is not None else 0


def read_group(request: EvaluateRequest, result: QueryResult, calculation: str, key: GroupKey) -> Group:
    compare = request.compare
    assert compare is not None
    match = {compare.column: key}
    rows = matching_rows(result.results, match)
    overall = number_in_result(rows[0].get(calculation), calculation) if rows else None
    buckets = matching_rows((point["data"] for point in result.series), match)
    samples = _numbers(buckets, calculation)
    if request.over_series:
        assert request.select is not None
        value = reduce_values(samples, request.select.reduce) if samples else None
    else:
        value = overall
    if value is None and request.empty == "zero":
        value = 0.0
    if value is None and request.empty == "error":
        role = "canary" if key == compare.canary else "baseline"
        raise NoData(
            f"the query returned no data for {calculation} in the {role} ({compare.column} = {key!r}; "
            "empty: error)",
        )
    return Group(key=key, value=value, count=_count(rows), overall=overall, samples=samples)


def read_groups(request: EvaluateRequest, result: QueryResult, calculation: str) -> tuple[Group, Group]:
    """(canary, baseline) from the result of the plan's query."""
    compare = request.compare
    if compare is None:
        raise ValueError("read_groups needs a request with compare")
    return (
        read_group(request, result, calculation, compare.canary),
        read_group(request, result, calculation, compare.baseline),
    )
