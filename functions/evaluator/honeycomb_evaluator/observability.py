"""Logs, metrics and traces through Powertools, the same locally (stdout) and on Lambda.

- Logger: JSON lines with a `correlation_id` per request (ContextVar-backed keys, so concurrent
  requests under uvicorn never mix their ids).
- Metrics: one EMF document per request (`record_request`), with two dimension sets: the
  evaluation's outcome, and the caller. CloudWatch turns the stdout line into metrics on Lambda.
- Tracer: created on first use and only where X-Ray can receive segments (on Lambda with tracing
  not disabled). Importing the X-Ray SDK costs ~250 ms, which must not land on every cold import.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

if TYPE_CHECKING:
    from honeycomb_evaluator.evaluate import EvaluationRecord

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "honeycomb-evaluator"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HoneycombEvaluator"

logger = Logger(service=SERVICE)


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes"}
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    # Only httpx: patching every library (the default) would also import botocore's stack.
    return Tracer(service=SERVICE, patch_modules=["httpx"])


@asynccontextmanager
async def traced(name: str, **annotations: str) -> AsyncIterator[None]:
    """An X-Ray subsegment around a block, or nothing when tracing is off."""
    if not tracing_enabled():
        yield
        return
    tracer = _tracer()
    async with tracer.provider.in_subsegment_async(name) as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key=key, value=value)
        yield


# One reused instance: building a provider per document costs more than the flush itself.
_metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)

# How a request was served → the per-caller metric that counts it.
_SERVED_METRICS = {
    "created": "QueryResultsCreated",
    "joined": "Coalesced",
    "waited": "Coalesced",
    "resumed": "Resumed",
    "memory_cache": "SharedCacheHits",
    "store_cache": "SharedCacheHits",
}


def empty_metrics() -> EphemeralMetrics:
    """The process's metrics instance, emptied, for one EMF document.

    Callers add and flush without awaiting in between, so concurrent requests on the event loop
    cannot interleave inside it.
    """
    _metrics.clear_metrics()
    return _metrics


def record_request(record: EvaluationRecord, *, cache_bytes: int | None = None) -> None:
    """The request's one log line and one EMF document; `cache_bytes` is what this process's
    result cache holds now (a gauge: read its Maximum per instance)."""
    elapsed_ms = record.elapsed_seconds() * 1000
    stats = record.stats
    served = record.served.value if record.served else "unknown"
    caller = record.caller.name if record.caller else "unidentified"
    if record.dataset is not None:  # the body was read: an evaluation happened (or failed)
        fields: dict[str, object] = {
            "outcome": record.outcome,
            "dataset": record.dataset,
            "environment": record.environment,
            "key_id": record.target.key_id if record.target else None,
            "cached": record.cached,
            "elapsed_ms": round(elapsed_ms, 1),
            "honeycomb_ms": round(record.execute_seconds * 1000, 1),
            "honeycomb_requests": stats.requests,
            "polls": stats.polls,
            "retries": stats.retries,
            "rate_limit_remaining": stats.rate_limit.remaining if stats.rate_limit else None,
        }
        if record.verdict is not None:
            fields["verdict"] = record.verdict
        if record.markers:
            fields["markers"] = record.markers
        if record.outcome in ("ok", "no_data"):
            logger.info("evaluation", extra=fields)
        else:
            logger.warning("evaluation failed", extra=fields)
    metrics = empty_metrics()
    metrics.add_dimension(name="outcome", value=record.outcome)
    metrics.add_dimensions(caller=caller)
    count, ms = MetricUnit.Count, MetricUnit.Milliseconds
    metrics.add_metric(name="CallerEvaluations", unit=count, value=1)
    if record.dataset is not None:
        metrics.add_metric(name="Evaluations", unit=count, value=1)
        metrics.add_metric(name="EvaluationLatency", unit=ms, value=elapsed_ms)
        metrics.add_metric(name="HoneycombLatency", unit=ms, value=record.execute_seconds * 1000)
        metrics.add_metric(name="HoneycombPolls", unit=count, value=stats.polls)
        metrics.add_metric(name="CacheHits", unit=count, value=1 if record.cached else 0)
        metrics.add_metric(name="RateLimitHits", unit=count, value=stats.rate_limited)
    if cache_bytes is not None:
        metrics.add_metric(name="ResultCacheBytes", unit=MetricUnit.Bytes, value=cache_bytes)
    if record.status == 503:
        metrics.add_metric(name="RateLimitedAnswers", unit=count, value=1)
    if record.status in (401, 403):
        metrics.add_metric(name="AccessDenied", unit=count, value=1)
    if record.status == 200 and served in _SERVED_METRICS:
        metrics.add_metric(name=_SERVED_METRICS[served], unit=count, value=1)
    metrics.add_metadata(key="served", value=served)
    metrics.add_metadata(key="status", value=record.status)
    if record.environment is not None:
        metrics.add_metadata(key="environment", value=record.environment)
    metrics.flush_metrics()


__all__ = [
    "NAMESPACE",
    "SERVICE",
    "MetricUnit",
    "empty_metrics",
    "logger",
    "record_request",
    "traced",
    "tracing_enabled",
]
