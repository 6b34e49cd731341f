"""What the shared executor is asked for and what it answers (the types both sides share)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from honeycomb_evaluator.callers.registry import ANONYMOUS, Caller
from honeycomb_evaluator.honeycomb.client import CallStats, HoneycombClient, ResultOptions, Scope
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.state.base import ExecutionRecord
from honeycomb_evaluator.target import HoneycombTarget

from .codec import decode_result, encode_result


class Served(Enum):
    """How a request's execution was answered (logs and the per-caller metrics)."""

    MEMORY_CACHE = "memory_cache"
    STORE_CACHE = "store_cache"
    JOINED = "joined"  # another request of this process was already running it
    WAITED = "waited"  # another instance finished it while this one waited
    RESUMED = "resumed"  # polled a result another instance created
    CREATED = "created"


@dataclass(frozen=True)
class ExecutionRequest:
    """One run of `spec` (absolute, snapped `start_time`/`end_time`) on behalf of `caller`."""

    target: HoneycombTarget
    dataset: str
    spec: dict[str, Any]
    options: ResultOptions
    max_age_seconds: float
    deadline: float  # time.monotonic() instant
    caller: Caller = ANONYMOUS
    stats: CallStats = field(default_factory=CallStats)  # the calls made for this request
    leave_tokens: int = 0  # budget tokens its creation must leave free (fusion.py: a first check)

    def scope(self, deadline: float | None = None) -> Scope:
        return Scope(self.target, self.dataset, self.deadline if deadline is None else deadline, self.stats)


@dataclass(frozen=True)
class Execution:
    result: QueryResult
    query_id: str
    served: Served
    fused: bool = False  # answered from a query fused with other checks' (fusion.py)

    @property
    def cached(self) -> bool:
        """True when no new query result was created for this request."""
        return self.served is not Served.CREATED


@dataclass(frozen=True)
class Outcome:
    """What a flight produced: the result, and how (for the request that started it)."""

    result: QueryResult
    query_id: str
    how: Served
    size: int  # bytes of the result's JSON, for the cache's byte bound


async def completed_result(
    client: HoneycombClient, scope: Scope, record: ExecutionRecord
) -> tuple[QueryResult, int]:
    """The result a complete record stands for, and its size: in the record, or read again."""
    if record.result is not None:
        return decode_result(record.result)
    # Too large to share through the store: a completed result can be read again for free.
    assert record.result_id is not None
    result = await client.get_query_result(scope, record.result_id)
    return result, encode_result(result).size
