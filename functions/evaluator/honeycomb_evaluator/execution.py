"""Run one Honeycomb query to completion: the single step evaluate.py delegates to Honeycomb.

Stable interface (the served app replaces `execute` with `sharing.SharedExecutor.execute`):

    execution = await execute(client, ExecutionRequest(target, dataset, spec, disable_series=..., limit=...,
                                                       max_age_seconds=..., deadline=...))
    execution.result      # a complete QueryResult
    execution.query_id    # Honeycomb's query id
    execution.cached      # True when no new query result was created for this call

`spec` is the query exactly as sent to Honeycomb (absolute, snapped `start_time`/`end_time`).
This module's `execute` is the plain, stateless run used by the one-shot CLI (one request per
process, so nothing could be reused). Everything that makes repeated calls cheap — query-id and
result caches, coalescing, resuming a pending result, the rate budget — lives in `sharing/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.target import HoneycombTarget


@dataclass(frozen=True)
class ExecutionRequest:
    target: HoneycombTarget
    dataset: str
    spec: dict[str, Any]
    disable_series: bool
    limit: int | None
    max_age_seconds: float
    deadline: float  # time.monotonic() instant


@dataclass(frozen=True)
class Execution:
    result: QueryResult
    query_id: str
    cached: bool


async def execute(client: HoneycombClient, request: ExecutionRequest) -> Execution:
    query_id = await client.create_query(
        request.target, request.dataset, request.spec, deadline=request.deadline
    )
    created = await client.create_query_result(
        request.target,
        request.dataset,
        query_id,
        disable_series=request.disable_series,
        limit=request.limit,
        deadline=request.deadline,
    )
    if created.complete and (created.results or created.series):
        return Execution(result=created, query_id=query_id, cached=False)
    result = await client.wait_for_result(request.target, request.dataset, created.id, request.deadline)
    return Execution(result=result, query_id=query_id, cached=False)
