"""run_query: execute a spec against the store and shape Honeycomb's QueryResultDetails ``data``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb

from .aggregate import HEATMAP_BUCKETS, PercentileMode, aggregate_sql, percentile_mode
from .calculated import sql_literal
from .errors import invalid
from .ops import DEFAULT_LIMIT, MAX_LIMIT_WITHOUT_SERIES, PERCENTILES, result_key
from .plan import CalcPlan, QueryPlan, build_plan
from .spec import normalize_query
from .store import Store, first_row
from .window import resolve_granularity, resolve_window

_INTEGER_OPS = frozenset({"COUNT", "CONCURRENCY", "COUNT_DISTINCT"})
_ZERO_WHEN_EMPTY = frozenset({"COUNT", "CONCURRENCY", "COUNT_DISTINCT", "SUM", "RATE_SUM"})
_KEEPS_INPUT_TYPE = frozenset({"SUM", "MIN", "MAX", *PERCENTILES})  # integers stay integers
_temp_ids = itertools.count(1)


def _effective_limit(spec: Mapping[str, Any], disable_series: bool, limit: int | None) -> int:
    # The query result's `limit` only counts with disable_series (then up to 10000); otherwise the spec's.
    if disable_series and limit is not None:
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 1 <= limit <= MAX_LIMIT_WITHOUT_SERIES
        ):
            raise invalid(f"limit must be between 1 and {MAX_LIMIT_WITHOUT_SERIES}", "limit")
        return limit
    return int(spec.get("limit") or DEFAULT_LIMIT)


def _order_sql(spec: Mapping[str, Any], plan: QueryPlan) -> str:
    by_key = {c.key: c for c in plan.calcs}
    terms: list[str] = []
    for order in spec.get("orders") or []:
        direction = "DESC" if order.get("order") == "descending" else "ASC"
        if order.get("op"):
            calc = by_key[result_key(order["op"], order.get("column"))]
            terms.append(f"{calc.alias} {direction} NULLS LAST")
        else:
            terms.append(f"g{plan.breakdowns.index(order['column'])} {direction} NULLS LAST")
    if not terms:
        # Honeycomb's default: the first calculation, largest first.
        first = next((c for c in plan.calcs if c.op != "HEATMAP"), None)
        if first is not None:
            terms.append(f"{first.alias} DESC NULLS LAST")
    terms += [f"{g} ASC NULLS LAST" for g in plan.groups]  # stable tie-break
    return ", ".join(terms) if terms else "__n DESC"


def _having_sql(spec: Mapping[str, Any], plan: QueryPlan) -> str:
    by_key = {c.key: c for c in plan.calcs}
    terms = ["__n > 0"]
    for having in spec.get("havings") or []:
        calc = by_key[result_key(having["calculate_op"], having.get("column"))]
        terms.append(f"{calc.alias} {having['op']} {sql_literal(having['value'])[0]}")
    return " AND ".join(terms)


def _heatmap(value: Any) -> dict[str, Any] | None:
    if value is None or value["min_value"] is None:
        return None
    low, high = float(value["min_value"]), float(value["max_value"])
    counts = [0] * HEATMAP_BUCKETS
    for bucket in value["buckets"]:
        counts[int(bucket["i"])] += int(bucket["c"])
    return {
        "counts": counts,
        "min_value": low,
        "max_value": high,
        "step_size": (high - low) / HEATMAP_BUCKETS,
    }


def _value(calc: CalcPlan, value: Any) -> Any:
    if calc.op == "HEATMAP":
        return _heatmap(value)
    if value is None:
        # Counting or summing nothing is 0; the other ops have no value without inputs.
        return 0 if calc.op in _ZERO_WHEN_EMPTY else None
    if calc.op in _INTEGER_OPS:
        return int(value)
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    if calc.op in _KEEPS_INPUT_TYPE and calc.kind == "integer" and number.is_integer():
        return int(number)
    return number


def _plain(value: Any) -> Any:
    """A breakdown value as JSON: DuckDB integers/floats/bools/strings pass; anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _row_data(plan: QueryPlan, row: tuple[Any, ...], keys: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if keys:
        for name, value in zip(plan.breakdowns, row[: len(keys)], strict=True):
            data[name] = _plain(value)
    offset = len(keys) + 1  # keys..., __n
    for calc, value in zip(plan.calcs, row[offset:], strict=True):
        data[calc.key] = _value(calc, value)
    return data


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _series(
    plan: QueryPlan, rows: list[tuple[Any, ...]], keys: list[str], rank: Mapping[tuple[Any, ...], int]
) -> list[dict[str, Any]]:
    """Series points in time order, groups within a bucket in the order of the results."""
    b_index = keys.index("b")
    points = [r for r in rows if r[len(keys)] > 0]  # skip buckets where no event matched
    points.sort(key=lambda r: (r[b_index], rank.get(tuple(r[:b_index]), 0)))
    out = []
    for row in points:
        data = _row_data(plan, row[:b_index] + row[b_index + 1 :], keys[:b_index])
        out.append({"time": _iso(plan.start + int(row[b_index]) * plan.granularity), "data": data})
    return out


class _Execution:
    """One query run: the filtered rows live in a temp table that every aggregate reads."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: QueryPlan) -> None:
        self.con = con
        self.plan = plan
        n = next(_temp_ids)
        self.src, self.top = f"__q{n}_src", f"__q{n}_top"
        self.mode: PercentileMode = "window"

    def __enter__(self) -> _Execution:
        self.con.execute(f"CREATE TEMP TABLE {self.src} AS {self.plan.source_sql}")
        stats = first_row(self.con, f"SELECT max(sr), sum(sr) FROM {self.src}")
        self.mode = percentile_mode(int((stats or (0, 0))[0] or 0), int((stats or (0, 0))[1] or 0))
        return self

    def __exit__(self, *exc: object) -> None:
        for table in (self.top, self.src):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")

    def aggregate(self, source: str, keys: list[str]) -> list[tuple[Any, ...]]:
        return self.con.execute(aggregate_sql(self.plan, source, keys, self.mode)).fetchall()

    def top_groups(self, spec: Mapping[str, Any], row_limit: int) -> list[tuple[Any, ...]]:
        """Aggregates of the groups the results show (havings, order, limit), kept for the series."""
        order = _order_sql(spec, self.plan)
        every_group = aggregate_sql(self.plan, f"SELECT * FROM {self.src}", self.plan.groups, self.mode)
        self.con.execute(
            f"CREATE TEMP TABLE {self.top} AS SELECT * FROM ({every_group}) AS groups "
            f"WHERE {_having_sql(spec, self.plan)} ORDER BY {order} LIMIT {row_limit}"
        )
        return self.con.execute(f"SELECT * FROM {self.top} ORDER BY {order}").fetchall()

    def rows(self, in_top: bool) -> str:
        """SQL of the filtered rows of the shown groups (or of all the other groups)."""
        on = " AND ".join(f"s.{g} IS NOT DISTINCT FROM t.{g}" for g in self.plan.groups) or "TRUE"
        join = "SEMI" if in_top else "ANTI"
        return f"SELECT s.* FROM {self.src} s {join} JOIN {self.top} t ON {on}"


def run_query(
    store: Store,
    dataset: str,
    spec: Mapping[str, Any],
    now: float,
    *,
    disable_series: bool = False,
    limit: int | None = None,
    total_by_aggregate: bool = False,
    other_by_aggregate: bool = False,
) -> dict[str, Any]:
    """Run a spec over ``dataset`` (or ``__all__``) and return Honeycomb's result ``data`` object."""
    spec = normalize_query(spec)
    row_limit = _effective_limit(spec, disable_series, limit)
    start, end = resolve_window(spec, now)
    granularity = resolve_granularity(spec, start, end)

    # Plan under the store's lock too: a concurrent ingest could otherwise widen a column between
    # reading the schema and running SQL that casts to the old type.
    with store.connection() as con:
        schema = {name: info.type for name, info in store.column_types_info(dataset).items()}
        plan = build_plan(spec, schema, store.tables_for(dataset), start, end, granularity)
        return _execute(con, plan, spec, row_limit, disable_series, total_by_aggregate, other_by_aggregate)


def _execute(
    con: duckdb.DuckDBPyConnection,
    plan: QueryPlan,
    spec: Mapping[str, Any],
    row_limit: int,
    disable_series: bool,
    total_by_aggregate: bool,
    other_by_aggregate: bool,
) -> dict[str, Any]:
    groups = plan.groups
    with _Execution(con, plan) as run:
        rows = run.top_groups(spec, row_limit)
        out: dict[str, Any] = {"results": [{"data": _row_data(plan, r, groups)} for r in rows]}
        rank = {tuple(r[: len(groups)]): i for i, r in enumerate(rows)}
        out["series"] = (
            []
            if disable_series
            else _series(plan, run.aggregate(run.rows(True), [*groups, "b"]), [*groups, "b"], rank)
        )
        if total_by_aggregate:
            everything = f"SELECT * FROM {run.src}"
            out["total_by_aggregate"] = {"data": _row_data(plan, run.aggregate(everything, [])[0], [])}
            if not disable_series:
                out["total_by_aggregate_series"] = _series(plan, run.aggregate(everything, ["b"]), ["b"], {})
        if other_by_aggregate:
            out["other_by_aggregate"] = {"data": _row_data(plan, run.aggregate(run.rows(False), [])[0], [])}
    return out
