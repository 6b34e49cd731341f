"""Run each Honeycomb execution once for everyone who asks for it, within the rate budget.

`SharedExecutor.execute(client, request)` is the one way the evaluator runs a query, in the
served app and in the one-shot CLI alike (there on the in-process memory backend):

1. A completed result the request accepts (reuse.py: same window while it is current, or
   younger than `max_age_seconds`) is served from this process's cache, then from the state
   store (another instance's result).
2. Otherwise, when the request differs from others only in an equality filter's value (a
   canary's pod-template hash), it is answered from their one fused query (fusion.py).
3. Otherwise the request joins this process's flight for the same execution (single-flight),
   and the flight's `ExecutionRun` (run.py) does the work: reads the execution record in the
   store, waits for, resumes or claims it, takes a rate-budget token, creates the result and
   polls it.

Everything the store keeps is keyed by digests and the non-secret key id; never the key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.settings import RESULT_CACHE_BYTES

from .backends.base import StateStore
from .execution import Execution, ExecutionRequest, Outcome, Served, completed_result
from .fingerprint import Fingerprint, fingerprint
from .fusion import Fusion
from .ratelimit import RateBudget
from .reuse import Reuse, reuse_for
from .run import QUERY_ID_TTL_SECONDS, RESULT_RETENTION_SECONDS, ExecutionRun, deadline_error
from .singleflight import FlightTimeout, SingleFlight


class SharedExecutor:
    def __init__(
        self,
        store: StateStore,
        budget: RateBudget,
        *,
        result_cache_bytes: int = RESULT_CACHE_BYTES,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.budget = budget
        self.wall = wall_clock
        self.monotonic = monotonic
        # Bounded in bytes too: one breakdown result with series can hold close to a megabyte.
        self.results: BoundedCache[tuple[str, QueryResult]] = BoundedCache(
            2048, retention_seconds=RESULT_RETENTION_SECONDS, max_bytes=result_cache_bytes, clock=wall_clock
        )
        self.query_ids: BoundedCache[str] = BoundedCache(
            10_000, retention_seconds=QUERY_ID_TTL_SECONDS, clock=wall_clock
        )
        # Result ids Honeycomb answered 404 for: never polled again, their execution is claimed anew.
        self.lost: BoundedCache[bool] = BoundedCache(
            1000, retention_seconds=QUERY_ID_TTL_SECONDS, clock=wall_clock
        )
        self._flights: SingleFlight[Outcome] = SingleFlight(monotonic)
        self.fuse = True  # query fusion (fusion.py); tests compare with it off
        self.fusion = Fusion(self)
        self._instance = uuid.uuid4().hex[:12]
        self._claims = 0

    def next_owner(self) -> str:
        """A claim owner name unique to this instance and claim."""
        self._claims += 1
        return f"{self._instance}:{self._claims}"

    def owns(self, owner: str) -> bool:
        return owner.startswith(self._instance + ":")

    def remember(self, key: str, outcome: Outcome) -> None:
        self.results.put(key, (outcome.query_id, outcome.result), size=outcome.size)

    async def execute(self, client: HoneycombClient, request: ExecutionRequest) -> Execution:
        fp = fingerprint(request.target, request.dataset, request.spec, request.options)
        reuse = reuse_for(request.spec, request.max_age_seconds, self.wall())
        hit = self._remembered(fp.execution_key, reuse)
        if hit is not None:
            return hit
        # Fusion before the store: a fused check needs no look at its own execution record.
        if self.fuse:
            fused = await self.fusion.answer(client, request)
            if isinstance(fused, Execution):
                return fused
            request = fused  # to run on its own (maybe leaving tokens for fused queries)
        cached = await self._cached(client, request, fp.execution_key, reuse)
        return cached if cached is not None else await self._run(client, request, fp, reuse)

    async def execute_alone(self, client: HoneycombClient, request: ExecutionRequest) -> Execution:
        """`request` as it is, never fused (fusion.py runs its fused queries through this)."""
        fp = fingerprint(request.target, request.dataset, request.spec, request.options)
        reuse = reuse_for(request.spec, request.max_age_seconds, self.wall())
        cached = await self._cached(client, request, fp.execution_key, reuse)
        return cached if cached is not None else await self._run(client, request, fp, reuse)

    def _remembered(self, key: str, reuse: Reuse) -> Execution | None:
        hit = self.results.get(key)
        if hit is not None and reuse.accepts(hit.stored_at):
            return Execution(result=hit.value[1], query_id=hit.value[0], served=Served.MEMORY_CACHE)
        return None

    async def _cached(
        self, client: HoneycombClient, request: ExecutionRequest, key: str, reuse: Reuse
    ) -> Execution | None:
        hit = self._remembered(key, reuse)
        if hit is not None:
            return hit
        stored = await self._stored_result(client, request, key, reuse)
        if stored is not None:
            return Execution(result=stored[1], query_id=stored[0], served=Served.STORE_CACHE)
        return None

    async def _run(
        self, client: HoneycombClient, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse
    ) -> Execution:
        key = fp.execution_key
        try:
            outcome, joined = await self._flights.do(
                key,
                lambda flight: ExecutionRun(self, client, request, fp, flight).run(reuse),
                deadline=request.deadline,
                member=request.caller,
            )
        except FlightTimeout as left:
            raise deadline_error(
                left.flight,
                "the query result was not complete before the deadline; retrying the same request resumes it",
            ) from None
        served = Served.JOINED if joined else outcome.how
        return Execution(result=outcome.result, query_id=outcome.query_id, served=served)

    async def _stored_result(
        self, client: HoneycombClient, request: ExecutionRequest, key: str, reuse: Reuse
    ) -> tuple[str, QueryResult] | None:
        record = await self.store.get_execution(key)
        if record is None or record.state != "complete" or record.completed_at is None:
            return None
        if not reuse.accepts(record.completed_at):
            return None
        result, size = await completed_result(client, request.scope(), record)
        self.results.put(key, (record.query_id or "", result), stored_at=record.completed_at, size=size)
        return record.query_id or "", result
