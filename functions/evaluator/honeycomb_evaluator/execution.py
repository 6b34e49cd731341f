"""Run one Honeycomb query to completion: the single step evaluate.py delegates to Honeycomb.

Stable interface (the shared-service layer in `sharing/` replaces the internals, not the shape):

    execution = await execute(client, ExecutionRequest(target, dataset, spec, disable_series=..., limit=...,
                                                       max_age_seconds=..., deadline=...))
    execution.result      # a complete QueryResult
    execution.query_id    # Honeycomb's query id
    execution.cached      # True when no new query result was created for this call

`spec` is the query exactly as sent to Honeycomb (absolute, snapped `start_time`/`end_time`),
so equal specs mean equal executions. What this module keeps, per process:
- spec → query_id (Honeycomb's query ids are stable for a spec, and creating them is free);
- completed results, served again while younger than the caller's `max_age_seconds`;
- results still running when a caller's deadline passed, so the caller's retry resumes polling
  the same result instead of spending another of Honeycomb's 10 query runs per minute.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from honeycomb_evaluator.errors import ApiError
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.honeycomb.errors import ResultNotFound
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.target import HoneycombTarget

V = TypeVar("V")

# A running result is worth resuming for a while; Honeycomb caps a query's run time at 10 s.
PENDING_TTL_SECONDS = 120.0
QUERY_ID_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class ExecutionRequest:
    target: HoneycombTarget
    dataset: str
    spec: dict[str, Any]
    disable_series: bool
    limit: int | None
    max_age_seconds: float
    deadline: float  # time.monotonic() instant

    def spec_fingerprint(self) -> str:
        canonical = json.dumps(self.spec, sort_keys=True, separators=(",", ":"))
        raw = f"{self.target.key_id}\n{self.target.api_url}\n{self.dataset}\n{canonical}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def result_fingerprint(self) -> str:
        return f"{self.spec_fingerprint()}:{int(self.disable_series)}:{self.limit}"


@dataclass(frozen=True)
class Execution:
    result: QueryResult
    query_id: str
    cached: bool


class TtlCache(Generic[V]):
    """A small LRU with per-entry age; ages are returned so callers can apply their own max age."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._max = max_entries

    def get(self, key: str, max_age: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at > max_age:
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class _Pending:
    query_id: str
    result_id: str


class LocalState:
    """Per-process caches; one module-level instance, `clear()`ed by tests."""

    def __init__(self) -> None:
        self.query_ids: TtlCache[str] = TtlCache()
        self.results: TtlCache[tuple[str, QueryResult]] = TtlCache()
        self.pending: TtlCache[_Pending] = TtlCache()

    def clear(self) -> None:
        self.query_ids.clear()
        self.results.clear()
        self.pending.clear()


STATE = LocalState()


async def execute(client: HoneycombClient, request: ExecutionRequest, state: LocalState = STATE) -> Execution:
    key = request.result_fingerprint()
    if request.max_age_seconds > 0:
        hit = state.results.get(key, request.max_age_seconds)
        if hit is not None:
            return Execution(result=hit[1], query_id=hit[0], cached=True)

    pending = state.pending.get(key, PENDING_TTL_SECONDS)
    if pending is not None:
        try:
            result = await _finish(client, request, pending.result_id, state, key)
        except ResultNotFound:
            state.pending.pop(key)  # expired upstream: start a fresh run below
        else:
            state.results.put(key, (pending.query_id, result))
            return Execution(result=result, query_id=pending.query_id, cached=True)

    query_id = await _query_id(client, request, state)
    created = await client.create_query_result(
        request.target,
        request.dataset,
        query_id,
        disable_series=request.disable_series,
        limit=request.limit,
        deadline=request.deadline,
    )
    state.pending.put(key, _Pending(query_id=query_id, result_id=created.id))
    if created.complete and (created.results or created.series):
        result = created
    else:
        result = await _finish(client, request, created.id, state, key, poll_first=created.complete)
    state.results.put(key, (query_id, result))
    return Execution(result=result, query_id=query_id, cached=False)


async def _query_id(client: HoneycombClient, request: ExecutionRequest, state: LocalState) -> str:
    spec_key = request.spec_fingerprint()
    query_id = state.query_ids.get(spec_key, QUERY_ID_TTL_SECONDS)
    if query_id is None:
        query_id = await client.create_query(
            request.target, request.dataset, request.spec, deadline=request.deadline
        )
        state.query_ids.put(spec_key, query_id)
    return query_id


async def _finish(
    client: HoneycombClient,
    request: ExecutionRequest,
    result_id: str,
    state: LocalState,
    key: str,
    *,
    poll_first: bool = True,
) -> QueryResult:
    """Poll a result to completion; it stays resumable unless it completed or Honeycomb forgot it."""
    try:
        if poll_first:
            result = await client.get_query_result(
                request.target, request.dataset, result_id, deadline=request.deadline
            )
            if result.complete:
                state.pending.pop(key)
                return result
        result = await client.wait_for_result(request.target, request.dataset, result_id, request.deadline)
    except ApiError as e:
        if e.code not in ("timeout", "upstream_error", "rate_limited"):
            state.pending.pop(key)
        raise
    state.pending.pop(key)
    return result
