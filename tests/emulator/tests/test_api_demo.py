"""The --demo data generator: deterministic, on target over short windows, never the no-data hash."""

from __future__ import annotations

import math

import numpy as np
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
    for variant in demo.VARIANTS:
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
    }
