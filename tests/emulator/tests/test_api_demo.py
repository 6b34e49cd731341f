"""The --demo data generator: deterministic, on target over short windows, never the no-data hash."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from honeycomb_emulator import demo

NOW = 1_795_539_000.0  # 2026-11-25T16:50:00Z


def test_a_minute_is_a_pure_function_of_version_and_minute() -> None:
    variant = demo.VARIANTS[1]
    first = demo.minute_events(variant, 29_925_650)
    again = demo.minute_events(variant, 29_925_650)
    assert first == again and len(first) == demo.events_in_minute(29_925_650)
    assert sum(demo.events_in_minute(m) for m in range(100, 105)) == 5 * demo.EVENTS_PER_MINUTE
    assert first != demo.minute_events(variant, 29_925_651)
    assert all(29_925_650 * 60 <= e.time < 29_925_651 * 60 for e in first)


def test_every_ten_minute_window_is_close_to_the_documented_numbers() -> None:
    events = demo.events_between(NOW - 3 * 3600, NOW)
    assert {e.data["rollouts_pod_template_hash"] for e in events} == {
        v.pod_template_hash for v in demo.VARIANTS
    }
    # The slice-regressed canary's whole numbers move with its slice (the test below).
    for variant in [v for v in demo.VARIANTS if not v.slice_regression]:
        mine = [e for e in events if e.data["service.version"] == variant.version]
        for end in np.arange(NOW - 2 * 3600, NOW, 600):
            window = [e for e in mine if end - 600 <= e.time < end]
            errors = sum(e.data["error"] for e in window)
            # the carry keeps errors within one event of rate x count
            assert abs(errors - variant.error_rate * len(window)) <= 1.5
            p99 = float(np.percentile([e.data["duration_ms"] for e in window], 99, method="inverted_cdf"))
            assert math.isclose(p99, variant.p99_ms, rel_tol=0.12)


def test_columns_and_types_match_the_design() -> None:
    (event, *_) = demo.minute_events(demo.VARIANTS[0], 29_925_650)
    assert {k: type(v).__name__ for k, v in event.data.items()} == {
        "name": "str",
        "service.name": "str",
        "service.version": "str",
        "rollouts_pod_template_hash": "str",
        "duration_ms": "float",
        "http.response.status_code": "int",
        "error": "bool",
        "status_code": "int",
        "trace.trace_id": "str",
        "trace.span_id": "str",
        "trace.parent_id": "str",
        "http.route": "str",
        "user.plan": "str",
        "exception.type": "NoneType",
    }


def test_the_slice_regressed_canary_regresses_in_its_slice_only_and_the_new_type_is_new() -> None:
    events = demo.events_between(NOW - 3600, NOW)
    by_version: dict[str, list[demo.Event]] = {}
    for e in events:
        by_version.setdefault(e.data["service.version"], []).append(e)

    def in_slice(e: demo.Event) -> bool:
        return all(e.data[k] == v for k, v in demo.REGRESSED_SLICE.items())

    stable, regressed = by_version["v1.4.2"], by_version["v1.5.2"]
    share = sum(map(in_slice, regressed)) / len(regressed)
    assert 0.007 < share < 0.013, share  # about 1 % of its traffic
    inside = [e for e in regressed if in_slice(e)]
    outside = [e for e in regressed if not in_slice(e)]
    assert sum(e.data["error"] for e in inside) / len(inside) == pytest.approx(0.6, abs=0.1)
    assert sum(e.data["error"] for e in outside) / len(outside) == pytest.approx(0.002, abs=0.0015)
    stable_inside = [e for e in stable if in_slice(e)]
    ratio = np.mean([e.data["duration_ms"] for e in inside]) / np.mean(
        [e.data["duration_ms"] for e in stable_inside]
    )
    assert 2.2 < ratio < 4
    types = {v: {e.data["exception.type"] for e in es if e.data["error"]} for v, es in by_version.items()}
    assert types["v1.5.3"] - types["v1.4.2"] == {"NullPointerException"}
    assert all("NullPointerException" not in t for v, t in types.items() if v != "v1.5.3")
    assert all((e.data["exception.type"] is None) == (not e.data["error"]) for e in events)


def test_catch_up_brings_the_data_to_this_moment() -> None:
    # The ticker appends every 5 s; a query created just after a minute boundary would miss the
    # last seconds of the minute before (the demo's 8 % read 7.99 %) without the catch-up the
    # query-result route runs first.
    from honeycomb_emulator.engine import Store

    store = Store()
    feeder = demo.DemoFeeder(store, None)
    lagging = time.time() - 4.0
    feeder.feed(now=lagging)
    before = store.event_count(demo.DATASET)
    called_at = time.time()
    feeder.catch_up()
    assert feeder.generated_until >= called_at
    # five versions at 10 spans a second: about 200 events in those 4 s
    assert store.event_count(demo.DATASET) - before > 100


def test_a_query_result_runs_after_the_catch_up() -> None:
    import anyio
    import httpx
    from honeycomb_emulator.app import build_app
    from honeycomb_emulator.auth import parse_key_spec
    from honeycomb_emulator.config import Settings
    from honeycomb_emulator.engine import Store

    app = build_app(Settings(keys=(parse_key_spec("k"),), result_delay_ms=0), Store())
    caught_up: list[float] = []
    app.state.emulator.catch_up = lambda: caught_up.append(time.time())

    async def one_result() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        headers = {"X-Honeycomb-Team": "k"}
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator", headers=headers) as hc:
            (await hc.post("/1/events/checkout", json={"n": 1})).raise_for_status()
            query = await hc.post("/1/queries/checkout", json={"calculations": [{"op": "COUNT"}]})
            return await hc.post("/1/query_results/checkout", json={"query_id": query.json()["id"]})

    result = anyio.run(one_result)
    assert result.status_code == 201, result.text
    assert len(caught_up) == 1
