"""Query-result creation budget per key: N per rolling minute (1 per minute for relational fields).

The window is 60 s unless `--rate-limit-window-seconds` shortens it (time-compressed simulations).

Honeycomb documents 10 creations per minute per key and 1 per minute when a query uses
relational fields (``root.``, ``parent.``...). Only creations that succeed use the budget; a
429 answers without ``Retry-After`` (Query Data is the documented exception) but with the
draft-07 ``RateLimit``/``RateLimitPolicy`` headers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    window_seconds: float = WINDOW_SECONDS

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit": f"limit={self.limit}, remaining={self.remaining}, reset={self.reset_seconds}",
            "RateLimitPolicy": f"{self.limit};w={max(1, round(self.window_seconds))}",
        }


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        relational_per_minute: int = 1,
        clock: Callable[[], float] = time.monotonic,
        *,
        window_seconds: float = WINDOW_SECONDS,
    ):
        self.window_seconds = window_seconds
        self.per_minute = per_minute
        self.relational_per_minute = relational_per_minute
        self._clock = clock
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def limit_for(self, relational: bool) -> int:
        return self.relational_per_minute if relational else self.per_minute

    def _window(self, key: str, bucket: str, now: float) -> deque[float]:
        window = self._windows.setdefault((key, bucket), deque())
        while window and window[0] <= now - self.window_seconds:
            window.popleft()
        return window

    def acquire(self, key: str, relational: bool) -> Decision:
        """Use one creation from the key's budget if any is left."""
        bucket = "relational" if relational else "default"
        limit = self.limit_for(relational)
        with self._lock:
            now = self._clock()
            window = self._window(key, bucket, now)
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            reset = math.ceil(window[0] + self.window_seconds - now) if window else 0
            return Decision(allowed, limit, max(0, limit - len(window)), max(0, reset), self.window_seconds)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
