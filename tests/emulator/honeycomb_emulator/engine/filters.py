"""Filters compiled to SQL predicates, with Honeycomb-like value typing.

A filter value is coerced to the column's type: ``status = "200"`` matches an integer 200 and
``name = 5`` matches the string ``"5"``; a value that cannot be coerced matches nothing. Negated ops
(``!=``, ``does-not-*``, ``not-in``) are the exact negation of their positive op, so they also match
events where the column is missing; ``>``/``<`` never match a missing value.
"""

from __future__ import annotations

from typing import Any

from .calculated import NUMERIC, Compiled, as_text, sql_literal

_NEGATIONS = {
    "!=": "=",
    "does-not-start-with": "starts-with",
    "does-not-end-with": "ends-with",
    "does-not-contain": "contains",
    "not-in": "in",
    "does-not-exist": "exists",
}


def _coerce(value: Any, kind: str) -> Compiled | None:
    """The filter value as a literal of the column's kind, or None when it cannot be one."""
    if kind in NUMERIC:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return sql_literal(value)
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        return sql_literal(int(number) if number.is_integer() and kind == "integer" else number)
    if kind == "boolean":
        if isinstance(value, bool):
            return sql_literal(value)
        if isinstance(value, int | float) and value in (0, 1):
            return sql_literal(bool(value))
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return sql_literal(text == "true")
        return None
    if kind == "string":
        if isinstance(value, bool):
            return sql_literal("true" if value else "false")
        return sql_literal(value if isinstance(value, str) else str(value))
    return None


def _positive(column: Compiled, op: str, value: Any) -> str:
    sql, kind = column
    if op == "exists":
        return f"({sql} IS NOT NULL)"
    if op in ("starts-with", "ends-with", "contains"):
        needle = sql_literal(str(value))[0]
        fn = {"starts-with": "starts_with", "ends-with": "ends_with", "contains": "contains"}[op]
        return f"COALESCE({fn}({as_text(column)}, {needle}), FALSE)"
    if op == "in":
        parts = [_positive(column, "=", element) for element in value]
        return "(" + " OR ".join(parts) + ")"
    literal = _coerce(value, kind)
    if literal is None:
        return "FALSE"
    return f"COALESCE({sql} {op} {literal[0]}, FALSE)"


def filter_sql(column: Compiled, op: str, value: Any) -> str:
    """One filter as a SQL boolean that is never NULL."""
    if op in _NEGATIONS:
        return f"(NOT {_positive(column, _NEGATIONS[op], value)})"
    return _positive(column, op, value)


def combine(predicates: list[str], combination: str) -> str:
    if not predicates:
        return "TRUE"
    joiner = " OR " if combination == "OR" else " AND "
    return "(" + joiner.join(predicates) + ")"
