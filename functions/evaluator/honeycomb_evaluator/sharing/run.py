"""One flight's work for one execution key: wait for, resume or create the query result.

The flight reads the execution record in the store and does what `classify` (steps.py) says:
use it, poll it, re-read it, or claim a new generation with a conditional write, take a token
from the rate budget (503 `rate_limited` if none frees up before the deadline), create the query
result, record its id and poll it.

A flight creates at most one query result. If Honeycomb forgets it (404 while polled) the flight
answers 502 `upstream_error` rather than spending another token: a result can be lost again, and
a loop of creations would spend the key's whole budget on one evaluation. The next evaluation
may create a new one. A creation Honeycomb refuses with a 4xx gives its token back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Coroutine
from typing import Any, TypeVar

from honeycomb_evaluator.budget import Token, uses_relational_fields
from honeycomb_evaluator.callers.registry import ANONYMOUS
from honeycomb_evaluator.errors import DeadlineExceeded, EvaluatorError, RateLimited
from honeycomb_evaluator.honeycomb import errors as honeycomb
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.state.base import ExecutionRecord

from .codec import encode_result
from .execution import ExecutionRequest, Outcome, Served, completed_result
from .fingerprint import Fingerprint, spec_columns
from .local import QUERY_ID_TTL_SECONDS, RESULT_RETENTION_SECONDS, Machinery
from .reuse import Reuse
from .singleflight import Flight
from .steps import Sighting, Step, classify

log = logging.getLogger(__name__)
T = TypeVar("T")

CLAIM_WAIT_SECONDS = 0.15  # how often a flight re-reads a record another instance is working on
# Retry-After for a caller that left while its execution was queued for a token: Argo retries
# a measurement error after 10 s anyway, and the queued execution keeps its place meanwhile.
BUDGET_QUEUE_RETRY_SECONDS = 10.0
LEASE_MARGIN_SECONDS = 3.0  # a claim outlives its owner's deadline by this much (slow writes)
MIN_CREATE_SECONDS = 2.0  # within the lease margin: a claim is never taken over mid-creation
MAX_SHARED_RESULT_BYTES = 300_000  # DynamoDB items stop at 400 KB


def deadline_error(flight: Flight, slow_query_message: str) -> EvaluatorError:
    """Why a caller's deadline passed: queued for a rate-limit token (503) or a slow query (504)."""
    if flight.waiting_for_budget:
        return RateLimited(
            "the Honeycomb query budget for this key is spent; this query is queued for a token",
            retry_after_seconds=flight.budget_retry_after or BUDGET_QUEUE_RETRY_SECONDS,
        )
    return DeadlineExceeded(slow_query_message)


def _refused(error: honeycomb.HoneycombError) -> bool:
    """Honeycomb answered the creation with a 4xx other than 429: no result was created."""
    status = error.status
    return (
        status is not None and 400 <= status < 500 and not isinstance(error, honeycomb.HoneycombRateLimited)
    )


async def _shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to the end even if the awaiting task is cancelled (its outcome is then dropped)."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


