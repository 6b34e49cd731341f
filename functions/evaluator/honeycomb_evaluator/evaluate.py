"""One evaluation: validate → resolve key and window → execute → select → answer.

`Evaluator.evaluate` returns the response body as a dict or raises `ApiError`; it also writes
the evaluation's log line and metrics. Running the query is delegated to one function,
`execute` (execution.py), which the shared-service layer can replace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.errors import ApiError
from honeycomb_evaluator.execution import Execution, ExecutionRequest, execute
from honeycomb_evaluator.honeycomb.client import CallStats, HoneycombClient, current_stats
from honeycomb_evaluator.honeycomb.errors import HoneycombAuthError
from honeycomb_evaluator.honeycomb.errors import timeout as honeycomb_timeout
from honeycomb_evaluator.keys import KeySource
from honeycomb_evaluator.observability import MetricUnit, emit_metrics, logger, traced
from honeycomb_evaluator.selection import check_match, choose_calculation, select_value
from honeycomb_evaluator.target import HoneycombTarget
from honeycomb_evaluator.window import Window, resolve_window

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest

ExecuteFn = Callable[[HoneycombClient, ExecutionRequest], Awaitable[Execution]]


@dataclass
class Outcome:
    """What one evaluation did, for its log line and metrics (filled in as it goes)."""

    outcome: str = "ok"
    target: HoneycombTarget | None = None
    stats: CallStats = field(default_factory=CallStats)
    cached: bool = False
    # Wall time of the execution step: Honeycomb's latency as the caller experiences it (HTTP
    # calls, polls and the sleeps between them, whoever runs the poll loop).
    execute_seconds: float = 0.0


@dataclass
class Evaluator:
    client: HoneycombClient
    keys: KeySource
    execute: ExecuteFn = execute

    async def evaluate(self, request: EvaluateRequest) -> dict[str, Any]:
        started = time.perf_counter()
        outcome = Outcome()
        token = current_stats.set(outcome.stats)
        try:
            body = await self._evaluate(request, started, outcome)
            if body["value"] is None:
                outcome.outcome = "no_data"
            return body
        except ApiError as e:
            outcome.outcome = e.code
            raise
        except Exception:
            outcome.outcome = "internal_error"  # app.py answers the JSON 500
            raise
        finally:
            current_stats.reset(token)
            self._record(request, outcome, time.perf_counter() - started)

    async def _evaluate(self, request: EvaluateRequest, started: float, outcome: Outcome) -> dict[str, Any]:
        deadline = time.monotonic() + float(request.timeout_seconds)
        calculation = choose_calculation(request)
        check_match(request)
        window = resolve_window(request.query)
        target = await self._resolve_key(request.environment, deadline)
        outcome.target = target
        execute_started = time.perf_counter()
        try:
            async with traced("honeycomb.execute", dataset=request.dataset, environment=request.environment):
                execution = await self._execute_rotating_key(request, target, window, deadline, outcome)
        finally:
            outcome.execute_seconds = time.perf_counter() - execute_started
        outcome.cached = execution.cached
        value = select_value(request, execution.result, calculation)
        result = execution.result
        return {
            "value": value,
            "calculation": calculation,
            "rows": result.results,
            "series": result.series if request.include_series else None,
            "query_url": result.query_url,
            "query_id": execution.query_id,
            "query_result_id": result.id,
            "window": window.as_json(),
            "cached": execution.cached,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def _execute_rotating_key(
        self,
        request: EvaluateRequest,
        target: HoneycombTarget,
        window: Window,
        deadline: float,
        outcome: Outcome,
    ) -> Execution:
        over_series = request.select is not None and request.select.over == "series"
        include_series = request.include_series or over_series

        def execution_request(for_target: HoneycombTarget) -> ExecutionRequest:
            return ExecutionRequest(
                target=for_target,
                dataset=request.dataset,
                spec=request.query.honeycomb_body(window.start_time, window.end_time),
                disable_series=not include_series,
                limit=None,
                max_age_seconds=float(request.max_age_seconds),
                deadline=deadline,
            )

        try:
            return await self.execute(self.client, execution_request(target))
        except HoneycombAuthError:
            # The key may have been rotated since we cached it: refetch once, retry only if it changed.
            fresh = await self._resolve_key(request.environment, deadline, refresh=True)
            if fresh.key_id == target.key_id and fresh.api_url == target.api_url:
                raise
            outcome.target = fresh
            logger.info("honeycomb key refetched after auth failure", extra={"key_id": fresh.key_id})
            return await self.execute(self.client, execution_request(fresh))

    async def _resolve_key(
        self, environment: str, deadline: float, *, refresh: bool = False
    ) -> HoneycombTarget:
        # Reading Secrets Manager is a network call too: it must not outlive the caller's deadline.
        # asyncio.timeout, not wait_for: wait_for runs the coroutine as a task of its own, a
        # measurable part of every evaluation when the key is already cached (nearly always).
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await self.keys.resolve(environment, refresh=refresh)
        except TimeoutError:
            raise honeycomb_timeout("the Honeycomb key could not be read before the deadline") from None

    @staticmethod
    def _record(request: EvaluateRequest, outcome: Outcome, elapsed: float) -> None:
        stats = outcome.stats
        honeycomb_ms = outcome.execute_seconds * 1000
        fields = {
            "outcome": outcome.outcome,
            "dataset": request.dataset,
            "environment": request.environment,
            "key_id": outcome.target.key_id if outcome.target else None,
            "cached": outcome.cached,
            "elapsed_ms": round(elapsed * 1000, 1),
            "honeycomb_ms": round(honeycomb_ms, 1),
            "honeycomb_requests": stats.requests,
            "polls": stats.polls,
            "retries": stats.retries,
            "rate_limit_remaining": stats.rate_limit.remaining if stats.rate_limit else None,
        }
        if outcome.outcome in ("ok", "no_data"):
            logger.info("evaluation", extra=fields)
        else:
            logger.warning("evaluation failed", extra=fields)
        values: dict[str, tuple[float, MetricUnit]] = {
            "EvaluationLatency": (elapsed * 1000, MetricUnit.Milliseconds),
            "HoneycombLatency": (honeycomb_ms, MetricUnit.Milliseconds),
            "HoneycombPolls": (stats.polls, MetricUnit.Count),
            "CacheHits": (1 if outcome.cached else 0, MetricUnit.Count),
            "RateLimitHits": (stats.rate_limited, MetricUnit.Count),
        }
        emit_metrics(outcome.outcome, environment=request.environment, values=values)
