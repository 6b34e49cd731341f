"""From a normalized spec to the SQL of the filtered event rows a query aggregates.

The planned relation has one row per matching event in the window with: ``t`` (time), ``sr``
(sample rate), ``b`` (series bucket index), ``g0..`` (breakdown values), ``x0..`` (calculation
inputs, raw), ``r0..`` (per-second rates for RATE_* inputs) and ``d`` (duration_ms, for CONCURRENCY).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .calculated import MISSING_COLUMN, Compiled, Compiler, parse_expression
from .errors import invalid
from .filters import combine, filter_sql
from .ops import COLUMNLESS_OPS, RATE_OPS, result_key
from .relational import EXISTENTIALS, PARENT_ID, SPAN_ID, TRACE_ID, Relations, TraceColumns, split
from .store import SAMPLERATE_COLUMN, TIME_COLUMN

_SQL_TYPES = {"string": "VARCHAR", "float": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN"}
DURATION_COLUMN = "duration_ms"


@dataclass(frozen=True)
class CalcPlan:
    op: str
    column: str | None
    key: str  # the result key, e.g. "P99(duration_ms)"
    alias: str  # SQL alias of the aggregate, a0..
    input: str | None  # SQL alias of the raw input, x0..
    kind: str  # the input's type (string/float/integer/boolean/null)
    rate: str | None = None  # SQL alias of the per-second rate, r0.. (RATE_* only)


@dataclass
class QueryPlan:
    source_sql: str
    groups: list[str]  # g0..
    breakdowns: list[str]
    calcs: list[CalcPlan]
    start: int
    end: int
    granularity: int
    buckets: int


class _Columns:
    """Resolves column names to SQL, collecting the raw columns the query reads."""

    def __init__(self, schema: Mapping[str, str], calculated: Mapping[str, str]) -> None:
        self.schema = schema
        self.calculated = calculated
        self.raw: dict[str, str] = {}  # column name -> alias c0..
        self._compiling: list[str] = []
        self.compiler = Compiler(self.resolve, "t")
        self.relations = Relations(TraceColumns(None, None, None))
        self._inside_other_span = False  # compiling an any./none./child. condition

    def raw_alias(self, name: str) -> str | None:
        if name not in self.schema:
            return None
        return self.raw.setdefault(name, f"c{len(self.raw)}")

    def _trace_columns(self) -> TraceColumns:
        if self.relations.trace.trace_id is None:
            self.relations.trace = TraceColumns(
                self.raw_alias(TRACE_ID), self.raw_alias(SPAN_ID), self.raw_alias(PARENT_ID)
            )
        return self.relations.trace

    def resolve(self, name: str) -> Compiled:
        if name in self.calculated and name not in self._compiling:
            self._compiling.append(name)
            try:
                node = parse_expression(self.calculated[name], "calculated_fields")
                return self.compiler.compile(node)
            finally:
                self._compiling.pop()
        alias = self.raw_alias(name)
        if alias is not None:
            return alias, self.schema[name]
        relational = split(name)
        if relational is not None:
            return self._related(name, *relational)
        return MISSING_COLUMN

    def _related(self, name: str, relation: str, base: str) -> Compiled:
        if relation in EXISTENTIALS:
            raise invalid(f"{relation}. fields can only be used in filters: {name}", name)
        if self._inside_other_span:
            raise invalid(f"{relation}. fields cannot be nested in another relational filter: {name}", name)
        self._trace_columns()
        alias = self.raw_alias(base)
        exposed = self.relations.lookup(relation, alias) if alias is not None else None
        if exposed is None:
            return "NULL", "null"
        return exposed, self.schema[base]

    def filter(self, item: Mapping[str, Any]) -> str:
        """One filter as SQL; ``any.``/``none.``/``child.`` columns test other spans of the trace."""
        column = item["column"]
        relational = split(column) if column not in self.schema else None
        if relational is None or relational[0] not in EXISTENTIALS:
            return filter_sql(self.resolve(column), item["op"], item.get("value"))
        relation, base = relational
        self._trace_columns()
        self._inside_other_span = True
        try:
            positive = filter_sql(self.resolve(base), item["op"], item.get("value"))
        finally:
            self._inside_other_span = False
        return self.relations.existential(relation, positive)


def _union_sql(tables: list[tuple[str, dict[str, str]]], columns: _Columns, start: int, end: int) -> str:
    parts = []
    for table, physical in tables:
        select = [f"{TIME_COLUMN} AS t", f"{SAMPLERATE_COLUMN} AS sr"]
        for name, alias in columns.raw.items():
            sql_type = _SQL_TYPES[columns.schema[name]]
            source = physical.get(name, "NULL")
            select.append(f"CAST({source} AS {sql_type}) AS {alias}")
        in_window = f"{TIME_COLUMN} >= {start} AND {TIME_COLUMN} < {end}"
        parts.append(f"SELECT {', '.join(select)} FROM {table} WHERE {in_window}")
    if not parts:
        typed = ", ".join(
            f"CAST(NULL AS {_SQL_TYPES[columns.schema[n]]}) AS {a}" for n, a in columns.raw.items()
        )
        return (
            "SELECT CAST(NULL AS DOUBLE) AS t, CAST(NULL AS BIGINT) AS sr"
            + (", " + typed if typed else "")
            + " WHERE FALSE"
        )
    return " UNION ALL ".join(parts)


def build_plan(
    spec: Mapping[str, Any],
    schema: Mapping[str, str],
    tables: list[tuple[str, dict[str, str]]],
    start: int,
    end: int,
    granularity: int,
) -> QueryPlan:
    calculated = {f["name"]: f["expression"] for f in spec.get("calculated_fields") or []}
    columns = _Columns(schema, calculated)
    breakdowns = list(spec.get("breakdowns") or [])

    group_exprs = [columns.resolve(name) for name in breakdowns]

    calc_specs = spec.get("calculations") or [{"op": "COUNT"}]
    inputs: dict[str, tuple[str, Compiled]] = {}  # column name -> (alias, compiled)
    calcs: list[CalcPlan] = []
    seen_keys: set[str] = set()
    rates: dict[str, str] = {}
    for item in calc_specs:
        op = item["op"]
        column = None if op in COLUMNLESS_OPS else item.get("column")
        key = result_key(op, column)
        if key in seen_keys:
            continue
        seen_keys.add(key)
        alias = f"a{len(calcs)}"
        if column is None:
            calcs.append(CalcPlan(op, None, key, alias, None, "null"))
            continue
        if column not in inputs:
            inputs[column] = (f"x{len(inputs)}", columns.resolve(column))
        x_alias, compiled = inputs[column]
        rate = None
        if op in RATE_OPS:
            rate = rates.setdefault(column, f"r{len(rates)}")
        calcs.append(CalcPlan(op, column, key, alias, x_alias, compiled[1], rate))

    predicates = [columns.filter(f) for f in spec.get("filters") or []]
    where = combine(predicates, spec.get("filter_combination") or "AND")

    needs_duration = any(c.op == "CONCURRENCY" for c in calcs)
    duration = columns.resolve(DURATION_COLUMN) if needs_duration else None

    select = ["t", "sr", f"CAST(floor((t - {start}) / {granularity}) AS BIGINT) AS b"]
    select += [f"{sql} AS g{i}" for i, (sql, _) in enumerate(group_exprs)]
    select += [f"{sql} AS {alias}" for alias, (sql, _) in inputs.values()]
    if duration is not None:
        select.append(f"TRY_CAST({duration[0]} AS DOUBLE) AS d")
    ctes = ", ".join([f"events AS ({_union_sql(tables, columns, start, end)})", *columns.relations.ctes()])
    filtered = f"WITH {ctes} SELECT {', '.join(select)} FROM events{columns.relations.joins()} WHERE {where}"

    source = filtered
    if rates:
        # Per-second rate of change of a cumulative counter, per breakdown group, in time order.
        # A decrease (counter reset) or two events at the same instant give no rate.
        partition = (
            f"PARTITION BY {', '.join(f'g{i}' for i in range(len(group_exprs)))} " if group_exprs else ""
        )
        window = f"OVER ({partition}ORDER BY t)"
        rate_cols = []
        for column, r_alias in rates.items():
            x_alias, compiled = inputs[column]
            value = f"TRY_CAST({x_alias} AS DOUBLE)"
            rate_cols.append(
                f"CASE WHEN t > lag(t) {window} AND {value} >= lag({value}) {window} "
                f"THEN ({value} - lag({value}) {window}) / (t - lag(t) {window}) END AS {r_alias}"
            )
        source = f"SELECT *, {', '.join(rate_cols)} FROM ({filtered}) AS filtered"

    buckets = max(1, -(-(end - start) // granularity))
    return QueryPlan(
        source_sql=source,
        groups=[f"g{i}" for i in range(len(group_exprs))],
        breakdowns=breakdowns,
        calcs=calcs,
        start=start,
        end=end,
        granularity=granularity,
        buckets=buckets,
    )
