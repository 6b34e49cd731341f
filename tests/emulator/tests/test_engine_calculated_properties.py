"""Property-based check of calculated fields: random formulas compiled to SQL by the engine give
the same per-event values as a small Python interpreter of the same formulas.

Semantics mirrored here (documented in engine/README.md): arithmetic with a null operand is null,
DIV by zero is null, MIN/MAX skip nulls, comparisons with a null are false, IF takes the first
branch when its condition is truthy (non-zero number, true), COALESCE takes the first non-null.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from honeycomb_emulator.engine import Event, Store, run_query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()

Env = dict[str, Any]


@dataclass(frozen=True)
class Formula:
    text: str
    evaluate: Callable[[Env], Any]


def _column(name: str) -> Formula:
    return Formula(f"${name}", lambda env: env.get(name))


def _number(value: int | float) -> Formula:
    return Formula(repr(value), lambda env: value)


def _arith(name: str, args: list[Formula]) -> Formula:
    def evaluate(env: Env) -> Any:
        values = [a.evaluate(env) for a in args]
        if name in ("MIN", "MAX"):
            present = [v for v in values if v is not None]
            return (min if name == "MIN" else max)(present) if present else None
        if any(v is None for v in values):
            return None
        if name == "SUM":
            return sum(values)
        if name == "SUB":
            return values[0] - values[1]
        if name == "MUL":
            return math.prod(values)
        if name == "DIV":
            return None if values[1] == 0 else values[0] / values[1]
        raise AssertionError(name)

    return Formula(f"{name}({', '.join(a.text for a in args)})", evaluate)


def _compare(name: str, left: Formula, right: Formula) -> Formula:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "EQUALS": lambda a, b: a == b,
    }

    def evaluate(env: Env) -> bool:
        a, b = left.evaluate(env), right.evaluate(env)
        return a is not None and b is not None and ops[name](a, b)

    return Formula(f"{name}({left.text}, {right.text})", evaluate)


def _truthy(value: Any) -> bool:
    return value is not None and value != 0


def _if(condition: Formula, then: Formula, otherwise: Formula) -> Formula:
    return Formula(
        f"IF({condition.text}, {then.text}, {otherwise.text})",
        lambda env: then.evaluate(env) if _truthy(condition.evaluate(env)) else otherwise.evaluate(env),
    )


def _logic(name: str, args: list[Formula]) -> Formula:
    def evaluate(env: Env) -> bool:
        values = [_truthy(a.evaluate(env)) for a in args]
        return all(values) if name == "AND" else any(values) if name == "OR" else not values[0]

    return Formula(f"{name}({', '.join(a.text for a in args)})", evaluate)


def _coalesce(args: list[Formula]) -> Formula:
    def evaluate(env: Env) -> Any:
        return next((v for v in (a.evaluate(env) for a in args) if v is not None), None)

    return Formula(f"COALESCE({', '.join(a.text for a in args)})", evaluate)


leaves = st.one_of(
    st.sampled_from(["a", "b", "missing"]).map(_column),
    st.integers(min_value=-5, max_value=5).map(_number),
    st.sampled_from([0.5, 2.25, -1.5]).map(_number),
)


def _extend(children: st.SearchStrategy[Formula]) -> st.SearchStrategy[Formula]:
    pair = st.lists(children, min_size=2, max_size=2)
    conditions = st.one_of(
        st.builds(_compare, st.sampled_from(["GT", "GTE", "LT", "LTE", "EQUALS"]), children, children),
        st.builds(_logic, st.sampled_from(["AND", "OR"]), pair),
        st.builds(lambda c: _logic("NOT", [c]), children),
    )
    return st.one_of(
        st.builds(_arith, st.sampled_from(["SUM", "SUB", "MUL", "DIV"]), pair),
        st.builds(_arith, st.sampled_from(["MIN", "MAX", "SUM"]), st.lists(children, min_size=1, max_size=3)),
        st.builds(_if, conditions, children, children),
        st.builds(_coalesce, st.lists(children, min_size=1, max_size=3)),
    )


formulas = st.recursive(leaves, _extend, max_leaves=8)
environments = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.one_of(st.none(), st.integers(min_value=-3, max_value=3)),
            "b": st.one_of(st.none(), st.sampled_from([0.0, 1.5, -2.0, 4.0])),
        }
    ),
    min_size=1,
    max_size=12,
)


def close(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formula=formulas, envs=environments)
def test_formulas_match_a_python_interpreter(formula: Formula, envs: list[Env]) -> None:
    store = Store()
    # A first event fixes the column types: a integer, b float.
    store.add_events("ds", [Event(NOW - 7200, {"a": 1, "b": 1.5})])
    store.add_events("ds", [Event(NOW - 600, {**env, "id": i}) for i, env in enumerate(envs)])
    spec = {
        "time_range": 3600,
        "calculated_fields": [{"name": "f", "expression": formula.text}],
        "calculations": [{"op": "MAX", "column": "f"}],
        "breakdowns": ["id"],
    }
    result = run_query(store, "ds", spec, NOW, disable_series=True)
    got = {row["data"]["id"]: row["data"]["MAX(f)"] for row in result["results"]}
    for i, env in enumerate(envs):
        want = formula.evaluate(env)
        if isinstance(want, bool):
            want = int(want)  # MAX over a boolean reads it as 0/1
        assert close(got[i], want), (formula.text, env, got[i], want)
