"""The app `honeycomb-evaluator serve` runs: the evaluator, plus what a cluster expects of it.

- GET /metrics (unless EVALUATOR_METRICS=false): Prometheus exposition (prometheus.py), with
  state-store failures counted at the store (store.py);
- with OTLP tracing configured: one span per request, the Honeycomb calls as its children
  (tracing.py). Without it nothing of OpenTelemetry is imported.

`ObservedApp` is the outermost ASGI layer, so refusals made before the app (503 overloaded)
are counted and traced too.
"""

from __future__ import annotations

import atexit
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from honeycomb_evaluator import spans
from honeycomb_evaluator.app import create_app
from honeycomb_evaluator.service import build_service, build_store
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.state.base import StateStore

if TYPE_CHECKING:
    from honeycomb_evaluator.telemetry.prometheus import PrometheusMetrics
    from honeycomb_evaluator.telemetry.tracing import OtelTracer


@dataclass
class ObservedApp:
    """ASGI: /metrics answered here; every other request timed, counted and traced around `app`."""

    app: Any
    metrics: PrometheusMetrics | None = None
    tracer: OtelTracer | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/metrics" and self.metrics is not None:
            await self.metrics.asgi(scope, receive, send)
            return
        status = 500  # if the app never answers (it always does)

        async def answer(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        traced = self.tracer.server_span(method, path, headers) if self.tracer else nullcontext(spans.NO_SPAN)
        if self.metrics is not None:
            self.metrics.in_progress.inc()
        try:
            with traced as span:
                await self.app(scope, receive, answer)
                span.set({"http.response.status_code": status})
        finally:
            if self.metrics is not None:
                self.metrics.in_progress.dec()
                self.metrics.answered(path, status)


def served_app(settings: Settings) -> Any:
    """The evaluator app as `serve` runs it, with the telemetry `settings.telemetry` asks for."""
    telemetry = settings.telemetry
    store = build_store(settings.state, settings.result_cache_bytes)
    metrics: PrometheusMetrics | None = None
    if telemetry.metrics:
        from honeycomb_evaluator.telemetry.prometheus import PrometheusMetrics
        from honeycomb_evaluator.telemetry.store import CountingStore

        metrics = PrometheusMetrics(store.name)
        # CountingStore offers every StateStore operation (through __getattr__).
        service = build_service(
            settings, store=cast(StateStore, CountingStore(store, metrics.count_state_error))
        )
        metrics.watch(
            service.budget, lambda: service.result_cache_bytes, lambda: service.executions_in_progress
        )
        service.observers.append(metrics.observe)
    else:
        service = build_service(settings, store=store)
    tracer: OtelTracer | None = None
    if telemetry.otlp_traces:
        from honeycomb_evaluator.telemetry.tracing import OtelTracer, annotate_current_span

        tracer = OtelTracer()
        spans.install(tracer)
        atexit.register(tracer.shutdown)
        service.observers.append(annotate_current_span)
    return ObservedApp(create_app(service=service), metrics, tracer)
