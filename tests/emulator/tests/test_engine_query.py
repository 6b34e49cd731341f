"""run_query: every calculation op, filter op, breakdowns, orders, havings, limits, series, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from honeycomb_emulator.engine import Event, QueryError, Store, run_query

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()
HOUR_AGO = NOW - 3600


def at(minute: float) -> float:
    """A time `minute` minutes into the last hour."""
    return HOUR_AGO + minute * 60


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store()
    store.add_events(
        "ds",
        [
            Event(at(1), {"svc": "a", "d": 10.0, "status": 200, "err": False, "route": "/cart"}),
            Event(at(2), {"svc": "a", "d": 20.0, "status": 200, "err": False, "route": "/cart/items"}, 3),
            Event(at(3), {"svc": "a", "d": 30.0, "status": 500, "err": True, "route": "/pay"}),
            Event(at(11), {"svc": "b", "d": 40.0, "status": 200, "err": False, "route": "/pay"}, 2),
            Event(at(12), {"svc": "b", "d": 50.0, "status": 404, "err": False}),
            Event(at(21), {"svc": None, "d": 60.0, "status": 200, "err": True, "route": "/health"}),
            Event(at(22), {"d": None, "status": 200, "route": "/x"}),
        ],
    )
    store.add_events("counters", [Event(at(m), {"host": "h1", "bytes": 100 * m}) for m in range(0, 60, 5)])
    store.add_events(
        "spans", [Event(at(0.5), {"duration_ms": 5 * 60_000.0}), Event(at(2), {"duration_ms": 1000.0})]
    )
    return store


def query(store: Store, spec: dict[str, Any], dataset: str = "ds", **options: Any) -> dict[str, Any]:
    return run_query(store, dataset, {"time_range": 3600, **spec}, NOW, **options)


def rows(store: Store, spec: dict[str, Any], dataset: str = "ds", **options: Any) -> list[dict[str, Any]]:
    return [r["data"] for r in query(store, spec, dataset, disable_series=True, **options)["results"]]


def one(store: Store, op: str, column: str | None = None, **spec: Any) -> Any:
    calc = {"op": op} if column is None else {"op": op, "column": column}
    found = rows(store, {"calculations": [calc], **spec})
    if not found:
        return 0 if op == "COUNT" else None  # no matching events: no rows at all
    (row,) = found
    return row[next(k for k in row if k.startswith(op))]


# -- calculations ------------------------------------------------------------------------------


def test_count_is_weighted_by_sample_rate(store: Store) -> None:
    assert rows(store, {}) == [{"COUNT": 10}]
    assert one(store, "COUNT") == 10


def test_sum_avg_are_weighted_min_max_count_distinct_are_not(store: Store) -> None:
    weighted = 10 + 20 * 3 + 30 + 40 * 2 + 50 + 60
    assert one(store, "SUM", "d") == pytest.approx(weighted)
    assert one(store, "AVG", "d") == pytest.approx(weighted / 9)  # the event without d does not count
    assert one(store, "MIN", "d") == 10.0
    assert one(store, "MAX", "status") == 500
    assert isinstance(one(store, "MAX", "status"), int)
    assert one(store, "COUNT_DISTINCT", "svc") == 2
    assert one(store, "COUNT_DISTINCT", "status") == 3
    # A group without values: counting and summing nothing is 0, the rest have no value.
    spec = {"breakdowns": ["svc"], "filters": [{"column": "d", "op": "does-not-exist"}]}
    calcs = [{"op": op, "column": "d"} for op in ("SUM", "AVG", "MIN", "P50", "COUNT_DISTINCT", "HEATMAP")]
    assert rows(store, {**spec, "calculations": calcs}) == [
        {
            "svc": None,
            "SUM(d)": 0.0,
            "AVG(d)": None,
            "MIN(d)": None,
            "P50(d)": None,
            "COUNT_DISTINCT(d)": 0,
            "HEATMAP(d)": None,
        }
    ]


def test_percentiles_are_nearest_rank_on_the_weighted_distribution(store: Store) -> None:
    expanded = np.array([10, 20, 20, 20, 30, 40, 40, 50, 60], dtype=float)
    for op, fraction in [("P001", 0.001), ("P10", 0.10), ("P25", 0.25), ("P50", 0.5), ("P75", 0.75)]:
        want = np.percentile(expanded, fraction * 100, method="inverted_cdf")
        assert one(store, op, "d") == want, op
    assert one(store, "P99", "d") == 60.0
    assert one(store, "P50", "status") == 200


def test_percentiles_without_sampling_use_the_same_definition() -> None:
    store = Store()
    values = [float(v) for v in range(1, 11)]
    store.add_events("ds", [Event(at(1), {"v": v}) for v in values])
    for op, fraction in [
        ("P05", 0.05),
        ("P20", 0.2),
        ("P80", 0.8),
        ("P90", 0.9),
        ("P95", 0.95),
        ("P999", 0.999),
    ]:
        assert one(store, op, "v") == np.percentile(values, fraction * 100, method="inverted_cdf"), op


def test_heatmap(store: Store) -> None:
    heatmap = one(store, "HEATMAP", "d")
    assert heatmap["min_value"] == 10.0 and heatmap["max_value"] == 60.0
    assert heatmap["step_size"] == pytest.approx(2.5)
    assert len(heatmap["counts"]) == 20 and sum(heatmap["counts"]) == 9
    assert heatmap["counts"][0] == 1 and heatmap["counts"][-1] == 1 and heatmap["counts"][4] == 3


def test_concurrency_counts_spans_in_flight_per_bucket(store: Store) -> None:
    result = query(store, {"calculations": [{"op": "CONCURRENCY"}], "granularity": 60}, dataset="spans")
    by_time = {p["time"]: p["data"]["CONCURRENCY"] for p in result["series"]}
    # The 5-minute span starting at minute 0.5 covers buckets 0..5; the 1 s span at minute 2 adds one.
    assert by_time["2026-11-25T11:00:00Z"] == 1
    assert by_time["2026-11-25T11:02:00Z"] == 2
    # Buckets where no span starts but one is still in flight are points too.
    assert [by_time[f"2026-11-25T11:0{m}:00Z"] for m in range(6)] == [1, 1, 2, 1, 1, 1]
    assert "2026-11-25T11:06:00Z" not in by_time
    (point,) = [p for p in result["series"] if p["time"] == "2026-11-25T11:04:00Z"]
    assert point["data"] == {"CONCURRENCY": 1}
    assert result["results"] == [{"data": {"CONCURRENCY": 2}}]


def test_rate_ops_on_a_cumulative_counter(store: Store) -> None:
    # bytes grows by 500 every 300 s: a rate of 5/3 per second.
    (row,) = rows(
        store,
        {"calculations": [{"op": op, "column": "bytes"} for op in ("RATE_AVG", "RATE_SUM", "RATE_MAX")]},
        dataset="counters",
    )
    assert row["RATE_AVG(bytes)"] == pytest.approx(5 / 3)
    assert row["RATE_MAX(bytes)"] == pytest.approx(5 / 3)
    assert row["RATE_SUM(bytes)"] == pytest.approx(11 * 5 / 3)


def test_no_matching_events_means_no_rows(store: Store) -> None:
    assert rows(store, {"filters": [{"column": "svc", "op": "=", "value": "zzz"}]}) == []
    assert query(store, {"filters": [{"column": "svc", "op": "=", "value": "zzz"}]})["series"] == []


def test_duplicate_calculations_appear_once(store: Store) -> None:
    assert rows(store, {"calculations": [{"op": "COUNT"}, {"op": "COUNT"}]}) == [{"COUNT": 10}]


# -- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "op", "value", "count"),
    [
        ("svc", "=", "a", 5),
        ("status", "=", 200, 8),
        ("status", "=", "200", 8),  # coerced to the column's type
        ("status", "=", "two hundred", 0),
        ("err", "=", True, 2),
        ("err", "=", "false", 7),
        ("err", "=", 1, 2),
        ("d", "<", float("inf"), 9),
        ("d", "=", float("nan"), 0),
        ("status", "<", 2**70, 10),
        ("svc", "!=", "a", 5),  # includes events without svc
        ("status", ">", 200, 2),
        ("status", ">=", 404, 2),
        ("d", "<", 30, 4),
        ("d", "<=", 30.0, 5),
        ("route", "starts-with", "/cart", 4),
        ("route", "does-not-start-with", "/cart", 6),
        ("route", "ends-with", "ay", 3),
        ("route", "does-not-end-with", "ay", 7),
        ("route", "contains", "art", 4),
        ("route", "does-not-contain", "art", 6),
        ("svc", "exists", None, 8),
        ("svc", "does-not-exist", None, 2),
        ("status", "in", [404, "500"], 2),
        ("status", "not-in", [200], 2),
        ("nonexistent", "does-not-exist", None, 10),
        ("nonexistent", "=", "x", 0),
    ],
)
def test_filter_ops(store: Store, column: str, op: str, value: Any, count: int) -> None:
    filt = {"column": column, "op": op} if value is None else {"column": column, "op": op, "value": value}
    assert one(store, "COUNT", filters=[filt]) == count


def test_odd_numbers_in_havings_and_formulas(store: Store) -> None:
    having = [{"calculate_op": "COUNT", "op": "<", "value": float("inf")}]
    assert rows(store, {"havings": having}) == [{"COUNT": 10}]
    spec = {
        "calculated_fields": [{"name": "f", "expression": "SUM($status, 99999999999999999999, 1)"}],
        "calculations": [{"op": "MAX", "column": "f"}],
    }
    assert rows(store, spec)[0]["MAX(f)"] > 1e19  # over int64: a double
    # Out of a double's range, as Go's strconv.ParseFloat says (ErrRange): a 422, as Honeycomb.
    for literal in ("1e999", "9" * 5000):
        spec["calculated_fields"] = [{"name": "f", "expression": f"SUM($status, {literal})"}]
        with pytest.raises(QueryError, match="out of range"):
            rows(store, spec)


def test_filter_combination(store: Store) -> None:
    filters = [{"column": "svc", "op": "=", "value": "b"}, {"column": "err", "op": "=", "value": True}]
    assert one(store, "COUNT", filters=filters) == 0
    assert one(store, "COUNT", filters=filters, filter_combination="OR") == 5


# -- breakdowns, orders, havings, limits ------------------------------------------------------


def test_breakdowns_group_missing_values_as_null(store: Store) -> None:
    result = rows(store, {"breakdowns": ["svc"]})
    assert result == [{"svc": "a", "COUNT": 5}, {"svc": "b", "COUNT": 3}, {"svc": None, "COUNT": 2}]


def test_several_breakdowns(store: Store) -> None:
    result = rows(store, {"breakdowns": ["svc", "err"], "orders": [{"column": "svc"}, {"column": "err"}]})
    assert [(r["svc"], r["err"], r["COUNT"]) for r in result] == [
        ("a", False, 4),
        ("a", True, 1),
        ("b", False, 3),
        (None, True, 1),
        (None, None, 1),  # nulls sort last
    ]


def test_orders(store: Store) -> None:
    spec: dict[str, Any] = {"breakdowns": ["svc"], "calculations": [{"op": "AVG", "column": "d"}]}
    assert [r["svc"] for r in rows(store, spec)] == [None, "b", "a"]  # default: first calc descending
    ascending = {**spec, "orders": [{"op": "AVG", "column": "d", "order": "ascending"}]}
    assert [r["svc"] for r in rows(store, ascending)] == ["a", "b", None]
    by_name = {**spec, "orders": [{"column": "svc", "order": "descending"}]}
    assert [r["svc"] for r in rows(store, by_name)] == ["b", "a", None]  # nulls last


def test_havings(store: Store) -> None:
    spec: dict[str, Any] = {
        "breakdowns": ["svc"],
        "calculations": [{"op": "COUNT"}, {"op": "MAX", "column": "d"}],
    }
    assert [
        r["svc"] for r in rows(store, {**spec, "havings": [{"calculate_op": "COUNT", "op": ">", "value": 2}]})
    ] == [
        "a",
        "b",
    ]
    having = [{"calculate_op": "MAX", "column": "d", "op": "<=", "value": 50}]
    assert [r["svc"] for r in rows(store, {**spec, "havings": having})] == ["a", "b"]
    for op, want in [("=", ["b"]), ("!=", ["a", None]), (">=", ["a", "b"]), ("<", [None])]:
        having = [{"calculate_op": "COUNT", "op": op, "value": 3}]
        assert [r["svc"] for r in rows(store, {**spec, "havings": having})] == want, op


def test_limit_and_other_and_total(store: Store) -> None:
    spec = {"breakdowns": ["svc"], "limit": 1}
    result = query(store, spec, total_by_aggregate=True, other_by_aggregate=True)
    assert [r["data"] for r in result["results"]] == [{"svc": "a", "COUNT": 5}]
    assert result["other_by_aggregate"] == {"data": {"COUNT": 5}}
    assert result["total_by_aggregate"] == {"data": {"COUNT": 10}}
    assert {p["data"]["svc"] for p in result["series"]} == {"a"}
    assert sum(p["data"]["COUNT"] for p in result["total_by_aggregate_series"]) == 10


def test_totals_ignore_havings(store: Store) -> None:
    spec = {"breakdowns": ["svc"], "havings": [{"calculate_op": "COUNT", "op": ">", "value": 100}]}
    result = query(store, spec, total_by_aggregate=True)
    assert result["results"] == [] and result["total_by_aggregate"] == {"data": {"COUNT": 10}}


def test_result_limit_only_counts_with_disable_series() -> None:
    store = Store()
    store.add_events("ds", [Event(at(1), {"k": i}) for i in range(1200)])
    assert len(rows(store, {"breakdowns": ["k"]})) == 100  # the spec default
    assert len(query(store, {"breakdowns": ["k"]}, limit=5000)["results"]) == 100
    assert len(rows(store, {"breakdowns": ["k"]}, limit=5000)) == 1200
    with pytest.raises(QueryError) as caught:
        rows(store, {"breakdowns": ["k"]}, limit=10001)
    assert caught.value.field == "limit"


# -- series ------------------------------------------------------------------------------------


def test_series_buckets_by_granularity(store: Store) -> None:
    result = query(store, {"breakdowns": ["svc"], "granularity": 600})
    points = [(p["time"], p["data"]["svc"], p["data"]["COUNT"]) for p in result["series"]]
    assert points == [
        ("2026-11-25T11:00:00Z", "a", 5),
        ("2026-11-25T11:10:00Z", "b", 3),
        ("2026-11-25T11:20:00Z", None, 2),
    ]


def test_series_with_auto_granularity_and_weighted_percentiles(store: Store) -> None:
    result = query(store, {"calculations": [{"op": "P50", "column": "d"}]})
    times = [p["time"] for p in result["series"]]
    assert times == sorted(times) and times[0] == "2026-11-25T11:01:00Z"  # 60 s buckets for one hour
    assert result["series"][1]["data"] == {"P50(d)": 20.0}


# -- calculated fields -------------------------------------------------------------------------


def test_calculated_fields_in_calculations_filters_and_breakdowns(store: Store) -> None:
    spec = {
        "calculated_fields": [
            {"name": "is_error", "expression": "IF($err, 1, 0)"},
            {"name": "slow", "expression": 'IF(GTE($d, 40), "slow", "fast")'},
            {"name": "server_error", "expression": "GTE($status, 500)"},
        ],
        "calculations": [{"op": "AVG", "column": "is_error"}, {"op": "COUNT"}],
        "breakdowns": ["slow"],
        "filters": [{"column": "server_error", "op": "=", "value": False}],
        "orders": [{"column": "slow"}],
    }
    assert rows(store, spec) == [
        {"slow": "fast", "AVG(is_error)": 0.0, "COUNT": 5},
        {"slow": "slow", "AVG(is_error)": pytest.approx(1 / 4), "COUNT": 4},
    ]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("SUM($d, 1)", 11.0),
        ("SUB($d, 1)", 9.0),
        ("MUL($d, 2)", 20.0),
        ("DIV($d, 4)", 2.5),
        ("DIV($d, 0)", None),
        ("MOD($status, 7)", 4),
        ("MIN($d, 3, 4)", 3.0),
        ("MAX($d, 30)", 30.0),
        ('IF(EQUALS($svc, "a"), 1, 2)', 1),
        ("IF(NOT(EXISTS($missing)), 1, 0)", 1),
        ("IF(AND($status, OR($err, true)), 1, 0)", 1),
        ("COALESCE($missing, $d)", 10.0),
        ("IF(LT($d, 11), 1, 0)", 1),
        ("IF(LTE($d, 9), 1, 0)", 0),
        ("IF(GT($d, 9), 1, 0)", 1),
        ('IF(CONTAINS($route, "car"), 1, 0)', 1),
        ('IF(STARTS_WITH($route, "/c"), 1, 0)', 1),
        ('IF(ENDS_WITH($route, "rt"), 1, 0)', 1),
        ('LENGTH(CONCAT($svc, "-", $status))', 5),
        ('IF(EQUALS(TO_UPPER($svc), "A"), 1, 0)', 1),
        ('IF(EQUALS(TO_LOWER("A"), $svc), 1, 0)', 1),
        ("IF(IN($status, 404, 200), 1, 0)", 1),
        ("INT(DIV($d, 3))", 3),
        ("FLOAT($status)", 200.0),
        ('IF(REG_MATCH($route, "^/ca.t$"), 1, 0)', 1),
        ('LENGTH(REG_VALUE($route, "^/(c\\\\w+)"))', 4),
        ("LOG10(100)", 2.0),
        ('SWITCH($svc, "a", 7, "b", 8, 9)', 7),
        ("IF(false, 1, true, 2, 3)", 2),
        ("IF(BOOL(STRING($status)), 1, 0)", 1),
        ('IF(EQUALS($"svc", "a"), 5, 6)', 5),
        ("SUB(EVENT_TIMESTAMP(), EVENT_TIMESTAMP())", 0.0),
    ],
)
def test_calculated_field_functions(store: Store, expression: str, expected: Any) -> None:
    spec = {
        "calculated_fields": [{"name": "f", "expression": expression}],
        "calculations": [{"op": "MAX", "column": "f"}],
        "filters": [{"column": "route", "op": "=", "value": "/cart"}],
    }
    (row,) = rows(store, spec)
    assert row["MAX(f)"] == (pytest.approx(expected) if expected is not None else None)


def test_calculated_fields_can_use_other_calculated_fields(store: Store) -> None:
    spec = {
        "calculated_fields": [
            {"name": "double", "expression": "MUL($d, 2)"},
            {"name": "quad", "expression": "MUL($double, 2)"},
            {"name": "loop", "expression": "SUM($loop, 1)"},
        ],
        "calculations": [{"op": "MAX", "column": "quad"}, {"op": "MAX", "column": "loop"}],
    }
    assert rows(store, spec) == [{"MAX(quad)": 240.0, "MAX(loop)": None}]


def test_calculated_field_strings_are_escaped(store: Store) -> None:
    spec = {
        "calculated_fields": [{"name": "f", "expression": 'CONCAT("it\'s \\"quoted\\"", $svc)'}],
        "breakdowns": ["f"],
        "filters": [{"column": "svc", "op": "=", "value": "b"}],
    }
    assert rows(store, spec) == [{"f": 'it\'s "quoted"b', "COUNT": 3}]


# -- datasets, relational fields ---------------------------------------------------------------


def test_all_spans_every_dataset(store: Store) -> None:
    (row,) = rows(store, {}, dataset="__all__")
    assert row == {"COUNT": 10 + 12 + 2}


@pytest.fixture(scope="module")
def traces() -> Store:
    def span(trace: str | None, span_id: str, parent: str | None, service: str, status: int) -> Event:
        data = {"trace.trace_id": trace, "trace.span_id": span_id, "trace.parent_id": parent}
        return Event(at(5), {**data, "service.name": service, "status": status})

    store = Store()
    store.add_events(
        "traces",
        [
            span("t1", "r1", None, "front", 200),
            span("t1", "c1", "r1", "api", 500),
            span("t1", "g1", "c1", "db", 200),
            span("t2", "r2", None, "front", 200),
            span("t2", "c2", "r2", "api", 200),
            span(None, "lone", None, "batch", 200),
        ],
    )
    return store


def test_root_and_parent_fields_read_other_spans(traces: Store) -> None:
    spec = {"breakdowns": ["service.name", "root.service.name", "parent.service.name"]}
    got = {
        (r["service.name"], r["root.service.name"], r["parent.service.name"], r["COUNT"])
        for r in rows(traces, spec, "traces")
    }
    assert got == {
        ("front", "front", None, 2),
        ("api", "front", "front", 2),
        ("db", "front", "api", 1),
        ("batch", None, None, 1),  # no trace: no root
    }
    spec = {"calculations": [{"op": "MAX", "column": "parent.status"}], "breakdowns": ["service.name"]}
    assert {r["service.name"]: r["MAX(parent.status)"] for r in rows(traces, spec, "traces")}["db"] == 500
    assert rows(traces, {"filters": [{"column": "root.missing", "op": "exists"}]}, "traces") == []


@pytest.mark.parametrize(
    ("column", "services"),
    [
        ("any.status", ["api", "db", "front"]),  # every span of trace t1
        ("any2.status", ["api", "db", "front"]),
        ("none.status", ["api", "batch", "front"]),  # t2 and the span without a trace
        ("child.status", ["front"]),  # r1, whose child c1 failed
        ("root.status", []),
        ("parent.status", ["db"]),
    ],
)
def test_relational_filters(traces: Store, column: str, services: list[str]) -> None:
    spec = {"filters": [{"column": column, "op": "=", "value": 500}], "breakdowns": ["service.name"]}
    assert sorted(r["service.name"] for r in rows(traces, spec, "traces")) == services


def test_existential_fields_only_in_filters(traces: Store) -> None:
    with pytest.raises(QueryError) as caught:
        rows(traces, {"breakdowns": ["any.service.name"]}, "traces")
    assert caught.value.status == 422 and caught.value.field == "any.service.name"
    nested = {
        "calculated_fields": [{"name": "root_status", "expression": "$root.status"}],
        "filters": [{"column": "any.root_status", "op": "=", "value": 500}],
    }
    with pytest.raises(QueryError):
        rows(traces, nested, "traces")


def test_relational_fields_without_trace_columns_are_null(store: Store) -> None:
    assert rows(store, {"breakdowns": ["root.svc"]}) == [{"root.svc": None, "COUNT": 10}]
    assert rows(store, {"filters": [{"column": "any.svc", "op": "=", "value": "a"}]}) == []
    assert one(store, "COUNT", filters=[{"column": "none.svc", "op": "=", "value": "a"}]) == 10


def test_run_query_validates_the_spec(store: Store) -> None:
    with pytest.raises(QueryError) as caught:
        rows(store, {"calculations": [{"op": "P98", "column": "d"}]})
    assert caught.value.status == 422
    with pytest.raises(QueryError) as caught:
        run_query(store, "ds", {"start_time": int(NOW - 9 * 86400), "time_range": 600}, NOW)
    assert caught.value.status == 400
