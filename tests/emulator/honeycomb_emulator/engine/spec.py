"""Validation and normalisation of a Query spec (the ``Query`` schema of Honeycomb's API).

Wrong JSON types are 400 (Honeycomb cannot decode them); rule violations are 422 with the field.
The returned spec is what Honeycomb echoes: the input minus nulls and the default
``filter_combination: "AND"``; no defaults are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .calculated import parse_expression, referenced_columns
from .errors import QueryError, invalid, unparseable
from .ops import (
    CALCULATION_OPS,
    COLUMNLESS_OPS,
    COMPARE_TIME_OFFSETS,
    FILTER_OPS,
    HAVING_CALCULATE_OPS,
    HAVING_OPS,
    LIST_FILTER_OPS,
    MAX_LIMIT,
    MAX_LIST_ITEMS,
    NO_VALUE_FILTER_OPS,
    RELATIONAL_PREFIXES,
    STRING_FILTER_OPS,
)
from .window import check_granularity, check_time_fields, duration_of

KNOWN_FIELDS = frozenset(
    {
        "id",
        "calculations",
        "filters",
        "filter_combination",
        "breakdowns",
        "orders",
        "havings",
        "limit",
        "time_range",
        "start_time",
        "end_time",
        "granularity",
        "calculated_fields",
        "compare_time_offset_seconds",
    }
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list(spec: Mapping[str, Any], name: str) -> list[Any]:
    value = spec.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise unparseable(f"{name} must be an array", name)
    if len(value) > MAX_LIST_ITEMS:
        raise invalid(f"{name} can have at most {MAX_LIST_ITEMS} items", name)
    return value


def _object(item: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise unparseable(f"{field} must be an object", field)
    return item


def _column_name(value: Any, field: str, required: bool) -> str | None:
    if value is None:
        if required:
            raise invalid("column is required", field)
        return None
    if not isinstance(value, str):
        raise unparseable("column must be a string", field)
    if required and not value.strip():
        raise invalid("column cannot be blank", field)
    return value


def _drop_nulls(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _check_calculation(item: Mapping[str, Any], field: str, ops: tuple[str, ...], op_key: str = "op") -> None:
    op = item.get(op_key)
    if not isinstance(op, str):
        raise invalid(
            f"{op_key} is required" if op is None else f"{op_key} must be a string", f"{field}.{op_key}"
        )
    if op not in ops:
        raise invalid(f"unknown calculation op: {op}", f"{field}.{op_key}")
    column = _column_name(item.get("column"), f"{field}.column", required=False)
    if op in COLUMNLESS_OPS and column:
        raise invalid(f"{op} should not have an accompanying column", f"{field}.column")
    if op not in COLUMNLESS_OPS and not column:
        raise invalid(f"{op} requires a column", f"{field}.column")


def _calc_identity(item: Mapping[str, Any], op_key: str = "op") -> tuple[str, str | None]:
    op = item[op_key]
    return op, None if op in COLUMNLESS_OPS else item.get("column")


def _check_filter(item: Mapping[str, Any], field: str) -> None:
    _column_name(item.get("column"), f"{field}.column", required=True)
    op = item.get("op")
    if not isinstance(op, str) or op not in FILTER_OPS:
        raise invalid(f"unknown filter op: {op}", f"{field}.op")
    value = item.get("value")
    if op in NO_VALUE_FILTER_OPS:
        if value is not None:
            raise invalid(f"filter op {op} does not take a value", f"{field}.value")
        return
    if op in LIST_FILTER_OPS:
        if not isinstance(value, list) or not value:
            raise invalid(f"filter op {op} requires a non-empty array value", f"{field}.value")
        for element in value:
            if not isinstance(element, str | int | float) or element is None:
                raise invalid(
                    f"filter op {op} takes an array of strings, numbers or booleans", f"{field}.value"
                )
        return
    if op in STRING_FILTER_OPS:
        if not isinstance(value, str):
            raise invalid(f"filter op {op} requires a string value", f"{field}.value")
        return
    if value is None:
        raise invalid(f"filter op {op} requires a value", f"{field}.value")
    if not isinstance(value, str | int | float):
        raise invalid(f"filter op {op} takes a string, number or boolean value", f"{field}.value")


def _check_time_types(spec: Mapping[str, Any]) -> None:
    for name in ("time_range", "start_time", "end_time"):
        value = spec.get(name)
        if value is None:
            continue
        if not _is_int(value):
            raise unparseable(f"{name} must be an integer number of seconds", name)
        if value < 1:
            raise invalid(f"{name} must be at least 1", name)
    granularity = spec.get("granularity")
    if granularity is not None:
        if not _is_int(granularity):
            raise unparseable("granularity must be an integer number of seconds", "granularity")
        if granularity < 0:
            raise invalid("granularity cannot be negative", "granularity")


def normalize_query(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a Query spec and return it as Honeycomb echoes it; raises QueryError."""
    if not isinstance(spec, Mapping):
        raise unparseable("invalid Query data")
    for name in spec:
        if name not in KNOWN_FIELDS:
            raise invalid(f"unknown field {name}", str(name))
    out: dict[str, Any] = {}

    calculated_names: set[str] = set()
    fields_out = []
    for i, item in enumerate(_list(spec, "calculated_fields")):
        field = f"calculated_fields[{i}]"
        item = _object(item, field)
        alias = item.get("name")
        if not isinstance(alias, str) or not alias.strip():
            raise invalid("name cannot be blank", f"{field}.name")
        if alias in calculated_names:
            raise invalid(f"duplicate calculated field name {alias}", f"{field}.name")
        expression = item.get("expression")
        if not isinstance(expression, str):
            raise invalid("expression cannot be blank", f"{field}.expression")
        parse_expression(expression, f"{field}.expression")
        calculated_names.add(alias)
        fields_out.append({"name": alias, "expression": expression})

    calcs_out = []
    for i, item in enumerate(_list(spec, "calculations")):
        field = f"calculations[{i}]"
        item = _object(item, field)
        _check_calculation(item, field, CALCULATION_OPS)
        calcs_out.append(_drop_nulls({"op": item["op"], "column": item.get("column")}))
    calc_ids = {_calc_identity(c) for c in calcs_out} or {("COUNT", None)}

    filters_out = []
    for i, item in enumerate(_list(spec, "filters")):
        field = f"filters[{i}]"
        item = _object(item, field)
        _check_filter(item, field)
        filters_out.append(
            _drop_nulls({"column": item["column"], "op": item["op"], "value": item.get("value")})
        )

    combination = spec.get("filter_combination")
    if combination is not None and combination not in ("AND", "OR"):
        raise invalid("filter_combination must be AND or OR", "filter_combination")

    breakdowns = _list(spec, "breakdowns")
    for i, name in enumerate(breakdowns):
        _column_name(name, f"breakdowns[{i}]", required=True)

    orders_out = []
    for i, item in enumerate(_list(spec, "orders")):
        field = f"orders[{i}]"
        item = _object(item, field)
        order = item.get("order")
        if order is not None and order not in ("ascending", "descending"):
            raise invalid("order must be ascending or descending", f"{field}.order")
        if item.get("op") is None:
            column = _column_name(item.get("column"), f"{field}.column", required=True)
            if column not in breakdowns:
                raise invalid(f"order column {column} must be one of the breakdowns", f"{field}.column")
        else:
            _check_calculation(item, field, CALCULATION_OPS)
            if item["op"] == "HEATMAP":
                raise invalid("cannot order by HEATMAP", f"{field}.op")
            if _calc_identity(item) not in calc_ids:
                raise invalid("order must refer to one of the calculations", f"{field}.op")
        orders_out.append(_drop_nulls({"column": item.get("column"), "op": item.get("op"), "order": order}))

    havings_out = []
    for i, item in enumerate(_list(spec, "havings")):
        field = f"havings[{i}]"
        item = _object(item, field)
        _check_calculation(item, field, HAVING_CALCULATE_OPS, op_key="calculate_op")
        if item.get("op") not in HAVING_OPS:
            raise invalid(f"unknown having op: {item.get('op')}", f"{field}.op")
        if not _is_number(item.get("value")):
            raise invalid("having value must be a number", f"{field}.value")
        if _calc_identity(item, "calculate_op") not in calc_ids:
            raise invalid("having must refer to one of the calculations", f"{field}.calculate_op")
        havings_out.append(
            _drop_nulls(
                {
                    "calculate_op": item["calculate_op"],
                    "column": item.get("column"),
                    "op": item["op"],
                    "value": item["value"],
                }
            )
        )

    limit = spec.get("limit")
    if limit is not None:
        if not _is_int(limit):
            raise unparseable("limit must be an integer", "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}", "limit")

    _check_time_types(spec)
    check_time_fields(spec)
    check_granularity(spec)

    offset = spec.get("compare_time_offset_seconds")
    if offset is not None:
        if not _is_int(offset) or offset not in COMPARE_TIME_OFFSETS:
            raise invalid(
                "compare_time_offset_seconds is not an allowed value", "compare_time_offset_seconds"
            )
        if offset < duration_of(spec):
            raise invalid(
                "compare_time_offset_seconds must be at least the query's duration",
                "compare_time_offset_seconds",
            )

    # Echo in the input's own key order so clients that compare specs field by field see no churn.
    built = {
        "calculations": calcs_out,
        "filters": filters_out,
        "breakdowns": list(breakdowns),
        "orders": orders_out,
        "havings": havings_out,
        "calculated_fields": fields_out,
    }
    for name, value in spec.items():
        if value is None or name == "id":
            continue
        if name == "filter_combination" and value == "AND":
            continue
        out[name] = built.get(name, value)
    return out


