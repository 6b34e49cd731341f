"""Property-based checks: run_query against an independent computation (Python + numpy).

Random event sets (with sample rates, missing values, ties and events outside the window) and
random queries (op, filter, breakdown, having); every result row and series point must equal the
value computed directly from the events: sample-rate-weighted COUNT/SUM/AVG, unweighted
MIN/MAX/COUNT_DISTINCT, and percentiles as the nearest rank on the events repeated ``samplerate``
times: the value at 1-based position ceil(p * n) of the sorted values. That is numpy's
``inverted_cdf`` method, except that numpy computes p * n in floating point and can land one rank
high when it is a whole number (0.999 * 3000 -> 2997.0000000000005); the exact rank is used here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from unittest import mock

import numpy as np
import pytest
from honeycomb_emulator.engine import Event, Store, aggregate, run_query
from honeycomb_emulator.engine.ops import PERCENTILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()
START = NOW - 3600
GRANULARITY = 600
SERVICES = ("a", "b", "c", None)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Row:
    time: float
    svc: str | None
    v: float | None
    flag: bool
    samplerate: int


rows_strategy = st.lists(
    st.builds(
        Row,
        time=st.one_of(
            st.floats(min_value=START, max_value=NOW - 0.001),
            st.sampled_from([START - 1, NOW, NOW + 5, START]),  # edges and outside the window
        ),
        svc=st.sampled_from(SERVICES),
        v=st.one_of(
            st.none(),
            st.integers(min_value=0, max_value=20).map(float),  # ties
            st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_subnormal=False),
        ),
        flag=st.booleans(),
        samplerate=st.sampled_from([1, 1, 1, 2, 3, 10]),
    ),
    min_size=0,
    max_size=300,
)

# (spec filter, matching predicate) pairs.
FILTERS: list[tuple[dict[str, Any] | None, Callable[[Row], bool]]] = [
    (None, lambda r: True),
    ({"column": "v", "op": ">", "value": 5}, lambda r: r.v is not None and r.v > 5),
    ({"column": "v", "op": "<=", "value": 10.5}, lambda r: r.v is not None and r.v <= 10.5),
    ({"column": "svc", "op": "=", "value": "a"}, lambda r: r.svc == "a"),
    ({"column": "svc", "op": "!=", "value": "a"}, lambda r: r.svc != "a"),
    ({"column": "svc", "op": "in", "value": ["b", "c"]}, lambda r: r.svc in ("b", "c")),
    ({"column": "svc", "op": "does-not-exist"}, lambda r: r.svc is None),
    ({"column": "v", "op": "exists"}, lambda r: r.v is not None),
    ({"column": "flag", "op": "=", "value": True}, lambda r: r.flag),
]
OPS = ["COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", *PERCENTILES]


def load(rows: list[Row]) -> Store:
    store = Store()
    # A first event fixes each column's type (float v, string svc) even if the sample has none.
    store.add_events("ds", [Event(START - 100, {"svc": "x", "v": 0.5, "flag": False})])
    store.add_events(
        "ds",
        [Event(r.time, {"svc": r.svc, "v": r.v, "flag": r.flag}, r.samplerate) for r in rows],
    )
    return store


def expected(op: str, rows: list[Row]) -> Any:
    """The value Honeycomb semantics give for ``op`` over ``rows`` (None: no value)."""
    if op == "COUNT":
        return sum(r.samplerate for r in rows)
    valued = [r for r in rows if r.v is not None]
    if not valued:
        return 0 if op == "COUNT_DISTINCT" else 0.0 if op == "SUM" else None
    values = np.array([r.v for r in valued])
    weights = np.array([r.samplerate for r in valued])
    if op == "SUM":
        return float(np.sum(values * weights))
    if op == "AVG":
        return float(np.sum(values * weights) / np.sum(weights))
    if op == "MIN":
        return float(values.min())
    if op == "MAX":
        return float(values.max())
    if op == "COUNT_DISTINCT":
        return len(set(values.tolist()))
    return nearest_rank(np.repeat(values, weights), PERCENTILES[op])


def nearest_rank(values: np.ndarray[Any, Any], fraction: Fraction) -> float:
    ordered = np.sort(values)
    rank = max(1, math.ceil(fraction * len(ordered)))  # exact: Fraction * int
    return float(ordered[rank - 1])


def same(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return got == want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)


def in_window(rows: list[Row]) -> list[Row]:
    return [r for r in rows if START <= r.time < NOW]


def key_of(op: str) -> str:
    return op if op == "COUNT" else f"{op}(v)"


@SETTINGS
@given(rows=rows_strategy, op=st.sampled_from(OPS), filter_index=st.integers(0, len(FILTERS) - 1))
def test_aggregates_match_an_independent_computation(rows: list[Row], op: str, filter_index: int) -> None:
    spec_filter, matches = FILTERS[filter_index]
    spec: dict[str, Any] = {
        "time_range": 3600,
        "calculations": [{"op": op, "column": "v"} if op != "COUNT" else {"op": op}],
    }
    if spec_filter:
        spec["filters"] = [spec_filter]
    result = run_query(load(rows), "ds", spec, NOW, disable_series=True)
    selected = [r for r in in_window(rows) if matches(r)]
    if not selected:
        assert result["results"] == []
        return
    (row,) = result["results"]
    assert same(row["data"][key_of(op)], expected(op, selected)), (row, expected(op, selected))


@SETTINGS
@given(
    rows=rows_strategy,
    op=st.sampled_from(OPS),
    having=st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
    filter_index=st.integers(0, len(FILTERS) - 1),
    expand_limit=st.sampled_from([0, aggregate.EXPAND_LIMIT]),
)
def test_breakdowns_havings_and_series(
    rows: list[Row], op: str, having: int | None, filter_index: int, expand_limit: int
) -> None:
    # expand_limit 0 makes sampled data use the running-sum window instead of repeated rows.
    spec_filter, matches = FILTERS[filter_index]
    calculations = [{"op": "COUNT"}] if op == "COUNT" else [{"op": "COUNT"}, {"op": op, "column": "v"}]
    spec: dict[str, Any] = {
        "time_range": 3600,
        "granularity": GRANULARITY,
        "calculations": calculations,
        "breakdowns": ["svc"],
        "orders": [{"op": "COUNT", "order": "descending"}],
    }
    if spec_filter:
        spec["filters"] = [spec_filter]
    if having is not None:
        spec["havings"] = [{"calculate_op": "COUNT", "op": ">=", "value": having}]
    with mock.patch.object(aggregate, "EXPAND_LIMIT", expand_limit):
        result = run_query(load(rows), "ds", spec, NOW, total_by_aggregate=True)

    groups: dict[str | None, list[Row]] = defaultdict(list)
    for r in in_window(rows):
        if matches(r):
            groups[r.svc].append(r)
    kept = {
        svc: members
        for svc, members in groups.items()
        if having is None or expected("COUNT", members) >= having
    }

    got = {r["data"]["svc"]: r["data"] for r in result["results"]}
    assert set(got) == set(kept)
    for svc, members in kept.items():
        assert got[svc]["COUNT"] == expected("COUNT", members)
        assert same(got[svc][key_of(op)], expected(op, members))
    counts = [r["data"]["COUNT"] for r in result["results"]]
    assert counts == sorted(counts, reverse=True)

    buckets: dict[tuple[str | None, int], list[Row]] = defaultdict(list)
    for svc, members in kept.items():
        for r in members:
            buckets[(svc, int((r.time - START) // GRANULARITY))].append(r)
    points = {(p["data"]["svc"], p["time"]): p["data"] for p in result["series"]}
    assert len(points) == len(result["series"])
    want_points = {
        (svc, datetime.fromtimestamp(START + b * GRANULARITY, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")): members
        for (svc, b), members in buckets.items()
    }
    assert set(points) == set(want_points)
    for point_key, members in want_points.items():
        assert points[point_key]["COUNT"] == expected("COUNT", members)
        assert same(points[point_key][key_of(op)], expected(op, members))

    everything = [r for members in groups.values() for r in members]
    if everything:
        assert same(result["total_by_aggregate"]["data"][key_of(op)], expected(op, everything))


@pytest.mark.parametrize(("samplerate", "expand_limit"), [(1, 0), (7, 0), (7, 10**9)])
def test_percentile_modes_agree_on_large_samples(samplerate: int, expand_limit: int) -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(3, 1, 3000)
    store = Store()
    store.add_events("ds", [Event(START + i, {"v": float(v)}, samplerate) for i, v in enumerate(values)])
    spec = {"time_range": 3600, "calculations": [{"op": op, "column": "v"} for op in PERCENTILES]}
    with mock.patch.object(aggregate, "EXPAND_LIMIT", expand_limit):
        (row,) = run_query(store, "ds", spec, NOW, disable_series=True)["results"]
    expanded = np.repeat(values, samplerate)
    for op, fraction in PERCENTILES.items():
        assert row["data"][f"{op}(v)"] == nearest_rank(expanded, fraction)
        numpy_value = np.percentile(expanded, float(fraction) * 100, method="inverted_cdf")
        assert numpy_value in (
            nearest_rank(expanded, fraction),
            np.sort(expanded)[math.ceil(fraction * len(expanded))],
        )
