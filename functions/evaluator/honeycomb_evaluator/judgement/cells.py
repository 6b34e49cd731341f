"""The comparison result with slices: each row is a *cell*, one version at one value of every
dimension, and every number of a version, a slice or an error type is added up from its cells.

With slices the one query breaks down by version x dimensions (query.py), so no row holds a
version's own numbers any more. COUNT and SUM add up; an AVG is the COUNT-weighted mean of its
cells' (exact when the column is set on every event, as a calculated IF(...) always is; query.py
refuses what does not add up, such as a percentile). `Tally` sums cells under any key: () for
the whole version, ((dimension, value), ...) for a slice, an error type's value.

Honeycomb returns the largest `limit` groups (the query orders them by COUNT) and, asked for it,
sums up the rest (`other_by_aggregate`). When the result is cut there, a cell may be missing for
one version only; such cells are left out of every sum (versions are compared on the same cells)
and `Coverage` says how many events were not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.buckets import Bucket, Side
from honeycomb_evaluator.judgement.groups import GroupKey, seconds_of
from honeycomb_evaluator.judgement.query import COUNT, op_of
from honeycomb_evaluator.selection import matching_rows

Role = str  # "canary" or "baseline"
ROLES: tuple[Role, Role] = ("canary", "baseline")


@dataclass(frozen=True)
class Cell:
    role: Role
    values: tuple[Any, ...]  # one per slice column (None: the event had no value)
    data: Mapping[str, Any]  # the row's (or series point's) numbers


@dataclass(frozen=True)
class Coverage:
    """How much of the result the slices could use (reported, never dropped silently)."""

    groups: int  # rows Honeycomb returned (version x cell)
    limit: int  # the query's group limit
    truncated: bool  # Honeycomb had more groups than the limit
    events_beyond_limit: float | None  # events in the groups beyond it (other_by_aggregate's COUNT)
    one_sided_cells: int  # cells left out because the cut kept them for one version only


@dataclass(frozen=True)
class Cells:
    rows: tuple[Cell, ...]
    points: tuple[tuple[int, Cell], ...]  # (bucket start, cell) of the series
    coverage: Coverage


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class Sum:
    """Cells added up: COUNT, each SUM, and each AVG as (sum of value x COUNT, COUNT behind it)."""

    count: float = 0.0
    sums: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def add(self, data: Mapping[str, Any], keys: Sequence[str]) -> None:
        count = _number(data.get(COUNT)) or 0.0
        self.count += count
        for key in keys:
            value = _number(data.get(key))
            if key == COUNT or value is None:
                continue
            if op_of(key) == "AVG":
                self.sums[key] = self.sums.get(key, 0.0) + value * count
                self.weights[key] = self.weights.get(key, 0.0) + count
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value

    def values(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {COUNT: self.count}
        for key, total in self.sums.items():
            weight = self.weights.get(key)
            if weight is None:
                out[key] = total
            else:
                out[key] = total / weight if weight > 0 else None
        return out

    def side(self) -> Side:
        return Side(self.count, self.values())


Key = Hashable


@dataclass
class Tally:
    """Cells summed per key and version: over the window, and per time bucket."""

    window: dict[Key, dict[Role, Sum]] = field(default_factory=dict)
    buckets: dict[Key, dict[int, dict[Role, Sum]]] = field(default_factory=dict)

    def sides(self, key: Key) -> dict[Role, Sum]:
        return self.window.get(key, {})

    def bucket_list(self, key: Key, granularity: int, end: int) -> list[Bucket]:
        """The key's buckets where both versions have events, oldest first."""
        out = []
        for start, sums in sorted(self.buckets.get(key, {}).items()):
            canary, baseline = sums.get("canary"), sums.get("baseline")
            if canary is not None and baseline is not None and canary.count > 0 and baseline.count > 0:
                out.append(Bucket(start, min(start + granularity, end), canary.side(), baseline.side()))
        return out


def tally(cells: Cells, keys: Sequence[str], key_of: Callable[[Cell], Iterable[Key]]) -> Tally:
    out = Tally()
    for cell in cells.rows:
        for key in key_of(cell):
            out.window.setdefault(key, {}).setdefault(cell.role, Sum()).add(cell.data, keys)
    for start, cell in cells.points:
        for key in key_of(cell):
            per_time = out.buckets.setdefault(key, {}).setdefault(start, {})
            per_time.setdefault(cell.role, Sum()).add(cell.data, keys)
    return out


def _role(data: Mapping[str, Any], column: str, groups: tuple[GroupKey, GroupKey]) -> Role | None:
    for role, value in zip(ROLES, groups, strict=True):
        if matching_rows([data], {column: value}):
            return role
    return None


def read_cells(
    result: QueryResult,
    column: str,
    groups: tuple[GroupKey, GroupKey],
    slice_columns: Sequence[str],
    limit: int,
) -> Cells:
    """The result's rows and series as cells of (canary, baseline) `groups` of `column`."""

    def cell(data: Mapping[str, Any]) -> Cell | None:
        role = _role(data, column, groups)
        if role is None:
            return None
        return Cell(role, tuple(data.get(c) for c in slice_columns), data)

    rows = [c for c in (cell(row) for row in result.results) if c is not None]
    other = result.other or {}
    beyond = _number(other.get(COUNT))
    truncated = len(result.results) >= limit or bool(beyond)
    one_sided = 0
    keep: set[tuple[Any, ...]] | None = None
    if truncated:
        # The cut may keep a cell for one version only: compare the versions on shared cells.
        seen: dict[tuple[Any, ...], set[Role]] = {}
        for c in rows:
            seen.setdefault(c.values, set()).add(c.role)
        shared = {values for values, roles in seen.items() if len(roles) == 2}
        one_sided = len(seen) - len(shared)
        rows = [c for c in rows if c.values in shared]
        keep = shared
    points = []
    for point in result.series:
        start = seconds_of(point.get("time"))
        found = cell(point["data"]) if start is not None else None
        if found is not None and start is not None and (keep is None or found.values in keep):
            points.append((start, found))
    coverage = Coverage(len(result.results), limit, truncated, beyond, one_sided)
    return Cells(tuple(rows), tuple(points), coverage)


def whole_result(
    result: QueryResult, cells: Cells, column: str, groups: tuple[GroupKey, GroupKey], keys: Sequence[str]
) -> QueryResult:
    """The result as the comparison without slices would have it: one row per version, one
    series point per version and bucket (so the whole comparison is judged unchanged)."""
    summed = tally(cells, keys, lambda cell: [()])
    by_role = dict(zip(ROLES, groups, strict=True))
    rows = [{column: by_role[role], **_present(s.values())} for role, s in summed.sides(()).items()]
    series = [
        {"time": start, "data": {column: by_role[role], **_present(s.values())}}
        for start, sums in sorted(summed.buckets.get((), {}).items())
        for role, s in sums.items()
    ]
    return QueryResult(result.id, result.complete, rows, series, result.query_url, result.other)


def _present(values: Mapping[str, float | None]) -> dict[str, float]:
    """Honeycomb leaves a calculation out where nothing was aggregated."""
    return {k: v for k, v in values.items() if v is not None}
