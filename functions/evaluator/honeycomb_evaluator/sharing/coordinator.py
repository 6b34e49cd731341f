"""Run each Honeycomb execution once for everyone who asks for it, within the rate budget.

`SharedExecutor.execute` has the shape of `execution.execute` and replaces it. For one request:

1. A completed result younger than `max_age_seconds` is served from this process's cache,
   then from the state store (another instance's result).
2. Otherwise the request joins this process's flight for the same execution (single-flight).
3. The flight reads the execution record in the store. A result still running is never
   created again: the instance that created it polls Honeycomb while its lease lasts, the
   others re-read the record until the result is in it; after the lease (its owner's deadline
   passed) whoever asks next resumes polling. A live claim by another instance is waited for.
   Else the flight claims a new generation with a conditional write, takes a token from the
   rate budget (503 `rate_limited` if none frees up before the deadline), creates the query
   result, records its id and polls it.

Everything the store keeps is keyed by digests and the non-secret key id; never the key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from honeycomb_evaluator.errors import ApiError
from honeycomb_evaluator.execution import Execution, ExecutionRequest
from honeycomb_evaluator.honeycomb import errors as honeycomb_errors
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.honeycomb.polling import query_shape
from honeycomb_evaluator.honeycomb.results import QueryResult

from .backends.base import ExecutionRecord, StateStore
from .cache import AgeCache
from .callers import ANONYMOUS, Caller
from .errors import RateLimited
from .fingerprint import Fingerprint, fingerprint, spec_columns
from .ratelimit import RateBudget, uses_relational_fields
from .singleflight import Flight, FlightTimeout, SingleFlight

log = logging.getLogger(__name__)
T = TypeVar("T")

# The caller of the current request, set by the app after authentication. A query result is
# charged to one of the callers waiting for it (see ratelimit.py).
current_caller: ContextVar[Caller] = ContextVar("evaluator_caller", default=ANONYMOUS)

QUERY_ID_TTL_SECONDS = 24 * 3600.0
RESULT_RETENTION_SECONDS = 86400.0  # the longest max_age_seconds the API accepts
PENDING_GIVE_UP_SECONDS = 120.0  # Honeycomb stops a query after 10 s; older pending means lost
CLAIM_WAIT_SECONDS = 0.15  # how often a flight re-reads a record another instance is working on
# Retry-After for a caller that left while its execution was queued for a token: Argo retries
# a measurement error after 10 s anyway, and the queued execution keeps its place meanwhile.
BUDGET_QUEUE_RETRY_SECONDS = 10.0
LEASE_MARGIN_SECONDS = 3.0  # a claim outlives its owner's deadline by this much (slow writes)
MAX_SHARED_RESULT_BYTES = 300_000  # DynamoDB items stop at 400 KB


@dataclass
class Served:
    """How the current request was answered, for logs and metrics."""

    how: str = "unknown"  # memory_cache, store_cache, joined, resumed, waited, created
    execution_key: str = ""


current_served: ContextVar[Served | None] = ContextVar("evaluator_served", default=None)


def _deadline_error(flight: Flight, slow_query_message: str) -> ApiError:
    """Why a caller's deadline passed: queued for a rate-limit token (503) or a slow query (504)."""
    if flight.waiting_for_budget:
        return RateLimited(
            "the Honeycomb query budget for this key is spent; this query is queued for a token",
            retry_after_seconds=BUDGET_QUEUE_RETRY_SECONDS,
        )
    return honeycomb_errors.timeout(slow_query_message)


def _mark(how: str, key: str) -> None:
    served = current_served.get()
    if served is not None:
        served.how, served.execution_key = how, key


@dataclass(frozen=True)
class _Outcome:
    result: QueryResult
    query_id: str
    created: bool
    how: str


async def _shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to the end even if the awaiting task is cancelled (its outcome is then dropped)."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


def encode_result(result: QueryResult) -> bytes:
    # The fields by hand: dataclasses.asdict deep-copies every row first, for nothing.
    fields = {
        "id": result.id,
        "complete": result.complete,
        "results": result.results,
        "series": result.series,
        "query_url": result.query_url,
    }
    return zlib.compress(json.dumps(fields, separators=(",", ":")).encode(), 6)


def decode_result(blob: bytes) -> QueryResult:
    return QueryResult(**json.loads(zlib.decompress(blob)))


