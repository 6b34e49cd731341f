"""Calculated fields: Honeycomb's derived-column formula language, parsed and compiled to SQL.

Syntax: function calls only (``IF(GT($duration_ms, 500), "slow", "fast")``), column references
``$name`` or ``$"name with spaces"``, double-quoted strings, numbers, ``true``/``false``/``null``.
Expressions are compiled to DuckDB SQL (never evaluated as Python); every literal is rendered by the
compiler, so user text never reaches SQL unescaped.

Truthiness (IF, AND, OR, NOT): booleans as they are; numbers are true when non-zero; strings when
non-empty; null is false.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import QueryError, invalid

# -- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class ColumnRef:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Literal | ColumnRef | Call

# Function name -> (minimum args, maximum args or None for variadic).
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "IF": (2, None),
    "SWITCH": (2, None),
    "COALESCE": (1, None),
    "EQUALS": (2, None),
    "IN": (2, None),
    "NOT": (1, 1),
    "AND": (1, None),
    "OR": (1, None),
    "EXISTS": (1, 1),
    "LT": (2, 2),
    "LTE": (2, 2),
    "GT": (2, 2),
    "GTE": (2, 2),
    "SUM": (1, None),
    "SUB": (2, 2),
    "MUL": (1, None),
    "DIV": (2, 2),
    "MOD": (2, 2),
    "MIN": (1, None),
    "MAX": (1, None),
    "LOG10": (1, 1),
    "INT": (1, 1),
    "FLOAT": (1, 1),
    "BOOL": (1, 1),
    "STRING": (1, 1),
    "CONCAT": (1, None),
    "CONTAINS": (2, 2),
    "STARTS_WITH": (2, 2),
    "ENDS_WITH": (2, 2),
    "TO_LOWER": (1, 1),
    "TO_UPPER": (1, 1),
    "LENGTH": (1, 1),
    "REG_MATCH": (2, 2),
    "REG_VALUE": (2, 2),
    "EVENT_TIMESTAMP": (0, 0),
}

# -- parsing -----------------------------------------------------------------------------------
MAX_NUMBER_CHARS, MAX_NESTING = 400, 100  # a hostile formula is a 422, not a crash

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<qcol>\$"(?:[^"\\]|\\.)*")
      | (?P<col>\$[A-Za-z0-9_.\-:/@]+)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), quoted[1:-1])


def _tokenize(text: str, field: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise invalid(f"could not parse expression at position {pos}: {text[pos : pos + 20]!r}", field)
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, field: str) -> None:
        self.tokens = _tokenize(text, field)
        self.pos = 0
        self.field = field
        self.depth = 0

    def fail(self, message: str) -> QueryError:
        return invalid(f"invalid expression: {message}", self.field)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, punct: str) -> None:
        kind, text = self.take()
        if kind != "punct" or text != punct:
            raise self.fail(f"expected {punct!r}, found {text!r}")

    def parse(self) -> Node:
        node = self.node()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r} after the expression")  # type: ignore[index]
        return node

    def node(self) -> Node:
        kind, text = self.take()
        if kind == "qcol":
            return ColumnRef(_unescape(text[1:]))
        if kind == "col":
            return ColumnRef(text[1:])
        if kind == "str":
            return Literal(_unescape(text))
        if kind == "num":
            return Literal(self.number(text))
        if kind == "name":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return Literal(lowered == "true")
            if lowered == "null":
                return Literal(None)
            return self.call(text)
        raise self.fail(f"unexpected {text!r}")

    def number(self, text: str) -> float | int:
        # Python refuses int() over 4,300 digits and float() over ~1.8e308 is inf: a 422, not a crash.
        value = int(text) if len(text) <= 19 and not any(c in text for c in ".eE") else float(text)
        if isinstance(value, float) and (len(text) > MAX_NUMBER_CHARS or not math.isfinite(value)):
            raise self.fail(f"number literal {text[:20]}... is out of range")
        return value

    def call(self, name: str) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:  # the recursion limit of this recursive-descent parser
            raise self.fail(f"functions nest more than {MAX_NESTING} deep")
        node = self._call(name)
        self.depth -= 1
        return node

    def _call(self, name: str) -> Node:
        upper = name.upper()
        if upper not in FUNCTIONS:
            raise self.fail(f"unknown or unsupported function {name}")
        self.expect("(")
        args: list[Node] = []
        if self.peek() == ("punct", ")"):
            self.take()
        else:
            while True:
                args.append(self.node())
                kind, text = self.take()
                if (kind, text) == ("punct", ")"):
                    break
                if (kind, text) != ("punct", ","):
                    raise self.fail(f"expected ',' or ')' in {upper}(...), found {text!r}")
        low, high = FUNCTIONS[upper]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = f"{low}" if high == low else f"at least {low}" if high is None else f"{low} to {high}"
            raise self.fail(f"{upper} takes {wanted} arguments, got {len(args)}")
        return Call(upper, tuple(args))


def parse_expression(text: str, field: str = "calculated_fields") -> Node:
    """Parse a formula; QueryError(422) naming the problem (e.g. an unsupported function)."""
    if not isinstance(text, str) or not text.strip():
        raise invalid("expression cannot be blank", field)
    return _Parser(text, field).parse()


def referenced_columns(node: Node) -> set[str]:
    if isinstance(node, ColumnRef):
        return {node.name}
    if isinstance(node, Call):
        return set().union(*(referenced_columns(arg) for arg in node.args)) if node.args else set()
    return set()


# -- compiling ---------------------------------------------------------------------------------

# A compiled expression: SQL text and its kind (a column type, or "null" for a known null).
Compiled = tuple[str, str]
Resolver = Callable[[str], Compiled]

NUMERIC = frozenset({"integer", "float"})

# A column no event of the dataset has: a null *value*, which equals nothing, like a null in a
# column that exists. Only the literal `null` asks "is this missing" (EQUALS($x, null)).
NULL_LITERAL: Compiled = ("NULL", "null")
MISSING_COLUMN: Compiled = ("(NULL)", "null")  # untyped, as NULL, so it mixes with any kind


def sql_literal(value: Any) -> Compiled:
    """A value as SQL text with its kind; strings are escaped, numbers rendered by Python."""
    if value is None:
        return NULL_LITERAL
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), "boolean"
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return f"CAST({value} AS BIGINT)", "integer"
    if isinstance(value, int | float):
        # repr gives digits, or 'nan'/'inf', which DuckDB casts from text.
        return f"CAST('{float(value)!r}' AS DOUBLE)", "float"
    text = str(value).replace("'", "''")
    return f"'{text}'", "string"


def as_number(compiled: Compiled) -> str:
    sql, kind = compiled
    if kind in NUMERIC:
        return sql
    if kind == "boolean":
        return f"CAST({sql} AS BIGINT)"
    return f"TRY_CAST({sql} AS DOUBLE)"


def as_text(compiled: Compiled) -> str:
    sql, kind = compiled
    if kind == "string":
        return sql
    if kind == "boolean":
        return f"CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END"
    return f"CAST({sql} AS VARCHAR)"


def truthy(compiled: Compiled) -> str:
    sql, kind = compiled
    if kind == "boolean":
        return f"COALESCE({sql}, FALSE)"
    if kind in NUMERIC:
        return f"COALESCE({sql} <> 0, FALSE)"
    if kind == "null":
        return "FALSE"
    return f"COALESCE({sql} <> '', FALSE)"


def _common_kind(kinds: list[str]) -> str:
    real = [k for k in kinds if k != "null"]
    if not real:
        return "null"
    if all(k == real[0] for k in real):
        return real[0]
    if all(k in NUMERIC for k in real):
        return "float"
    return "string"


def _cast_to(compiled: Compiled, kind: str) -> str:
    sql, own = compiled
    if own == kind or own == "null" or kind == "null":
        return sql
    if kind == "string":
        return as_text(compiled)
    if kind == "float":
        return f"CAST({as_number(compiled)} AS DOUBLE)"
    return sql


def _equals(a: Compiled, b: Compiled) -> str:
    if a == NULL_LITERAL or b == NULL_LITERAL:
        other = b if a == NULL_LITERAL else a
        return f"({other[0]} IS NULL)"
    if a[1] == "null" or b[1] == "null":
        return "FALSE"
    if a[1] in NUMERIC and b[1] in NUMERIC:
        return f"COALESCE({a[0]} = {b[0]}, FALSE)"
    if a[1] != b[1]:
        return "FALSE"
    return f"COALESCE({a[0]} = {b[0]}, FALSE)"


def _compare(op: str, a: Compiled, b: Compiled) -> str:
    if a[1] == "string" and b[1] == "string":
        return f"COALESCE({a[0]} {op} {b[0]}, FALSE)"
    return f"COALESCE({as_number(a)} {op} {as_number(b)}, FALSE)"


def _arith_kind(args: list[Compiled]) -> str:
    return "integer" if all(k == "integer" for _, k in args) else "float"


class Compiler:
    """Compiles a syntax tree to SQL, resolving ``$column`` through ``resolve``."""

    def __init__(self, resolve: Resolver, time_sql: str) -> None:
        self.resolve = resolve
        self.time_sql = time_sql

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Literal):
            return sql_literal(node.value)
        if isinstance(node, ColumnRef):
            return self.resolve(node.name)
        return self.call(node.name, [self.compile(arg) for arg in node.args], node)

    def call(self, name: str, args: list[Compiled], node: Call) -> Compiled:
        if name == "IF":
            return self._if(args)
        if name == "SWITCH":
            return self._switch(args)
        if name == "COALESCE":
            kind = _common_kind([k for _, k in args])
            return f"COALESCE({', '.join(_cast_to(a, kind) for a in args)})", kind
        if name == "EQUALS":
            first = args[0]
            return "(" + " AND ".join(_equals(first, other) for other in args[1:]) + ")", "boolean"
        if name == "IN":
            return "(" + " OR ".join(_equals(args[0], other) for other in args[1:]) + ")", "boolean"
        if name == "NOT":
            return f"(NOT {truthy(args[0])})", "boolean"
        if name in ("AND", "OR"):
            return "(" + f" {name} ".join(truthy(a) for a in args) + ")", "boolean"
        if name == "EXISTS":
            return f"({args[0][0]} IS NOT NULL)", "boolean"
        if name in ("LT", "LTE", "GT", "GTE"):
            op = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}[name]
            return _compare(op, args[0], args[1]), "boolean"
        if name in ("SUM", "MUL"):
            joiner = " + " if name == "SUM" else " * "
            return "(" + joiner.join(as_number(a) for a in args) + ")", _arith_kind(args)
        if name == "SUB":
            return f"({as_number(args[0])} - {as_number(args[1])})", _arith_kind(args)
        if name == "DIV":
            return f"(CAST({as_number(args[0])} AS DOUBLE) / NULLIF({as_number(args[1])}, 0))", "float"
        if name == "MOD":
            return f"({as_number(args[0])} % NULLIF({as_number(args[1])}, 0))", _arith_kind(args)
        if name in ("MIN", "MAX"):
            fn = "LEAST" if name == "MIN" else "GREATEST"
            return f"{fn}({', '.join(as_number(a) for a in args)})", _arith_kind(args)
        if name == "LOG10":
            return f"(CASE WHEN {as_number(args[0])} > 0 THEN LOG10({as_number(args[0])}) END)", "float"
        if name == "INT":
            return f"TRY_CAST(TRUNC({as_number(args[0])}) AS BIGINT)", "integer"
        if name == "FLOAT":
            return f"CAST({as_number(args[0])} AS DOUBLE)", "float"
        if name == "BOOL":
            return truthy(args[0]), "boolean"
        if name == "STRING":
            return as_text(args[0]), "string"
        if name == "CONCAT":
            return "(" + " || ".join(f"COALESCE({as_text(a)}, '')" for a in args) + ")", "string"
        if name == "CONTAINS":
            return f"COALESCE(contains({as_text(args[0])}, {as_text(args[1])}), FALSE)", "boolean"
        if name == "STARTS_WITH":
            return f"COALESCE(starts_with({as_text(args[0])}, {as_text(args[1])}), FALSE)", "boolean"
        if name == "ENDS_WITH":
            return f"COALESCE(ends_with({as_text(args[0])}, {as_text(args[1])}), FALSE)", "boolean"
        if name == "TO_LOWER":
            return f"lower({as_text(args[0])})", "string"
        if name == "TO_UPPER":
            return f"upper({as_text(args[0])})", "string"
        if name == "LENGTH":
            return f"length({as_text(args[0])})", "integer"
        if name == "REG_MATCH":
            return f"COALESCE(regexp_matches({as_text(args[0])}, {as_text(args[1])}), FALSE)", "boolean"
        if name == "REG_VALUE":
            return f"NULLIF(regexp_extract({as_text(args[0])}, {as_text(args[1])}, 1), '')", "string"
        if name == "EVENT_TIMESTAMP":
            return self.time_sql, "float"
        raise invalid(f"unsupported function {name}", "calculated_fields")

    def _if(self, args: list[Compiled]) -> Compiled:
        # IF(cond, then[, cond2, then2 ...][, else])
        pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
        otherwise = args[-1] if len(args) % 2 == 1 else ("NULL", "null")
        kind = _common_kind([v[1] for _, v in pairs] + [otherwise[1]])
        whens = " ".join(f"WHEN {truthy(c)} THEN {_cast_to(v, kind)}" for c, v in pairs)
        return f"(CASE {whens} ELSE {_cast_to(otherwise, kind)} END)", kind

    def _switch(self, args: list[Compiled]) -> Compiled:
        # SWITCH(value, case1, result1, ...[, default])
        subject, rest = args[0], args[1:]
        pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]
        otherwise = rest[-1] if len(rest) % 2 == 1 else ("NULL", "null")
        kind = _common_kind([v[1] for _, v in pairs] + [otherwise[1]])
        whens = " ".join(f"WHEN {_equals(subject, c)} THEN {_cast_to(v, kind)}" for c, v in pairs)
        if not pairs:
            return _cast_to(otherwise, kind), kind
        return f"(CASE {whens} ELSE {_cast_to(otherwise, kind)} END)", kind
