"""run_query: execute a spec against the store and shape Honeycomb's QueryResultDetails ``data``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .aggregate import HEATMAP_BUCKETS, aggregate_sql
from .errors import invalid
from .ops import DEFAULT_LIMIT, MAX_LIMIT_WITHOUT_SERIES, PERCENTILES, result_key
from .plan import CalcPlan, QueryPlan, build_plan
from .spec import normalize_query, uses_relational_fields
from .store import Store
from .window import resolve_granularity, resolve_window

_INTEGER_OPS = frozenset({"COUNT", "CONCURRENCY", "COUNT_DISTINCT"})
_KEEPS_INPUT_TYPE = frozenset({"MIN", "MAX", *PERCENTILES})
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
        terms.append(f"{calc.alias} {having['op']} {float(having['value'])!r}")
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
        return 0 if calc.op in ("COUNT", "CONCURRENCY") else None
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


def _series(plan: QueryPlan, rows: list[tuple[Any, ...]], keys: list[str]) -> list[dict[str, Any]]:
    b_index = keys.index("b")
    out = []
    for row in sorted(rows, key=lambda r: r[b_index]):
        data = _row_data(plan, row[:b_index] + row[b_index + 1 :], [k for k in keys if k != "b"])
        out.append({"time": _iso(plan.start + int(row[b_index]) * plan.granularity), "data": data})
    return out


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
    if uses_relational_fields(spec):
        raise invalid(
            "relational fields (root., parent., any. ...) are not supported by the emulator", "breakdowns"
        )
    row_limit = _effective_limit(spec, disable_series, limit)
    start, end = resolve_window(spec, now)
    granularity = resolve_granularity(spec, start, end)
    schema = {name: info.type for name, info in store.column_types_info(dataset).items()}
    plan = build_plan(spec, schema, store.tables_for(dataset), start, end, granularity)

    n = next(_temp_ids)
    src, grp, top = f"__q{n}_src", f"__q{n}_grp", f"__q{n}_top"
    with store.connection() as con:
        try:
            con.execute(f"CREATE TEMP TABLE {src} AS {plan.source_sql}")
            con.execute(
                f"CREATE TEMP TABLE {grp} AS {aggregate_sql(plan, f'SELECT * FROM {src}', plan.groups)}"
            )
            con.execute(
                f"CREATE TEMP TABLE {top} AS SELECT * FROM {grp} WHERE {_having_sql(spec, plan)} "
                f"ORDER BY {_order_sql(spec, plan)} LIMIT {row_limit}"
            )
            rows = con.execute(f"SELECT * FROM {top} ORDER BY {_order_sql(spec, plan)}").fetchall()
            out: dict[str, Any] = {"results": [{"data": _row_data(plan, r, plan.groups)} for r in rows]}

            on = " AND ".join(f"s.{g} IS NOT DISTINCT FROM t.{g}" for g in plan.groups) or "TRUE"
            in_top = f"SELECT s.* FROM {src} s SEMI JOIN {top} t ON {on}"
            series_keys = [*plan.groups, "b"]
            if disable_series:
                out["series"] = []
            else:
                series_rows = con.execute(aggregate_sql(plan, in_top, series_keys)).fetchall()
                out["series"] = _series(
                    plan, [r for r in series_rows if r[len(series_keys)] > 0], series_keys
                )

            if total_by_aggregate:
                total = con.execute(aggregate_sql(plan, f"SELECT * FROM {src}", [])).fetchall()[0]
                out["total_by_aggregate"] = {"data": _row_data(plan, total, [])}
                if not disable_series:
                    total_rows = con.execute(aggregate_sql(plan, f"SELECT * FROM {src}", ["b"])).fetchall()
                    out["total_by_aggregate_series"] = _series(
                        plan, [r for r in total_rows if r[1] > 0], ["b"]
                    )
            if other_by_aggregate:
                others = f"SELECT s.* FROM {src} s ANTI JOIN {top} t ON {on}"
                other = con.execute(aggregate_sql(plan, others, [])).fetchall()[0]
                out["other_by_aggregate"] = {"data": _row_data(plan, other, [])}
        finally:
            for table in (top, grp, src):
                con.execute(f"DROP TABLE IF EXISTS {table}")
    return out