def _strip_relational(column: str) -> str:
    for prefix in RELATIONAL_PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def _spec_columns(spec: Mapping[str, Any]) -> list[str]:
    """Every column name the spec mentions directly (not through calculated fields)."""
    columns: list[str] = []
    for item in spec.get("calculations") or []:
        if item.get("column"):
            columns.append(item["column"])
    columns += [f["column"] for f in spec.get("filters") or [] if f.get("column")]
    columns += list(spec.get("breakdowns") or [])
    columns += [o["column"] for o in spec.get("orders") or [] if o.get("column") and not o.get("op")]
    return columns


def relational_field(spec: Mapping[str, Any]) -> str | None:
    """The first column with a relational prefix (root., parent., any. ...), if any."""
    try:
        names = _spec_columns(spec)
    except (AttributeError, TypeError):
        return None
    return next((name for name in names if name.startswith(RELATIONAL_PREFIXES)), None)


def uses_relational_fields(spec: Mapping[str, Any]) -> bool:
    """True if any column carries a relational prefix (root., parent., any. ...)."""
    return relational_field(spec) is not None


def unknown_columns(spec: Mapping[str, Any], known: set[str]) -> list[str]:
    """Referenced columns that are neither in ``known`` nor calculated fields (prefixes stripped)."""
    calculated = {f["name"]: f["expression"] for f in spec.get("calculated_fields") or []}
    wanted: list[str] = []
    for name in _spec_columns(spec):
        if name not in calculated:
            wanted.append(_strip_relational(name))
    for expression in calculated.values():
        try:
            refs = referenced_columns(parse_expression(expression))
        except QueryError:
            continue
        wanted += sorted(r for r in refs if r not in calculated)
    seen: set[str] = set()
    missing = []
    for name in wanted:
        if name not in known and name not in seen:
            seen.add(name)
            missing.append(name)
    return missing