class SharedExecutor:
    def __init__(
        self,
        store: StateStore,
        budget: RateBudget,
        *,
        max_cached_results: int = 2048,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.budget = budget
        self._wall = wall_clock
        self._monotonic = monotonic
        self._results: AgeCache[tuple[str, QueryResult]] = AgeCache(
            max_cached_results, RESULT_RETENTION_SECONDS, wall_clock
        )
        self._query_ids: AgeCache[str] = AgeCache(10_000, QUERY_ID_TTL_SECONDS, wall_clock)
        self._flights: SingleFlight[_Outcome] = SingleFlight(monotonic)
        self._instance = uuid.uuid4().hex[:12]
        self._claims = 0

    def clear_local(self) -> None:
        self._results.clear()
        self._query_ids.clear()

    async def execute(self, client: HoneycombClient, request: ExecutionRequest) -> Execution:
        fp = fingerprint(
            request.target,
            request.dataset,
            request.spec,
            disable_series=request.disable_series,
            limit=request.limit,
            now=self._wall(),
        )
        key = fp.execution_key
        if request.max_age_seconds > 0:
            hit = self._results.get(key, request.max_age_seconds)
            if hit is not None:
                _mark("memory_cache", key)
                return Execution(result=hit.value[1], query_id=hit.value[0], cached=True)
            stored = await self._stored_result(client, request, key, request.max_age_seconds)
            if stored is not None:
                _mark("store_cache", key)
                return Execution(result=stored[1], query_id=stored[0], cached=True)
        # Results completed after this moment were in flight when the request arrived.
        fresh_after = self._wall() - request.max_age_seconds
        try:
            outcome, joined = await self._flights.do(
                key,
                lambda flight: self._run(client, request, fp, flight, fresh_after),
                deadline=request.deadline,
                member=current_caller.get(),
            )
        except FlightTimeout as left:
            raise _deadline_error(
                left.flight,
                "the query result was not complete before the deadline; retrying the same request resumes it",
            ) from None
        _mark("joined" if joined else outcome.how, key)
        return Execution(
            result=outcome.result, query_id=outcome.query_id, cached=joined or not outcome.created
        )

    async def _stored_result(
        self, client: HoneycombClient, request: ExecutionRequest, key: str, max_age: float
    ) -> tuple[str, QueryResult] | None:
        record = await self.store.get_execution(key)
        if record is None or record.state != "complete" or record.completed_at is None:
            return None
        if self._wall() - record.completed_at > max_age:
            return None
        result = await self._completed_result(client, request, record)
        self._results.put(key, (record.query_id or "", result), stored_at=record.completed_at)
        return record.query_id or "", result

    async def _completed_result(
        self, client: HoneycombClient, request: ExecutionRequest, record: ExecutionRecord
    ) -> QueryResult:
        if record.result is not None:
            return decode_result(record.result)
        # Too large to share through the store: a completed result can be read again for free.
        assert record.result_id is not None
        return await client.get_query_result(
            request.target, request.dataset, record.result_id, deadline=request.deadline
        )

    # -- the flight: one per execution key in this process ---------------------------------

    async def _run(
        self,
        client: HoneycombClient,
        request: ExecutionRequest,
        fp: Fingerprint,
        flight: Flight,
        fresh_after: float,
    ) -> _Outcome:
        key = fp.execution_key
        query_id: str | None = None
        lost: set[str] = set()  # result ids Honeycomb no longer knows
        in_flight: set[int] = set()  # generations seen claimed or pending: their result is ours
        while True:
            record = await self.store.get_execution(key)
            state = self._classify(record, fresh_after, lost, in_flight)
            if record is not None and state in ("running", "wait"):
                in_flight.add(record.generation)
            if state == "done":
                assert record is not None
                # Another instance finished this generation while we were waiting for it.
                result = await self._completed_result(client, request, record)
                return self._remember(key, record.query_id or "", result, created=False, how="waited")
            if state == "running":
                assert record is not None and record.result_id is not None
                outcome = await self._poll(client, request, key, record, flight, created=False)
                if outcome is not None:
                    return outcome
                lost.add(record.result_id)
                continue
            # A claim another instance holds without a result id yet is queued for a rate-limit
            # token (creating takes a moment): a caller leaving meanwhile was held back by the budget.
            flight.waiting_for_budget = state == "wait" and record is not None and record.result_id is None
            if state == "wait":
                await self._sleep_until_next_look(flight)
                continue
            if query_id is None:
                query_id = await self._query_id(client, request, fp, flight)
            # Waiting for a token and creating must end within the claim's lease, or another
            # instance would take the claim over and create a second result: fix the deadline
            # for both now (later joiners may extend the flight's, not this one).
            claim_deadline = flight.deadline
            claim = await self.store.claim(
                key,
                seen=record,
                owner=self._next_owner(),
                lease_until=self._wall()
                + max(0.0, claim_deadline - self._monotonic())
                + LEASE_MARGIN_SECONDS,
                ttl_seconds=RESULT_RETENTION_SECONDS,
            )
            if claim is None:
                continue  # another instance claimed first; look at what it did
            created = await self._create(client, request, fp, flight, claim_deadline, claim, query_id)
            pending = dataclasses.replace(claim, state="pending", query_id=query_id, result_id=created.id)
            if created.complete and (created.results or created.series):
                await self._complete(key, pending, created)
                return self._remember(key, query_id, created, created=True, how="created")
            outcome = await self._poll(client, request, key, pending, flight, created=True)
            if outcome is not None:
                return outcome
            lost.add(created.id)

    async def _create(
        self,
        client: HoneycombClient,
        request: ExecutionRequest,
        fp: Fingerprint,
        flight: Flight,
        deadline: float,
        claim: ExecutionRecord,
        query_id: str,
    ) -> QueryResult:
        relational = uses_relational_fields(spec_columns(request.spec))
        try:
            # Leave a moment to create and poll; a result created late is resumed by the retry.
            # The token is charged to one of the callers waiting for this execution (the first the
            # fair-share rule allows), so a caller at its share does not hold back the others.
            flight.waiting_for_budget = True
            try:
                await self.budget.acquire(
                    fp.key_id,
                    lambda: flight.members or [ANONYMOUS],
                    relational=relational,
                    deadline=deadline - 0.5,
                )
            finally:
                flight.waiting_for_budget = False
        except (RateLimited, asyncio.CancelledError):
            # Nothing will be created on this claim: let others claim at once.
            await _shielded(self.store.release(fp.execution_key, claim))
            raise
        # A token is spent: the result must be created and its id recorded even if every waiter
        # leaves now, or the next caller would spend another token on the same execution.
        return await _shielded(
            self._create_and_record(client, request, fp, claim, query_id, relational, deadline)
        )

    async def _create_and_record(
        self,
        client: HoneycombClient,
        request: ExecutionRequest,
        fp: Fingerprint,
        claim: ExecutionRecord,
        query_id: str,
        relational: bool,
        deadline: float,
    ) -> QueryResult:
        try:
            created = await client.create_query_result(
                request.target,
                request.dataset,
                query_id,
                disable_series=request.disable_series,
                limit=request.limit,
                deadline=deadline,
            )
        except ApiError as e:
            await self.store.release(fp.execution_key, claim)
            if e.code == "rate_limited":
                # Someone else spends this key's budget too: stop everyone for a window.
                await self.budget.exhaust(fp.key_id, relational=relational)
                log.warning("Honeycomb answered 429 despite the budget; budget exhausted for a window")
            raise
        await self.store.set_pending(
            fp.execution_key, claim, query_id=query_id, result_id=created.id, created_at=self._wall()
        )
        return created

    async def _poll(
        self,
        client: HoneycombClient,
        request: ExecutionRequest,
        key: str,
        pending: ExecutionRecord,
        flight: Flight,
        *,
        created: bool,
    ) -> _Outcome | None:
        """Poll a pending result until complete (its outcome) or gone (None); 504 at the deadline.

        The delays come from the client (`poll_delay`), which knows how long this query shape took
        recently, so a repeated canary check polls just before its expected completion. A result
        this flight just created was running a moment ago: the first look waits for the schedule.
        A resumed one may have completed meanwhile: it is looked at once.
        """
        assert pending.result_id is not None
        # Waiting counts from the result's creation: the client timed it if this process created
        # it; else (another instance did) the record says when.
        created_ago = client.tracker.waited(pending.result_id)
        if created_ago is None:
            created_ago = 0.0 if created else max(0.0, self._wall() - (pending.created_at or self._wall()))
        began = self._monotonic() - created_ago
        look_now = not created
        while True:
            if not look_now:
                now = self._monotonic()
                delay = min(client.poll_delay(pending.result_id, now - began), flight.deadline - now - 0.05)
                if delay < 0:
                    raise honeycomb_errors.timeout(
                        f"query result {pending.result_id} was not complete before the deadline; "
                        "retrying the same request resumes it"
                    )
                await asyncio.sleep(delay)
            look_now = False
            try:
                result = await client.get_query_result(
                    request.target, request.dataset, pending.result_id, deadline=flight.deadline
                )
            except honeycomb_errors.ResultNotFound:
                return None
            if result.complete:
                await self._complete(key, pending, result)
                return self._remember(
                    key,
                    pending.query_id or "",
                    result,
                    created=created,
                    how="created" if created else "resumed",
                )

    async def _complete(self, key: str, pending: ExecutionRecord, result: QueryResult) -> None:
        blob = encode_result(result)
        shared = blob if len(blob) <= MAX_SHARED_RESULT_BYTES else None
        await self.store.set_complete(
            key, pending, completed_at=self._wall(), result=shared, ttl_seconds=RESULT_RETENTION_SECONDS
        )

    def _remember(self, key: str, query_id: str, result: QueryResult, *, created: bool, how: str) -> _Outcome:
        self._results.put(key, (query_id, result))
        return _Outcome(result=result, query_id=query_id, created=created, how=how)

    def _classify(
        self, record: ExecutionRecord | None, fresh_after: float, lost: set[str], in_flight: set[int]
    ) -> str:
        """What a flight does with the record it read.

        done: completed while this flight waited for it; running: poll the result in Honeycomb;
        wait: another live instance is creating or polling it (re-read the record, which it
        updates when the result completes, so only one instance polls Honeycomb); replace:
        nothing usable, claim a new generation.
        """
        if record is None or record.result_id in lost:
            return "replace"
        now = self._wall()
        if record.state == "complete":
            # Seen in flight, or completed after the request arrived (less its max_age_seconds).
            waited_for = record.generation in in_flight or (record.completed_at or 0.0) >= fresh_after
            return "done" if waited_for else "replace"
        owner_alive = record.lease_until > now and not record.owner.startswith(self._instance + ":")
        if record.state == "pending":
            if now - (record.created_at or 0.0) > PENDING_GIVE_UP_SECONDS:
                return "replace"
            # The owner's lease ends with its deadline; then whoever asks next resumes polling.
            return "wait" if owner_alive else "running"
        return "wait" if record.lease_until > now else "replace"

    async def _sleep_until_next_look(self, flight: Flight) -> None:
        remaining = flight.deadline - self._monotonic()
        if remaining <= 0:
            raise _deadline_error(
                flight, "another evaluator instance is running this query; a retry resumes it"
            )
        await asyncio.sleep(min(CLAIM_WAIT_SECONDS, remaining))

    def _next_owner(self) -> str:
        self._claims += 1
        return f"{self._instance}:{self._claims}"

    # -- query ids -----------------------------------------------------------------------------

    async def _query_id(
        self, client: HoneycombClient, request: ExecutionRequest, fp: Fingerprint, flight: Flight
    ) -> str:
        """The query id for this spec: this process's cache, the shared store, else created.

        No single-flight of its own: identical requests already share the execution's flight, and
        creating a query is free, so two executions of one spec that differ only in their options
        may at worst both create it (costing one extra task per evaluation for that was not worth it).
        """
        cached = self._query_ids.get(fp.spec_key)
        if cached is not None:
            return cached.value
        query_id = await self.store.get_query_id(fp.spec_key)
        if query_id is None:
            query_id = await client.create_query(
                request.target, request.dataset, request.spec, deadline=flight.deadline
            )
            await self.store.put_query_id(fp.spec_key, query_id, QUERY_ID_TTL_SECONDS)
        else:
            # Another instance created it: tell the client its shape, so the poll schedule
            # learns this shape's run time here too (see honeycomb/polling.py).
            client.tracker.query_created(
                query_id, query_shape(request.target.key_id, request.dataset, request.spec)
            )
        self._query_ids.put(fp.spec_key, query_id)
        return query_id
