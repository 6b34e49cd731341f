"""Read the comparison query's one result back: each version's window value, and the buckets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.errors import NoData
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.buckets import Bucket, Side
from honeycomb_evaluator.judgement.query import COUNT
from honeycomb_evaluator.selection import matching_rows, number_in_result, reduce_values

if TYPE_CHECKING:
    from honeycomb_evaluator.models.judgement import Compare
    from honeycomb_evaluator.models.request import EvaluateRequest

GroupKey = str | int | bool


@dataclass(frozen=True)
class Group:
    key: GroupKey  # the group's value of compare.column
    value: float | None  # the window's number (the `empty` policy applied); None = no data
    count: int  # Honeycomb's (weighted) COUNT over the window
    side: Side | None = None  # the window's summary row (COUNT and the numbers), for sampling


def read_group(request: EvaluateRequest, result: QueryResult, calculation: str, key: GroupKey) -> Group:
    compare = request.compare
    assert compare is not None
    match = {compare.column: key}
    rows = matching_rows(result.results, match)
    overall = number_in_result(rows[0].get(calculation), calculation) if rows else None
    counted = number_in_result(rows[0].get(COUNT), COUNT) if rows else None
    if request.over_series:
        assert request.select is not None
        points = matching_rows((point["data"] for point in result.series), match)
        numbers = (number_in_result(p.get(calculation), calculation) for p in points)
        samples = [v for v in numbers if v is not None]
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
    side = None
    if rows and counted is not None:
        side = Side(
            counted,
            {k: v for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)},
        )
    return Group(key=key, value=value, count=int(counted) if counted is not None else 0, side=side)


def read_groups(request: EvaluateRequest, result: QueryResult, calculation: str) -> tuple[Group, Group]:
    """(canary, baseline) from the result of the plan's query."""
    compare = request.compare
    if compare is None:
        raise ValueError("read_groups needs a request with compare")
    return (
        read_group(request, result, calculation, compare.canary),
        read_group(request, result, calculation, compare.baseline),
    )


def seconds_of(time: Any) -> int | None:
    """A series point's time (RFC 3339 as Honeycomb sends it, or unix seconds) as unix seconds."""
    if isinstance(time, int | float) and not isinstance(time, bool):
        return int(time)
    if isinstance(time, str):
        try:
            return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def _side(data: Mapping[str, Any], keys: Sequence[str]) -> Side | None:
    count = number_in_result(data.get(COUNT), COUNT)
    if count is None or count <= 0:
        return None
    return Side(count, {k: number_in_result(data.get(k), k) for k in keys})


def read_buckets(
    result: QueryResult, compare: Compare, keys: Sequence[str], granularity: int, end: int
) -> list[Bucket]:
    """The buckets where both versions have events, oldest first (`keys`: the calculations kept)."""
    points: dict[int, dict[str, Side]] = {}
    for point in result.series:
        start = seconds_of(point.get("time"))
        data = point["data"]
        if start is None:
            continue
        for role, value in (("canary", compare.canary), ("baseline", compare.baseline)):
            if matching_rows([data], {compare.column: value}):
                side = _side(data, keys)
                if side is not None:
                    points.setdefault(start, {})[role] = side
    return [
        Bucket(start, min(start + granularity, end), sides["canary"], sides["baseline"])
        for start, sides in sorted(points.items())
        if "canary" in sides and "baseline" in sides
    ]
