"""Honeycomb's query specification (the `Query` schema of the official API), validated locally.

Everything Honeycomb documents is checked here, before any call, so a bad query costs no
query run and the error names the field. Cross-field rules follow
Honeycomb's Query Specification documentation (column rules per op, orders and havings must refer
to a calculation or breakdown, at most two of time_range/start_time/end_time, 7-day window).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from honeycomb_evaluator.models.limits import DEFAULT_TIME_RANGE, MAX_QUERY_LIMIT, MAX_WINDOW_SECONDS

# What a `having` may compare: every calculation but HEATMAP (a histogram, not a number).
HavingCalculateOp = Literal[
    "COUNT",
    "CONCURRENCY",
    "SUM",
    "AVG",
    "COUNT_DISTINCT",
    "MAX",
    "MIN",
    "P001",
    "P01",
    "P05",
    "P10",
    "P20",
    "P25",
    "P50",
    "P75",
    "P80",
    "P90",
    "P95",
    "P99",
    "P999",
    "RATE_AVG",
    "RATE_SUM",
    "RATE_MAX",
]
QueryOp = Literal[HavingCalculateOp, "HEATMAP"]
FilterOp = Literal[
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "starts-with",
    "does-not-start-with",
    "ends-with",
    "does-not-end-with",
    "exists",
    "does-not-exist",
    "contains",
    "does-not-contain",
    "in",
    "not-in",
]
HavingOp = Literal["=", "!=", ">", ">=", "<", "<="]
CompareOffset = Literal[1800, 3600, 7200, 28800, 86400, 604800, 2419200, 15724800]

OPS_WITHOUT_COLUMN = frozenset({"COUNT", "CONCURRENCY"})
VALUELESS_FILTER_OPS = frozenset({"exists", "does-not-exist"})
LIST_FILTER_OPS = frozenset({"in", "not-in"})
STRING_FILTER_OPS = frozenset(
    {
        "starts-with",
        "does-not-start-with",
        "ends-with",
        "does-not-end-with",
        "contains",
        "does-not-contain",
    }
)

ColumnName = Annotated[StrictStr, Field(min_length=1, max_length=255)]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
# Validators are built on first use, not at import (docs/performance.md "Evaluator"); the Lambda
# handler builds them before a SnapStart snapshot (handler.prime).
STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def calculation_key(op: str, column: str | None) -> str:
    """The key Honeycomb uses for a calculation in result rows: `P99(duration_ms)`, `COUNT`."""
    return op if column is None else f"{op}({column})"


class Calculation(BaseModel):
    model_config = STRICT

    op: QueryOp
    column: ColumnName | None = None

    @model_validator(mode="after")
    def _column_rule(self) -> Calculation:
        if self.op in OPS_WITHOUT_COLUMN and self.column is not None:
            raise ValueError(f"{self.op} takes no column")
        if self.op not in OPS_WITHOUT_COLUMN and self.column is None:
            raise ValueError(f"{self.op} requires a column")
        return self

    @property
    def key(self) -> str:
        return calculation_key(self.op, self.column)


class Filter(BaseModel):
    model_config = STRICT

    column: ColumnName
    op: FilterOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_rule(self) -> Filter:
        if self.op in VALUELESS_FILTER_OPS:
            if self.value is not None:
                raise ValueError(f"filter op {self.op!r} takes no value")
        elif self.op in LIST_FILTER_OPS:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"filter op {self.op!r} needs a non-empty array value")
        elif self.op in STRING_FILTER_OPS:
            if not isinstance(self.value, str):
                raise ValueError(f"filter op {self.op!r} needs a string value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"filter op {self.op!r} needs a string, number or boolean value")
        return self


class Order(BaseModel):
    model_config = STRICT

    column: ColumnName | None = None
    op: QueryOp | None = None
    order: Literal["ascending", "descending"] = "ascending"

    @model_validator(mode="after")
    def _term_rule(self) -> Order:
        if self.op is None and self.column is None:
            raise ValueError("an order needs an op (a calculation) or a column (a breakdown)")
        if self.op == "HEATMAP":
            raise ValueError("results cannot be ordered by HEATMAP")
        return self


class Having(BaseModel):
    model_config = STRICT

    calculate_op: HavingCalculateOp
    column: ColumnName | None = None
    op: HavingOp
    value: StrictInt | StrictFloat


class CalculatedField(BaseModel):
    model_config = STRICT

    name: ColumnName
    expression: Annotated[StrictStr, Field(min_length=1, max_length=10_000)]


class QuerySpec(BaseModel):
    """A Honeycomb query. Times are unix seconds; relative windows are resolved by window.py."""

    model_config = STRICT

    calculations: Annotated[list[Calculation], Field(max_length=100)] = Field(default_factory=list)
    filters: Annotated[list[Filter], Field(max_length=100)] = Field(default_factory=list)
    filter_combination: Literal["AND", "OR"] | None = None
    breakdowns: Annotated[list[ColumnName], Field(max_length=100)] = Field(default_factory=list)
    orders: Annotated[list[Order], Field(max_length=100)] = Field(default_factory=list)
    havings: Annotated[list[Having], Field(max_length=100)] = Field(default_factory=list)
    limit: Annotated[StrictInt, Field(ge=1, le=MAX_QUERY_LIMIT)] | None = None
    time_range: Annotated[StrictInt, Field(ge=1, le=MAX_WINDOW_SECONDS)] | None = None
    start_time: Annotated[StrictInt, Field(ge=1)] | None = None
    end_time: Annotated[StrictInt, Field(ge=1)] | None = None
    granularity: Annotated[StrictInt, Field(ge=1)] | None = None
    calculated_fields: Annotated[list[CalculatedField], Field(max_length=100)] = Field(default_factory=list)
    compare_time_offset_seconds: CompareOffset | None = None

    @property
    def effective_calculations(self) -> list[Calculation]:
        """No calculations means COUNT, as in Honeycomb."""
        return self.calculations or [Calculation(op="COUNT")]

    @property
    def calculation_keys(self) -> list[str]:
        return [c.key for c in self.effective_calculations]

    def duration(self) -> int:
        """The window length in seconds (before truncation)."""
        if self.start_time is not None and self.end_time is not None:
            return self.end_time - self.start_time
        return self.time_range if self.time_range is not None else DEFAULT_TIME_RANGE

    @model_validator(mode="after")
    def _cross_field_rules(self) -> QuerySpec:
        for rule in (self._time_rules, self._order_rules, self._having_rules, self._name_rules):
            rule()
        return self

    def _time_rules(self) -> None:
        given = [n for n in ("time_range", "start_time", "end_time") if getattr(self, n) is not None]
        if len(given) == 3:
            raise ValueError("set at most two of time_range, start_time and end_time")
        if self.start_time is not None and self.end_time is not None:
            if self.start_time >= self.end_time:
                raise ValueError("start_time must be before end_time")
            if self.end_time - self.start_time > MAX_WINDOW_SECONDS:
                raise ValueError("the query window may be at most 7 days (604800 seconds)")
        duration = self.duration()
        if self.granularity is not None and not (duration / 1000 <= self.granularity <= duration):
            raise ValueError(
                f"granularity must be between window/1000 and the window ({duration} seconds); "
                "leave it unset for automatic"
            )
        if self.compare_time_offset_seconds is not None and self.compare_time_offset_seconds < duration:
            raise ValueError("compare_time_offset_seconds must be at least the query's duration")

    def _order_rules(self) -> None:
        calcs = {(c.op, c.column) for c in self.effective_calculations}
        for i, order in enumerate(self.orders):
            if order.op is not None and (order.op, order.column) not in calcs:
                raise ValueError(
                    f"orders[{i}] ({calculation_key(order.op, order.column)}) is not one of the calculations"
                )
            if order.op is None and order.column not in self.breakdowns:
                raise ValueError(f"orders[{i}] column {order.column!r} is not one of the breakdowns")

    def _having_rules(self) -> None:
        calcs = {(c.op, c.column) for c in self.effective_calculations}
        for i, having in enumerate(self.havings):
            if (having.calculate_op, having.column) not in calcs:
                key = calculation_key(having.calculate_op, having.column)
                raise ValueError(f"havings[{i}] ({key}) is not one of the calculations")

    def _name_rules(self) -> None:
        names = [f.name for f in self.calculated_fields]
        if len(set(names)) != len(names):
            raise ValueError("calculated_fields names must be unique")

    def honeycomb_body(self, start_time: int, end_time: int) -> dict[str, Any]:
        """The JSON sent to Honeycomb: this spec with an absolute window and nothing unset."""
        body = self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        for name in ("time_range", "start_time", "end_time"):
            body.pop(name, None)
        for name in ("calculations", "filters", "breakdowns", "orders", "havings", "calculated_fields"):
            if not body.get(name):
                body.pop(name, None)
        body["start_time"] = start_time
        body["end_time"] = end_time
        return body