class ExecutionRun:
    def __init__(
        self, machinery: Machinery, request: ExecutionRequest, fp: Fingerprint, flight: Flight
    ) -> None:
        self.client = machinery.client
        self.store = machinery.store
        self.budget = machinery.budget
        self.local = machinery.local
        self.request = request
        self.fp = fp
        self.key = fp.execution_key
        self.flight = flight
        self.lost: set[str] = set()  # result ids Honeycomb no longer knows
        self.in_flight: set[int] = set()  # generations seen claimed or pending: their result is ours
        self.query_id: str | None = None
        self.created_once = False  # this flight's one creation is spent
        self.relational = uses_relational_fields(spec_columns(request.spec))  # its own budget

    async def run(self, reuse: Reuse) -> Outcome:
        """`reuse`: which completed results the request that started the flight accepts."""
        while True:
            record = await self.store.get_execution(self.key)
            step = classify(self._sighting(record), reuse)
            if record is not None and step in (Step.POLL, Step.WAIT):
                self.in_flight.add(record.generation)
            if step is Step.DONE:
                assert record is not None
                result, size = await completed_result(
                    self.client, self.request.scope(self.flight.deadline), record
                )
                return self._remember(Outcome(result, record.query_id or "", Served.WAITED, size))
            if step is Step.POLL:
                assert record is not None and record.result_id is not None
                outcome = await self._poll(record, created=False)
                if outcome is not None:
                    return outcome
                self.lost.add(record.result_id)
                continue
            # A claim another instance holds without a result id yet is queued for a rate-limit
            # token, or creating the result (Honeycomb runs the query meanwhile). Only when this
            # process last saw the bucket full is a caller leaving now held back by the budget.
            full_for = self.budget.full_for(self.fp.key_id, relational=self.relational)
            self.flight.waiting_for_budget = (
                step is Step.WAIT and record is not None and record.result_id is None and full_for is not None
            )
            self.flight.budget_retry_after = max(1.0, math.ceil(full_for)) if full_for else None
            if step is Step.WAIT:
                await self._sleep_until_next_look()
                continue
            if self.created_once:
                raise honeycomb.HoneycombUnavailable(
                    "Honeycomb no longer knows the query result this evaluation created; "
                    "a retry creates a new one",
                    status=404,
                )
            outcome = await self._claim_and_create(record)
            if outcome is not None:
                return outcome

    def _sighting(self, record: ExecutionRecord | None) -> Sighting:
        now = self.local.wall()
        if record is None:
            return Sighting(None, now)
        return Sighting(
            record,
            now,
            lost=record.result_id in self.lost or self.local.lost(record.result_id),
            seen_running=record.generation in self.in_flight,
            ours=self.local.owns(record.owner),
        )

    async def _claim_and_create(self, seen: ExecutionRecord | None) -> Outcome | None:
        """Claim a new generation and create its result; None when beaten to it or the result is lost."""
        self.budget.refuse_if_full(self.fp.key_id, relational=self.relational, deadline=self.flight.deadline)
        if self.query_id is None:
            self.query_id = await self._query_id()
        # Waiting for a token and creating must end within the claim's lease, or another
        # instance would take the claim over and create a second result: fix the deadline
        # for both now (later joiners may extend the flight's, not this one).
        claim_deadline = self.flight.deadline
        local = self.local
        claim = await self.store.claim(
            self.key,
            seen=seen,
            owner=local.next_owner(),
            lease_until=local.wall() + max(0.0, claim_deadline - local.monotonic()) + LEASE_MARGIN_SECONDS,
            ttl_seconds=RESULT_RETENTION_SECONDS,
        )
        if claim is None:
            return None  # another instance claimed first; look at what it did
        created = await self._create(claim, claim_deadline)
        pending = dataclasses.replace(claim, state="pending", query_id=self.query_id, result_id=created.id)
        if created.complete and (created.results or created.series):
            size = await self._complete(pending, created)
            return self._remember(Outcome(created, self.query_id, Served.CREATED, size))
        outcome = await self._poll(pending, created=True)
        if outcome is None:
            self.lost.add(created.id)
            local.lose(created.id)
        return outcome

    async def _create(self, claim: ExecutionRecord, deadline: float) -> QueryResult:
        relational = self.relational
        flight = self.flight
        try:
            # Leave a moment to create and poll; a result created late is resumed by the retry.
            # The token is charged to one of the callers waiting for this execution (the first the
            # fair-share rule allows), so a caller at its share does not hold back the others.
            flight.waiting_for_budget = True
            try:
                token = await self.budget.acquire(
                    self.fp.key_id,
                    lambda: flight.members or [ANONYMOUS],
                    relational=relational,
                    deadline=deadline - 0.5,
                    leave=self.request.leave_tokens,
                )
            finally:
                flight.waiting_for_budget = False
        except (RateLimited, asyncio.CancelledError):
            # Nothing will be created on this claim: let others claim at once.
            await _shielded(self.store.release(self.key, claim))
            raise
        # A token is spent: the result must be created and its id recorded even if every waiter
        # leaves now, or the next caller would spend another token on the same execution.
        self.created_once = True
        return await _shielded(self._create_and_record(claim, token, deadline))

    async def _create_and_record(self, claim: ExecutionRecord, token: Token, deadline: float) -> QueryResult:
        assert self.query_id is not None
        relational = self.relational
        # The token is spent and this runs shielded: give the creation time to be answered even
        # when the callers' deadline is close, or a result Honeycomb did create would be unknown
        # to us (a timed-out POST is not retried) and the next caller would create another.
        deadline = max(deadline, self.local.monotonic() + MIN_CREATE_SECONDS)
        try:
            created = await self.client.create_query_result(
                self.request.scope(deadline), self.query_id, self.request.options
            )
        except honeycomb.HoneycombError as e:
            await self.store.release(self.key, claim)
            if _refused(e):
                # Honeycomb created nothing (a misspelt column, an unknown dataset): the token
                # paid for nothing, so it goes back to the bucket.
                await self.budget.give_back(token)
            if isinstance(e, honeycomb.HoneycombRateLimited):
                # Someone else spends this key's budget too: stop everyone for a window.
                await self.budget.exhaust(self.fp.key_id, relational=relational)
                log.warning("Honeycomb answered 429 despite the budget; budget exhausted for a window")
            raise
        await self.budget.restamp(token)
        await self.store.set_pending(
            self.key, claim, query_id=self.query_id, result_id=created.id, created_at=self.local.wall()
        )
        return created

    async def _poll(self, pending: ExecutionRecord, *, created: bool) -> Outcome | None:
        """Poll a pending result until complete (its outcome) or gone (None); 504 at the deadline.

        The one poll loop. The delays come from the client (`poll_delay`), which knows how long
        this query shape took recently, so a repeated canary check polls just before its expected
        completion. A result this flight just created was running a moment ago: the first look
        waits for the schedule. A resumed one may have completed meanwhile: it is looked at once.
        """
        assert pending.result_id is not None
        local, client, flight = self.local, self.client, self.flight
        # Waiting counts from the result's creation: the client timed it if this process created
        # it; else (another instance did) the record says when.
        created_ago = client.waited(pending.result_id)
        if created_ago is None:
            created_ago = 0.0 if created else max(0.0, local.wall() - (pending.created_at or local.wall()))
        began = local.monotonic() - created_ago
        look_now = not created
        while True:
            if not look_now:
                now = local.monotonic()
                delay = min(client.poll_delay(pending.result_id, now - began), flight.deadline - now - 0.05)
                if delay < 0:
                    raise DeadlineExceeded(
                        f"query result {pending.result_id} was not complete before the deadline; "
                        "retrying the same request resumes it"
                    )
                await asyncio.sleep(delay)
            look_now = False
            try:
                result = await client.get_query_result(self.request.scope(flight.deadline), pending.result_id)
            except honeycomb.HoneycombResultNotFound:
                return None
            if result.complete:
                size = await self._complete(pending, result)
                how = Served.CREATED if created else Served.RESUMED
                return self._remember(Outcome(result, pending.query_id or "", how, size))

    async def _complete(self, pending: ExecutionRecord, result: QueryResult) -> int:
        encoded = encode_result(result)
        shared = encoded.blob if len(encoded.blob) <= MAX_SHARED_RESULT_BYTES else None
        await self.store.set_complete(
            self.key,
            pending,
            completed_at=self.local.wall(),
            result=shared,
            ttl_seconds=RESULT_RETENTION_SECONDS,
        )
        return encoded.size

    def _remember(self, outcome: Outcome) -> Outcome:
        return self.local.remember(self.key, outcome)

    async def _sleep_until_next_look(self) -> None:
        remaining = self.flight.deadline - self.local.monotonic()
        if remaining <= 0:
            raise deadline_error(
                self.flight, "another evaluator instance is running this query; a retry resumes it"
            )
        await asyncio.sleep(min(CLAIM_WAIT_SECONDS, remaining))

    async def _query_id(self) -> str:
        """The query id for this spec: this process's cache, the shared store, else created.

        No single-flight of its own: identical requests already share the execution's flight, and
        creating a query is free, so two executions of one spec that differ only in their options
        may at worst both create it (costing one extra task per evaluation for that was not worth it).
        """
        query_ids, spec_key = self.local.query_ids, self.fp.spec_key
        scope = self.request.scope(self.flight.deadline)
        cached = query_ids.value(spec_key)
        if cached is not None:
            return cached
        query_id = await self.store.get_query_id(spec_key)
        if query_id is None:
            query_id = await self.client.create_query(scope, self.request.spec)
            await self.store.put_query_id(spec_key, query_id, QUERY_ID_TTL_SECONDS)
        else:
            # Another instance created it: tell the client its shape, so the poll schedule
            # learns this shape's run time here too (see honeycomb/polling.py).
            self.client.learn_query(scope, query_id, self.request.spec)
        query_ids.put(spec_key, query_id)
        return query_id
