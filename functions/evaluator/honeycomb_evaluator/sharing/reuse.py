"""Which completed results of one execution a request accepts: same window, same answer.

A relative window is resolved to an absolute one snapped to Honeycomb's truncation step
(window.py), so every request in the same step asks for the same window. While that window is
current (its end is less than one step ago, so a relative request would still resolve to it)
a result of it that ran after the window closed is reused by everyone: the first check of a
step runs the query, the rest share its answer, however they are spread over the step.

Late events: an event Honeycomb receives after that run, with a timestamp inside the window,
is not in the shared answer; it is in the next window's, which overlaps this one by all but one
step. `max_age_seconds` widens reuse: a result completed at most that long before the request
is accepted as well, current window or not (for absolute windows asked again later). A result
completed after the request arrived was in flight for it and is always accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.window import truncation_step


@dataclass(frozen=True)
class Reuse:
    arrived: float  # wall-clock instant the request arrived
    max_age_seconds: float
    window_end: float | None = None  # None: the spec has no absolute window
    current_until: float = 0.0  # the window's end plus one step

    def accepts(self, completed_at: float) -> bool:
        if completed_at >= self.arrived - self.max_age_seconds:
            return True
        return (
            self.window_end is not None
            and completed_at >= self.window_end
            and self.arrived < self.current_until
        )


def reuse_for(spec: Mapping[str, Any], max_age_seconds: float, now: float) -> Reuse:
    start, end = spec.get("start_time"), spec.get("end_time")
    if not isinstance(start, int) or not isinstance(end, int) or end <= start:
        return Reuse(now, max_age_seconds)
    return Reuse(now, max_age_seconds, float(end), float(end + truncation_step(end - start)))
