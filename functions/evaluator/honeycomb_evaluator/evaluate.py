"""One evaluation: validate → resolve key and window → execute → select → answer.

`Evaluator.evaluate(request, record)` returns the response body as a dict or raises one of the
documented errors; what it did (key, calls, how the execution was served) goes into `record`
(record.py), which the app finishes with the answer.
Running the query is the shared executor's job (sharing/executor.py), here and in the CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.callers.registry import ANONYMOUS
from honeycomb_evaluator.honeycomb.client import HoneycombClient, ResultOptions
from honeycomb_evaluator.honeycomb.errors import HoneycombInvalidQuery
from honeycomb_evaluator.keys import KeySource, with_current_key
from honeycomb_evaluator.observability import traced
from honeycomb_evaluator.record import EvaluationRecord
from honeycomb_evaluator.selection import check_match, choose_calculation, select_value
from honeycomb_evaluator.sharing.execution import Execution, ExecutionRequest
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.target import HoneycombTarget
from honeycomb_evaluator.window import resolve_window

if TYPE_CHECKING:
    from honeycomb_evaluator.column_hints import ColumnHints
    from honeycomb_evaluator.markers import MarkerWriter
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.state.base import StateStore


@dataclass
class Evaluator:
    client: HoneycombClient
    keys: KeySource
    executor: SharedExecutor
    # Where a comparison's buckets are kept across looks (judgement/history.py); None: this look only.
    history: StateStore | None = None
    markers: MarkerWriter | None = None  # Honeycomb markers for judged canaries (markers.py)
    # Built on the first query Honeycomb rejects (column_hints.py): not on every cold start.
    hints: ColumnHints | None = field(default=None, init=False)

    async def evaluate(self, request: EvaluateRequest, record: EvaluationRecord) -> dict[str, Any]:
        record.dataset, record.environment = request.dataset, request.environment
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
        with_series = (
            request.include_series or request.over_series or (plan is not None and plan.needs_series)
        )
        spec = query.honeycomb_body(window.start_time, window.end_time)

        async def execute(target: HoneycombTarget) -> Execution:
            record.target = target
            wanted = ExecutionRequest(
                target=target,
                dataset=request.dataset,
                spec=spec,
                # With slices, the groups beyond Honeycomb's limit are counted to be reported.
                options=ResultOptions(
                    disable_series=not with_series,
                    other_by_aggregate=request.compare is not None and request.slices is not None,
                ),
                max_age_seconds=float(request.max_age_seconds),
                deadline=deadline,
                caller=record.caller or ANONYMOUS,
                stats=record.stats,
            )
            started = time.perf_counter()
            try:
                async with traced(
                    "honeycomb.execute", dataset=request.dataset, environment=request.environment
                ):
                    return await self.executor.execute(wanted)
            except HoneycombInvalidQuery as e:
                raise await self._explained(e, wanted) from None
            finally:
                record.execute_seconds += time.perf_counter() - started

        execution = await with_current_key(self.keys, request.environment, deadline, execute)
        record.served, record.fused = execution.served, execution.fused
        record.query_url = execution.result.query_url
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
            record.verdict, record.reason = body.get("verdict"), body.get("reason")
            if self.markers is not None and record.target is not None:
                record.markers = await self.markers.after_judgement(request, record.target, body, deadline)
        body["elapsed_ms"] = round(record.elapsed_ms, 1)
        return body

    async def _explained(self, rejected: HoneycombInvalidQuery, wanted: ExecutionRequest) -> Exception:
        """Honeycomb's rejection, with the columns the dataset lacks and the closest real ones."""
        if self.hints is None:
            from honeycomb_evaluator.column_hints import ColumnHints

            self.hints = ColumnHints(self.client)
        return await self.hints.explain(rejected, wanted.scope(), wanted.spec)
