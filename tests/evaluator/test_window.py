"""Relative windows become absolute ones snapped exactly as Honeycomb truncates them."""

from __future__ import annotations

import pytest
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.models.query import QuerySpec
from honeycomb_evaluator.window import requested_window, resolve_window, truncation_step
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = 1_795_539_012  # 2026-11-24T16:50:12Z


def window_of(**fields: int) -> tuple[int, int]:
    w = resolve_window(QuerySpec.model_validate(fields), now=NOW)
    return w.start_time, w.end_time


def test_truncation_steps_follow_honeycomb() -> None:
    assert truncation_step(600) == 60
    assert truncation_step(6 * 3600) == 60
    assert truncation_step(6 * 3600 + 1) == 300
    assert truncation_step(2 * 86400) == 300
    assert truncation_step(2 * 86400 + 1) == 1800


def test_relative_window_ends_at_the_last_whole_minute() -> None:
    assert window_of(time_range=600) == (NOW - 12 - 600, NOW - 12)
    w = resolve_window(QuerySpec(time_range=600), now=NOW)
    assert w.as_json()["end"] == "2026-11-24T16:50:00Z"


def test_each_combination_of_time_fields() -> None:
    assert requested_window(QuerySpec(start_time=1000, end_time=5000), NOW) == (1000, 5000)
    assert requested_window(QuerySpec(start_time=1000, time_range=60), NOW) == (1000, 1060)
    assert requested_window(QuerySpec(end_time=5000, time_range=60), NOW) == (4940, 5000)
    assert requested_window(QuerySpec(end_time=5000), NOW) == (5000 - 7200, 5000)
    assert requested_window(QuerySpec(), NOW) == (NOW - 7200, NOW)


def test_a_window_shorter_than_one_step_keeps_one_step() -> None:
    start, end = window_of(time_range=10)
    assert end - start == 60 and end % 60 == 0


def test_windows_older_than_seven_days_are_rejected_before_any_call() -> None:
    with pytest.raises(EvaluatorError) as e:
        window_of(start_time=NOW - 8 * 86400, time_range=3600)
    assert e.value.code == "invalid_request"
    start, _ = window_of(time_range=7 * 86400)  # snapping alone must not push it out
    assert start >= NOW - 7 * 86400 and start % 1800 == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7 * 86400), st.integers(0, 10**9))
def test_snapped_windows_are_aligned_and_never_outside_the_request(time_range: int, jitter: int) -> None:
    now = NOW + jitter
    w = resolve_window(QuerySpec(time_range=time_range), now=now)
    step = truncation_step(now - (now - time_range))
    assert w.start_time % step == 0 and w.end_time % step == 0
    assert w.end_time <= now < w.end_time + step
    assert w.duration > 0
    assert w.start_time >= now - 7 * 86400
    # Identical requests within the same step resolve to the same window (one shared execution).
    assert resolve_window(QuerySpec(time_range=time_range), now=w.end_time + step - 1) == w


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"end_time": 34_186_474_000_844}, "query.end_time"),  # found by the HTTP fuzzer: a 500 before
        ({"start_time": NOW + 2 * 86400, "time_range": 600}, "query.start_time"),
    ],
)
def test_a_window_in_the_future_is_refused_naming_its_field(fields: dict[str, int], field: str) -> None:
    with pytest.raises(EvaluatorError) as caught:
        resolve_window(QuerySpec.model_validate(fields), now=NOW)
    assert caught.value.field == field and "days from now" in caught.value.message


def test_a_window_ending_slightly_ahead_of_our_clock_is_kept() -> None:
    assert window_of(end_time=NOW + 30, time_range=600)[1] == NOW + 30 - (NOW + 30) % 60
