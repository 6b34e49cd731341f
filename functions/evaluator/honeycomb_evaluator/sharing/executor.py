"""Run each Honeycomb execution once for everyone who asks for it, within the rate budget.

`SharedExecutor.execute(request)` is the one way the evaluator runs a query, in the served app
and in the one-shot CLI alike (there on the in-process memory backend):

1. A completed result the request accepts (reuse.py: same window while it is current, or
   younger than `max_age_seconds`) is served from this process's cache, then from the state
   store (another instance's result).
2. Otherwise, when the request differs from others only in an equality filter's value (a
   canary's pod-template hash), fusion.py plans it as part of their one fused query, which
   runs here like any other execution; the request's own rows are cut out of its answer.
3. Otherwise the request joins this process's flight for the same execution (single-flight),
   and the flight's `ExecutionRun` (run.py) does the work: reads the execution record in the
   store, waits for, resumes or claims it, takes a rate-budget token, creates the result and
   polls it.

Everything the store keeps is keyed by digests and the non-secret key id; never the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from honeycomb_evaluator.budget import RateBudget
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.state.base import StateStore

from .execution import Execution, ExecutionRequest, Outcome, Served, completed_result
from .fingerprint import Fingerprint, fingerprint
from .local import LocalState, Machinery
from .reuse import Reuse, reuse_for
from .singleflight import FlightTimeout, SingleFlight

if TYPE_CHECKING:
    from .fusion import Fusion


class SharedExecutor:
    def __init__(
        self,
        client: HoneycombClient,
        store: StateStore,
        budget: RateBudget,
        local: LocalState | None = None,
        *,
        fuse: bool = True,
    ) -> None:
        self.local = local or LocalState()
        self.machinery = Machinery(client, store, budget, self.local)
        self._fuse = fuse  # tests compare with it off
        self._fusion: Fusion | None = None
        self._flights: SingleFlight[Outcome] = SingleFlight(self.local.monotonic)

    @property
    def fusion(self) -> Fusion | None:
        """Query fusion (fusion.py), built on first use: its import is not on the cold start's path."""
        if self._fuse and self._fusion is None:
            from .fusion import Fusion

            self._fusion = Fusion(self.machinery.store, self.local)
        return self._fusion

    async def execute(self, request: ExecutionRequest) -> Execution:
        fp, reuse = self._keys(request)
        hit = self.local.remembered(fp.execution_key, reuse)
        if hit is not None:
            return hit
        # Fusion before the store: a fused check needs no look at its own execution record.
        fusion = self.fusion
        if fusion is not None:
            plan = await fusion.plan(request)
            if plan.fused is not None:
                answer = plan.answer(await self._unfused(plan.fused, *self._keys(plan.fused)))
                if answer is not None:
                    return answer
            request = plan.alone  # maybe leaving tokens for fused queries
        return await self._unfused(request, fp, reuse)

    def _keys(self, request: ExecutionRequest) -> tuple[Fingerprint, Reuse]:
        fp = fingerprint(request.target, request.dataset, request.spec, request.options)
        return fp, reuse_for(request.spec, request.max_age_seconds, self.local.wall())

    async def _unfused(self, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse) -> Execution:
        """`request` as it is: from a cache, else from its flight."""
        key = fp.execution_key
        cached = self.local.remembered(key, reuse) or await self._stored(request, key, reuse)
        return cached if cached is not None else await self._run(request, fp, reuse)

    async def _run(self, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse) -> Execution:
        # Loaded with the first flight, not with the app: the import is on every cold start's path.
        from .run import ExecutionRun, deadline_error

        try:
            outcome, joined = await self._flights.do(
                fp.execution_key,
                lambda flight: ExecutionRun(self.machinery, request, fp, flight).run(reuse),
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

    async def _stored(self, request: ExecutionRequest, key: str, reuse: Reuse) -> Execution | None:
        """A result another instance completed, if the request accepts it."""
        record = await self.machinery.store.get_execution(key)
        if record is None or record.state != "complete" or record.completed_at is None:
            return None
        if not reuse.accepts(record.completed_at):
            return None
        result, size = await completed_result(self.machinery.client, request.scope(), record)
        stored = Execution(result=result, query_id=record.query_id or "", served=Served.STORE_CACHE)
        self.local.keep(key, stored, completed_at=record.completed_at, size=size)
        return stored
