"""Turn a query's time fields into the absolute window Honeycomb will actually run.

Honeycomb truncates query windows to 1 minute (≤ 6 h), 5 minutes (≤ 2 days) or 30 minutes
(≤ 7 days). Resolving and snapping here, before the query is created, means the window we
report is exactly the one Honeycomb ran, and identical requests within the same step share one
execution (their specs, and so their fingerprints, are equal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.models.limits import DEFAULT_TIME_RANGE, MAX_WINDOW_SECONDS

if TYPE_CHECKING:
    from honeycomb_evaluator.models.query import QuerySpec

SIX_HOURS = 6 * 3600
TWO_DAYS = 2 * 24 * 3600
# A window may end a little ahead of our clock (the caller's clock runs fast), never a day ahead:
# no event can be there yet, and a far-future end (year 3000000) cannot even be printed as a date.
FUTURE_SLACK = 24 * 3600


def truncation_step(duration: int) -> int:
    """Honeycomb's truncation for a window of `duration` seconds."""
    if duration <= SIX_HOURS:
        return 60
    if duration <= TWO_DAYS:
        return 300
    return 1800


@dataclass(frozen=True)
class Window:
    start_time: int
    end_time: int

    @property
    def duration(self) -> int:
        return self.end_time - self.start_time

    def as_json(self) -> dict[str, object]:
        return {
            "start": _iso(self.start_time),
            "end": _iso(self.end_time),
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def requested_window(spec: QuerySpec, now: int) -> tuple[int, int]:
    """start/end before truncation, following Honeycomb's rules for which fields are set."""
    if spec.start_time is not None and spec.end_time is not None:
        return spec.start_time, spec.end_time
    length = spec.time_range if spec.time_range is not None else DEFAULT_TIME_RANGE
    if spec.start_time is not None:
        return spec.start_time, spec.start_time + length
    end = spec.end_time if spec.end_time is not None else now
    return end - length, end


def resolve_window(spec: QuerySpec, now: float | None = None) -> Window:
    """The snapped absolute window; 422 `invalid_request` when it falls outside the last 7 days."""
    current = int(time.time() if now is None else now)
    start, end = requested_window(spec, current)
    if end > current + FUTURE_SLACK:
        field = "query.end_time" if spec.end_time is not None else "query.start_time"
        raise InvalidRequest(
            f"the window ends {(end - current) / 86400:.0f} days from now; Honeycomb has no events there yet",
            field=field,
        )
    step = truncation_step(end - start)
    snapped_end = end - end % step
    # Relative to the end: derive the start from the snapped end, so every request in the same
    # step gets the same window (and so shares one execution), whatever second it arrived.
    aligned_start = start if spec.start_time is not None else snapped_end - (end - start)
    snapped_start = aligned_start - aligned_start % step
    if snapped_end <= snapped_start:
        # A window shorter than one step would vanish; keep one full step ending at the snapped end.
        snapped_start = snapped_end - step
    oldest = current - MAX_WINDOW_SECONDS
    if snapped_start < oldest:
        if start < oldest:
            raise InvalidRequest(
                "Honeycomb only queries the last 7 days; move start_time forward", field="query"
            )
        # Only the snapping pushed it out (a nearly 7-day window): round the start up instead.
        snapped_start = -(-oldest // step) * step
    return Window(start_time=snapped_start, end_time=snapped_end)
