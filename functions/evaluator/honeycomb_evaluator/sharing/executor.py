"""Run each Honeycomb execution once for everyone who asks for it, within the rate budget.

`SharedExecutor.execute(request)` is the one way the evaluator runs a query, in the served app
and in the one-shot CLI alike (there on the in-process memory backend):

1. A completed result the request accepts (reuse.py: same window while it is current, or
   younger than `max_age_seconds`) is served from this process's cache.
2. Otherwise, when the request differs from others only in an equality filter's value (a
   canary's pod-template hash), fusion.py plans it as part of their one fused query, which
   runs here like any other execution; the request's own rows are cut out of its answer.
   Identical requests arriving together share one plan.
3. Otherwise the request joins this process's flight for the same execution (single-flight).
   A flight looks for a result another instance completed (the state store), else its
   `ExecutionRun` (run.py) does the work: reads the execution record in the store, waits for,
   resumes or claims it, takes a rate-budget token, creates the result and polls it.

Admission: a request that joins a flight or is answered from a cache costs memory only (a few
tens of KiB while it waits: docs/operations.md); starting a flight is work (store reads,
Honeycomb calls, polling), so at most `LocalState.max_executions` flights run at once here and a
request that would start one more gets 503 `overloaded`.

Everything the store keeps is keyed by digests and the non-secret key id; never the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from honeycomb_evaluator.budget import RateBudget
from honeycomb_evaluator.errors import Overloaded
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.state.base import StateStore

from .execution import Execution, ExecutionRequest, Outcome, Served, completed_result
from .fingerprint import Fingerprint, fingerprint
from .local import LocalState, Machinery
from .reuse import Reuse, reuse_for
from .singleflight import Flight, FlightTimeout, SingleFlight

if TYPE_CHECKING:
    from .fusion import Fusion
    from .fusion_plan import FusionPlan

# Retry-After of a request refused because this process runs as many executions as it may.
OVERLOADED_RETRY_SECONDS = 1


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
        self._plans: SingleFlight[FusionPlan] = SingleFlight(self.local.monotonic)

    @property
    def fusion(self) -> Fusion | None:
        """Query fusion (fusion.py), built on first use: its import is not on the cold start's path."""
        if self._fuse and self._fusion is None:
            from .fusion import Fusion

            self._fusion = Fusion(self.machinery.store, self.local)
        return self._fusion

    @property
    def executions_in_progress(self) -> int:
        """Flights running in this process now (at most `LocalState.max_executions`)."""
        return len(self._flights)

    async def execute(self, request: ExecutionRequest) -> Execution:
        arrived = self.local.wall()  # a result completed since is always accepted (reuse.py)
        fp, reuse = self._keys(request, arrived)
        hit = self.local.remembered(fp.execution_key, reuse)
        if hit is not None:
            return hit
        fusion = self.fusion
        if fusion is not None:
            plan = await self._plan(fusion, request, fp.execution_key)
            while plan.fused is not None:
                fused = await self._unfused(plan.fused, *self._keys(plan.fused, arrived))
                answer = fusion.answer(plan, fused)
                if answer is not None:
                    return answer
                plan = fusion.replan(plan, fused)
            request = plan.alone  # maybe leaving tokens for fused queries
        return await self._unfused(request, fp, reuse)

    @staticmethod
    def _keys(request: ExecutionRequest, arrived: float) -> tuple[Fingerprint, Reuse]:
        fp = fingerprint(request.target, request.dataset, request.spec, request.options)
        return fp, reuse_for(request.spec, request.max_age_seconds, arrived)

    async def _plan(self, fusion: Fusion, request: ExecutionRequest, key: str) -> FusionPlan:
        """The fusion plan for `request`; identical requests arriving together share one."""
        try:
            plan, _ = await self._plans.do(key, lambda _: fusion.plan(request), deadline=request.deadline)
        except FlightTimeout:
            from .fusion_plan import FusionPlan

            return FusionPlan(request)  # its own flight answers the deadline
        return plan.serving(request)

    async def _unfused(self, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse) -> Execution:
        """`request` as it is: from this process's cache, else from its flight."""
        cached = self.local.remembered(fp.execution_key, reuse)
        return cached if cached is not None else await self._run(request, fp, reuse)

    async def _run(self, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse) -> Execution:
        # Loaded with the first flight, not with the app: the import is on every cold start's path.
        from .run import deadline_error

        key = fp.execution_key
        flights = self._flights
        if not flights.running(key) and len(flights) >= self.local.max_executions:
            raise Overloaded(
                f"this instance is running {len(flights)} Honeycomb executions, as many as it may; "
                "retry shortly",
                retry_after_seconds=OVERLOADED_RETRY_SECONDS,
            )
        try:
            outcome, joined = await flights.do(
                key,
                lambda flight: self._stored_or_run(request, fp, reuse, flight),
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

    async def _stored_or_run(
        self, request: ExecutionRequest, fp: Fingerprint, reuse: Reuse, flight: Flight
    ) -> Outcome:
        """A flight's work: a result another instance completed, else run the execution."""
        stored = await self._stored(request, fp.execution_key, reuse)
        if stored is not None:
            return stored
        from .run import ExecutionRun

        return await ExecutionRun(self.machinery, request, fp, flight).run(reuse)

    async def _stored(self, request: ExecutionRequest, key: str, reuse: Reuse) -> Outcome | None:
        """A result another instance completed, if the request accepts it."""
        record = await self.machinery.store.get_execution(key)
        if record is None or record.state != "complete" or record.completed_at is None:
            return None
        if not reuse.accepts(record.completed_at):
            return None
        result, size = await completed_result(self.machinery.client, request.scope(), record)
        stored = Execution(result=result, query_id=record.query_id or "", served=Served.STORE_CACHE)
        self.local.keep(key, stored, completed_at=record.completed_at, size=size)
        return Outcome(result, stored.query_id, Served.STORE_CACHE, size)
