"""What one evaluator process knows and is: its clocks, its name in claims, how many executions
it runs at once, what it remembers.

The executor, its flights (run.py) and fusion share one `LocalState`; nothing in it is shared
with other instances (that is the state store's job). A flight gets it with the parts every
execution runs on, as one `Machinery`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.settings import RESULT_CACHE_BYTES

from .execution import Execution, Outcome, Served
from .reuse import Reuse

if TYPE_CHECKING:
    from honeycomb_evaluator.budget import RateBudget
    from honeycomb_evaluator.honeycomb.client import HoneycombClient
    from honeycomb_evaluator.state.base import StateStore

QUERY_ID_TTL_SECONDS = 24 * 3600.0
# Executions (flights) this process runs at once: each reads the store, calls Honeycomb and polls.
# Requests that join one, or are answered from a cache, are not counted (settings.py).
MAX_EXECUTIONS = 64
RESULT_RETENTION_SECONDS = 86400.0  # the longest max_age_seconds the API accepts


class LocalState:
    def __init__(
        self,
        *,
        result_cache_bytes: int = RESULT_CACHE_BYTES,
        max_executions: int = MAX_EXECUTIONS,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wall = wall_clock  # shared with other instances through the store's records
        self.monotonic = monotonic  # deadlines
        self.max_executions = max_executions
        # Completed results by execution key, with their query id. Bounded in bytes too: one
        # breakdown result with series can hold close to a megabyte.
        self.results: BoundedCache[tuple[str, QueryResult]] = BoundedCache(
            2048, retention_seconds=RESULT_RETENTION_SECONDS, max_bytes=result_cache_bytes, clock=wall_clock
        )
        self.query_ids: BoundedCache[str] = BoundedCache(
            10_000, retention_seconds=QUERY_ID_TTL_SECONDS, clock=wall_clock
        )
        # Result ids Honeycomb answered 404 for: never polled again, their execution is claimed anew.
        self._lost: BoundedCache[bool] = BoundedCache(
            1000, retention_seconds=QUERY_ID_TTL_SECONDS, clock=wall_clock
        )
        self._instance = uuid.uuid4().hex[:12]
        self._claims = 0

    def next_owner(self) -> str:
        """A claim owner name unique to this instance and claim."""
        self._claims += 1
        return f"{self._instance}:{self._claims}"

    def owns(self, owner: str) -> bool:
        return owner.startswith(self._instance + ":")

    def lose(self, result_id: str) -> None:
        self._lost.put(result_id, True)

    def lost(self, result_id: str | None) -> bool:
        """Honeycomb answered 404 for this result in this process."""
        return result_id is not None and self._lost.value(result_id) is not None

    def remember(self, key: str, outcome: Outcome) -> Outcome:
        self.results.put(key, (outcome.query_id, outcome.result), size=outcome.size)
        return outcome

    def keep(self, key: str, stored: Execution, *, completed_at: float, size: int) -> None:
        """A result another instance completed at `completed_at` (read from the store)."""
        self.results.put(key, (stored.query_id, stored.result), stored_at=completed_at, size=size)

    def remembered(self, key: str, reuse: Reuse) -> Execution | None:
        hit = self.results.get(key)
        if hit is not None and reuse.accepts(hit.stored_at):
            return Execution(result=hit.value[1], query_id=hit.value[0], served=Served.MEMORY_CACHE)
        return None


@dataclass(frozen=True)
class Machinery:
    """What every execution runs on: Honeycomb, the shared store and budget, this process's state."""

    client: HoneycombClient
    store: StateStore
    budget: RateBudget
    local: LocalState
