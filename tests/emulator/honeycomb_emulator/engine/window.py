"""Query time windows: time_range/start_time/end_time, truncation, the 7-day rule, granularity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import invalid, unparseable
from .ops import DEFAULT_TIME_RANGE, MAX_WINDOW_SECONDS

# Auto granularity picks the first of these that gives at most ~120 buckets (2 h -> 60 s).
_AUTO_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_AUTO_TARGET_BUCKETS = 120


def duration_of(spec: Mapping[str, Any]) -> int:
    """The window length the spec asks for, in seconds (before truncation)."""
    start, end = spec.get("start_time"), spec.get("end_time")
    if start is not None and end is not None:
        return int(end) - int(start)
    return int(spec.get("time_range") or DEFAULT_TIME_RANGE)


def truncation_unit(duration: int) -> int:
    """Honeycomb snaps both ends down to 1 min (<= 6 h), 5 min (<= 2 d) or 30 min (<= 7 d)."""
    if duration <= 6 * 3600:
        return 60
    if duration <= 2 * 86400:
        return 300
    return 1800


def check_time_fields(spec: Mapping[str, Any]) -> None:
    """Static rules on time fields (no clock needed); raises QueryError."""
    given = [name for name in ("time_range", "start_time", "end_time") if spec.get(name) is not None]
    if len(given) == 3:
        raise invalid("cannot specify time_range, start_time and end_time together", "time_range")
    start, end = spec.get("start_time"), spec.get("end_time")
    if start is not None and end is not None and int(start) > int(end):
        raise invalid("start_time must be before end_time", "start_time")
    if duration_of(spec) > MAX_WINDOW_SECONDS:
        raise unparseable("query time range is longer than the maximum of 7 days", "time_range")


def check_granularity(spec: Mapping[str, Any]) -> None:
    """Granularity must lie in [T/1000, T] (the 2025-12 spec's bounds); 0 or unset means auto."""
    granularity = spec.get("granularity")
    if not granularity:
        return
    duration = max(1, duration_of(spec))
    if granularity > duration:
        raise invalid(
            f"granularity {granularity} is larger than the query time range ({duration} s)", "granularity"
        )
    smallest = math.ceil(duration / 1000)
    if granularity < smallest:
        raise invalid(
            f"granularity {granularity} is too small (at most 1000 buckets): minimum is {smallest}",
            "granularity",
        )


def resolve_window(spec: Mapping[str, Any], now: float) -> tuple[int, int]:
    """[start, end) in unix seconds after truncation; QueryError(400) outside the last 7 days."""
    check_time_fields(spec)
    time_range = int(spec.get("time_range") or DEFAULT_TIME_RANGE)
    start_time, end_time = spec.get("start_time"), spec.get("end_time")
    if start_time is not None and end_time is not None:
        start, end = float(start_time), float(end_time)
    elif start_time is not None:
        start, end = float(start_time), float(start_time) + time_range
    elif end_time is not None:
        start, end = float(end_time) - time_range, float(end_time)
    else:
        start, end = now - time_range, now
    # One second of slack: a relative 7-day query computed a moment before `now` is still valid.
    if start < now - MAX_WINDOW_SECONDS - 1:
        raise unparseable("query results can only be created for events within the past 7 days", "start_time")
    unit = truncation_unit(int(end - start))
    start_s = int(start // unit * unit)
    end_s = int(end // unit * unit)
    if end_s <= start_s:
        end_s = start_s + unit
    return start_s, end_s


def resolve_granularity(spec: Mapping[str, Any], start: int, end: int) -> int:
    """The series bucket width: the spec's granularity, or an automatic one (~120 buckets)."""
    granularity = spec.get("granularity")
    if granularity:
        return int(granularity)
    duration = max(1, end - start)
    for step in _AUTO_STEPS:
        if duration / step <= _AUTO_TARGET_BUCKETS:
            return step
    return _AUTO_STEPS[-1]
