"""One evaluation: validate → resolve key and window → execute → select → answer.

`Evaluator.evaluate(request, record)` returns the response body as a dict or raises one of the
documented errors; what it did (key, calls, how the execution was served, outcome) goes into
`record`, from which the app writes the request's one log line and one metrics document.
Running the query is the shared executor's job (sharing/executor.py), here and in the CLI.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.callers.registry import ANONYMOUS, Caller
from honeycomb_evaluator.errors import DeadlineExceeded, answer_for
from honeycomb_evaluator.honeycomb.client import CallStats, HoneycombClient, ResultOptions
from honeycomb_evaluator.honeycomb.errors import HoneycombAuthRejected, HoneycombInvalidQuery
from honeycomb_evaluator.keys import KeySource
from honeycomb_evaluator.observability import logger, traced
from honeycomb_evaluator.selection import check_match, choose_calculation, select_value
from honeycomb_evaluator.sharing.execution import Execution, ExecutionRequest, Served
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.target import HoneycombTarget
from honeycomb_evaluator.window import resolve_window

if TYPE_CHECKING:
    from honeycomb_evaluator.column_hints import ColumnHints
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.sharing.backends.base import StateStore


@dataclass
class EvaluationRecord:
    """What one request did, for its log line and metrics (filled in as it goes)."""

    caller: Caller | None = None
    dataset: str | None = None
    environment: str | None = None
    outcome: str = "ok"  # an error code, `no_data`, or `ok`
    status: int = 500
    target: HoneycombTarget | None = None
    stats: CallStats = field(default_factory=CallStats)
    served: Served | None = None
    # Wall time of the execution step: Honeycomb's latency as the caller experiences it (HTTP
    # calls, polls and the sleeps between them, whoever runs the poll loop).
    execute_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def cached(self) -> bool:
        return self.served is not None and self.served is not Served.CREATED


@dataclass
class Evaluator:
    client: HoneycombClient
    keys: KeySource
    executor: SharedExecutor
    # Where a comparison's buckets are kept across looks (judgement/history.py); None: this look only.
    history: StateStore | None = None
    # Built on the first query Honeycomb rejects (column_hints.py): not on every cold start.
    hints: ColumnHints | None = field(default=None, init=False)

    async def evaluate(self, request: EvaluateRequest, record: EvaluationRecord) -> dict[str, Any]:
        record.dataset, record.environment = request.dataset, request.environment
        try:
            body = await self._evaluate(request, record)
        except Exception as e:
            record.outcome = answer_for(e).code
            raise
        if body["value"] is None:
            record.outcome = "no_data"
        return body

    async def _evaluate(self, request: EvaluateRequest, record: EvaluationRecord) -> dict[str, Any]:
        deadline = time.monotonic() + float(request.timeout_seconds)
        # A scorecard's metrics name their calculations; anything else reads one.
        calculation = choose_calculation(request) if request.scorecard is None else None
        check_match(request)
        # With compare, ONE query answers both groups (judgement/query.py), checked before any call.
        plan = None
        if request.compare is not None:
            # Loaded on the first comparison: every cold start would pay for it otherwise.
            from honeycomb_evaluator.judgement.query import plan_comparison

            plan = plan_comparison(request, calculation)
        window = resolve_window(request.query)
        query = plan.query if plan is not None else request.query
        over_series = request.select is not None and request.select.over == "series"
        with_series = request.include_series or over_series or (plan is not None and plan.needs_series)
        spec = query.honeycomb_body(window.start_time, window.end_time)
        record.target = await self._resolve_key(request.environment, deadline)
        execute_started = time.perf_counter()
        try:
            async with traced("honeycomb.execute", dataset=request.dataset, environment=request.environment):
                execution = await self._execute_rotating_key(request, record, spec, with_series, deadline)
        finally:
            record.execute_seconds = time.perf_counter() - execute_started
        record.served = execution.served
        result = execution.result
        value = select_value(request, result, calculation) if plan is None and calculation else None
        body: dict[str, Any] = {
            "value": value,
            "calculation": plan.calculation if plan is not None else calculation,
            "rows": result.results,
            "series": result.series if request.include_series else None,
            "query_url": result.query_url,
            "query_id": execution.query_id,
            "query_result_id": result.id,
            "window": window.as_json(),
            "cached": execution.cached,
        }
        if plan is not None:
            from honeycomb_evaluator.judgement.judge import HistoryScope, judge_comparison

            caller = (record.caller or ANONYMOUS).name
            scope = HistoryScope(self.history, caller, request.environment, request.dataset)
            body.update(await judge_comparison(request, plan, result, window, scope))
        body["elapsed_ms"] = round((time.perf_counter() - record.started) * 1000, 1)
        return body

    async def _execute_rotating_key(
        self,
        request: EvaluateRequest,
        record: EvaluationRecord,
        spec: dict[str, Any],
        with_series: bool,
        deadline: float,
    ) -> Execution:
        def execution_request(target: HoneycombTarget) -> ExecutionRequest:
            return ExecutionRequest(
                target=target,
                dataset=request.dataset,
                spec=spec,
                options=ResultOptions(disable_series=not with_series),
                max_age_seconds=float(request.max_age_seconds),
                deadline=deadline,
                caller=record.caller or ANONYMOUS,
                stats=record.stats,
            )

        assert record.target is not None
        try:
            return await self.executor.execute(self.client, execution_request(record.target))
        except HoneycombInvalidQuery as e:
            rejected = execution_request(record.target)
            if self.hints is None:
                from honeycomb_evaluator.column_hints import ColumnHints

                self.hints = ColumnHints(self.client)
            raise await self.hints.explain(e, rejected.scope(), rejected.spec) from None
        except HoneycombAuthRejected:
            # The key may have been rotated since we cached it: refetch once, retry only if it changed.
            fresh = await self._resolve_key(request.environment, deadline, refresh=True)
            if fresh.key_id == record.target.key_id and fresh.api_url == record.target.api_url:
                raise
            record.target = fresh
            logger.info("honeycomb key refetched after auth failure", extra={"key_id": fresh.key_id})
            return await self.executor.execute(self.client, execution_request(fresh))

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
            raise DeadlineExceeded("the Honeycomb key could not be read before the deadline") from None
