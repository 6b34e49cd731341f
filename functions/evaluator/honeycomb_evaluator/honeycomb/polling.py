"""When to poll a running query result.

Cold (nothing known about the query): poll at fixed instants after creation, each gap a fixed
fraction of the time before it, within [initial, maximum]. Detection latency stays a bounded
fraction of the query's own run time and the number of GETs grows only logarithmically (a 2 s
result takes 8 GETs).

Warm: canary analysis runs the same query every interval, only the window moves, so the run time
of the last executions of the same *shape* (key, dataset, spec without its window) predicts the
next one. A new rollout changes the shape (its filters name the new pod-template hash); then the
*family* (the shape without filter values: the same check for an earlier rollout) predicts it.
The first poll lands just before the expected completion and the next ones follow every
`dense_step` until a little after it, so completion is seen within ~`dense_step` using a handful
of GETs. A run that takes much longer falls back to the cold schedule.

All bookkeeping happens in `PollTracker`, fed by the client's own calls, so any poll loop that
asks `HoneycombClient.poll_delay()` benefits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.digest import digest

WINDOW_FIELDS = ("start_time", "end_time", "time_range")


@dataclass(frozen=True)
class PollSchedule:
    initial: float = 0.1
    maximum: float = 1.0
    fraction: float = 0.5
    dense_step: float = 0.1
    # How far past the expected completion dense polling continues before backing off again.
    dense_margin: float = 0.5

    def delay(self, waited: float, expected: float | None = None) -> float:
        if expected is not None:
            dense_start = max(self.initial, expected - self.dense_step)
            if waited < dense_start - 0.005:
                return dense_start - waited
            if waited <= expected + self.dense_margin:
                return self.dense_step
        return self._next_instant(waited) - waited

    def _next_instant(self, waited: float) -> float:
        # Poll at fixed instants after creation (0.1, 0.2, 0.3, 0.45, 0.675, ... s), each gap a
        # fraction of the time before it: sleeping "a fraction of the time waited" instead would
        # let every request's latency push all later polls back.
        instant = self.initial
        while instant <= waited + 0.005:
            instant += min(self.maximum, max(self.initial, instant * self.fraction))
        return instant


@dataclass(frozen=True)
class QueryShape:
    """Which earlier runs predict how long a query will take."""

    exact: str  # the query without its window: every run of one canary check
    # Also without filter values: the same check for another rollout. A canary's query names
    # its pod-template hash, so each rollout brings a new exact shape, but queries that differ
    # only in filter values read the same columns over the same span and take about as long.
    family: str


def query_shape(key_id: str, dataset: str, spec: Mapping[str, Any]) -> QueryShape:
    stable = {k: v for k, v in spec.items() if k not in WINDOW_FIELDS}
    family = dict(stable)
    if isinstance(stable.get("filters"), list):
        family["filters"] = [
            {k: v for k, v in f.items() if k != "value"} if isinstance(f, dict) else f
            for f in stable["filters"]
        ]
    return QueryShape(digest("exact", key_id, dataset, stable), digest("family", key_id, dataset, family))


@dataclass
class _Running:
    shape: QueryShape | None
    created_at: float  # time.monotonic() when the create answer arrived
    still_running_at: float = 0.0  # seconds after creation of the last poll that saw complete: false


class PollTracker:
    """Which shape each query/result belongs to, and how long each shape took recently."""

    # Weight of the newest observation: recent runs matter most, one outlier does not dominate.
    SMOOTHING = 0.5

    def __init__(self, max_entries: int = 4096) -> None:
        self._shapes: BoundedCache[QueryShape] = BoundedCache(max_entries)  # query_id → shape
        self._running: BoundedCache[_Running] = BoundedCache(max_entries)  # result_id → run
        self._durations: BoundedCache[float] = BoundedCache(max_entries)  # shape digest → seconds

    def query_created(self, query_id: str, shape: QueryShape) -> None:
        self._shapes.put(query_id, shape)

    def result_created(self, query_id: str, result_id: str) -> None:
        self._running.put(result_id, _Running(self._shapes.value(query_id), time.monotonic()))

    def expected(self, result_id: str) -> float | None:
        """The run time of this exact shape recently, else of its family, else None (cold)."""
        running = self._running.value(result_id)
        if running is None or running.shape is None:
            return None
        for shape_digest in (running.shape.exact, running.shape.family):
            expected = self._durations.value(shape_digest)
            if expected is not None:
                return expected
        return None

    def waited(self, result_id: str) -> float | None:
        running = self._running.value(result_id)
        return None if running is None else time.monotonic() - running.created_at

    def polled(self, result_id: str, complete: bool) -> None:
        running = self._running.value(result_id)
        if running is None:
            return
        waited = time.monotonic() - running.created_at
        if not complete:
            running.still_running_at = waited
            return
        self._running.pop(result_id)
        if running.shape is None:
            return
        # The run ended between the last "still running" poll and this one; take the middle.
        observed = (running.still_running_at + waited) / 2
        for shape_digest in (running.shape.exact, running.shape.family):
            previous = self._durations.value(shape_digest)
            estimate = observed if previous is None else previous + self.SMOOTHING * (observed - previous)
            self._durations.put(shape_digest, estimate)
