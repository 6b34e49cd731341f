"""Query windows: time_range/start_time/end_time, truncation, the 7-day rule, granularity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from honeycomb_emulator.engine import QueryError, resolve_window
from honeycomb_emulator.engine.window import resolve_granularity

NOW = datetime(2026, 11, 25, 5, 28, 12, tzinfo=UTC).timestamp()


def ts(hour: int, minute: int, second: int = 0, day: int = 25) -> int:
    return int(datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("time_range", "end"),
    [
        (600, ts(5, 28)),  # <= 6 h: 1 minute
        (6 * 3600, ts(5, 28)),
        (6 * 3600 + 1, ts(5, 25)),  # <= 2 days: 5 minutes
        (2 * 86400, ts(5, 25)),
        (2 * 86400 + 1, ts(5, 0)),  # <= 7 days: 30 minutes
        (7 * 86400, ts(5, 0)),
    ],
)
def test_truncation_follows_the_window_length(time_range: int, end: int) -> None:
    unit = 60 if time_range <= 6 * 3600 else 300 if time_range <= 2 * 86400 else 1800
    start, stop = resolve_window({"time_range": time_range}, NOW)
    assert stop == end
    assert start == int((NOW - time_range) // unit * unit)


def test_default_is_two_hours_before_now() -> None:
    assert resolve_window({}, NOW) == (ts(3, 28), ts(5, 28))


def test_absolute_and_relative_combinations() -> None:
    assert resolve_window({"start_time": ts(4, 0, 30), "end_time": ts(5, 0, 59)}, NOW) == (ts(4, 0), ts(5, 0))
    assert resolve_window({"start_time": ts(4, 0), "time_range": 600}, NOW) == (ts(4, 0), ts(4, 10))
    assert resolve_window({"end_time": ts(5, 0), "time_range": 600}, NOW) == (ts(4, 50), ts(5, 0))
    assert resolve_window({"start_time": ts(4, 0)}, NOW) == (ts(4, 0), ts(6, 0))
    assert resolve_window({"end_time": ts(5, 0)}, NOW) == (ts(3, 0), ts(5, 0))


def test_all_three_time_fields_are_an_error() -> None:
    with pytest.raises(QueryError) as caught:
        resolve_window({"time_range": 60, "start_time": ts(4, 0), "end_time": ts(5, 0)}, NOW)
    assert caught.value.status == 422


def test_a_window_inside_one_truncation_unit_still_has_one_unit() -> None:
    assert resolve_window({"time_range": 10}, ts(5, 28, 5)) == (ts(5, 27), ts(5, 28))
    assert resolve_window({"start_time": ts(5, 0, 10), "end_time": ts(5, 0, 20)}, NOW) == (ts(5, 0), ts(5, 1))


def test_seven_day_rule() -> None:
    with pytest.raises(QueryError) as caught:
        resolve_window({"time_range": 7 * 86400 + 60}, NOW)
    assert caught.value.status == 400
    with pytest.raises(QueryError) as caught:
        resolve_window({"start_time": ts(5, 0, day=17), "time_range": 3600}, NOW)
    assert caught.value.status == 400
    assert "7 days" in caught.value.message
    # Exactly seven days back is fine, and a window reaching into the future is allowed.
    resolve_window({"time_range": 7 * 86400}, NOW)
    resolve_window({"start_time": ts(5, 0), "end_time": ts(7, 0)}, NOW)


def test_auto_granularity_aims_at_about_120_buckets() -> None:
    assert resolve_granularity({}, 0, 7200) == 60
    assert resolve_granularity({}, 0, 600) == 5
    assert resolve_granularity({}, 0, 86400) == 900
    assert resolve_granularity({}, 0, 7 * 86400) == 7200
    assert resolve_granularity({"granularity": 30}, 0, 7200) == 30
