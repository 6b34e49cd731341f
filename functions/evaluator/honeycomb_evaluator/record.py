"""What one request did, and the one place a finished request is observed.

Every route fills one `EvaluationRecord` as it goes (the caller, the dataset, the key id, the
Honeycomb calls, how the execution was served, a judgement's verdict and markers). When the
answer is decided the app calls `finish` with it, which sets `status` and `outcome` (nowhere else
sets them) and writes what the request leaves behind: one JSON log line and one EMF document
(CloudWatch turns the stdout line into metrics on Lambda), then tells the record's `observers`.

`Observer` is the one port through which anything else sees a finished request: `serve`'s
Prometheus metrics and its OpenTelemetry span (telemetry/) are observers the app's `Service`
carries. They import this module; it imports none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from honeycomb_evaluator.callers.registry import Caller
from honeycomb_evaluator.errors import answer_for
from honeycomb_evaluator.honeycomb.client import CallStats
from honeycomb_evaluator.observability import NAMESPACE, SERVICE, logger
from honeycomb_evaluator.sharing.execution import Served
from honeycomb_evaluator.target import HoneycombTarget

OK = "ok"
NO_DATA = "no_data"

# Something told of every finished request (after its log line). It must not raise; if it
# does, the failure is logged and the answer stays as it is.
Observer = Callable[["EvaluationRecord"], None]


@dataclass
class EvaluationRecord:
    """What one request did, for its log line and metrics (filled in as it goes)."""

    caller: Caller | None = None
    dataset: str | None = None  # set once the body is read: an evaluation happened (or failed)
    environment: str | None = None
    outcome: str = OK  # an error code, `no_data`, or `ok` (set by `finish`)
    status: int = 500
    target: HoneycombTarget | None = None
    stats: CallStats = field(default_factory=CallStats)
    served: Served | None = None
    fused: bool = False  # answered from a query fused with other checks' (sharing/fusion.py)
    query_url: str | None = None
    verdict: str | None = None  # with `judge` or `scorecard`
    reason: str | None = None  # with `compare`
    markers: dict[str, str] = field(default_factory=dict)  # marker event → what became of it
    # Wall time of the execution step: Honeycomb's latency as the caller experiences it (HTTP
    # calls, polls and the sleeps between them, whoever runs the poll loop).
    execute_seconds: float = 0.0
    result_cache_bytes: int | None = None  # what this process's result cache holds now (a gauge)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    observers: Sequence[Observer] = ()

    @property
    def cached(self) -> bool:
        return self.served is not None and self.served is not Served.CREATED

    @property
    def elapsed_ms(self) -> float:
        end = self.finished if self.finished is not None else time.perf_counter()
        return (end - self.started) * 1000

    def finish(self, status: int, answer: Mapping[str, Any] | BaseException) -> None:
        """The request is answered (a body, or the error it became): its outcome, log line and metrics."""
        self.finished = time.perf_counter()
        self.status = status
        self.outcome = outcome_of(answer)
        write_log_line(self)
        write_metrics(self)
        for observer in self.observers:
            try:
                observer(self)
            except Exception:  # what watches a request never changes its answer
                logger.exception("request observer failed")


def outcome_of(answer: Mapping[str, Any] | BaseException) -> str:
    """An error's code (raised, or in a body such as a failed Flagger check), `no_data`, or `ok`."""
    if isinstance(answer, BaseException):
        return answer_for(answer).code
    error = answer.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("code"), str):
        return str(error["code"])
    return NO_DATA if "value" in answer and answer["value"] is None else OK


def write_log_line(record: EvaluationRecord) -> None:
    """The evaluation's one log line (none for a request refused before its body was read)."""
    if record.dataset is None:
        return
    stats = record.stats
    fields: dict[str, object] = {
        "outcome": record.outcome,
        "dataset": record.dataset,
        "environment": record.environment,
        "key_id": record.target.key_id if record.target else None,
        "cached": record.cached,
        "elapsed_ms": round(record.elapsed_ms, 1),
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
    if record.outcome in (OK, NO_DATA):
        logger.info("evaluation", extra=fields)
    else:
        logger.warning("evaluation failed", extra=fields)


# One reused instance: building a provider per document costs more than the flush itself.
# Documents are added and flushed without an await in between, so concurrent requests on the
# event loop cannot interleave inside it.
_metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)

# How a request was served → the per-caller metric that counts it.
_SERVED_METRICS = {
    Served.CREATED: "QueryResultsCreated",
    Served.JOINED: "Coalesced",
    Served.WAITED: "Coalesced",
    Served.RESUMED: "Resumed",
    Served.MEMORY_CACHE: "SharedCacheHits",
    Served.STORE_CACHE: "SharedCacheHits",
}


def write_metrics(record: EvaluationRecord) -> None:
    """The request's one EMF document, with two dimension sets: its outcome, and its caller."""
    metrics = _metrics
    metrics.clear_metrics()
    metrics.add_dimension(name="outcome", value=record.outcome)
    metrics.add_dimensions(caller=record.caller.name if record.caller else "unidentified")
    count, ms = MetricUnit.Count, MetricUnit.Milliseconds
    metrics.add_metric(name="CallerEvaluations", unit=count, value=1)
    if record.dataset is not None:
        stats = record.stats
        metrics.add_metric(name="Evaluations", unit=count, value=1)
        metrics.add_metric(name="EvaluationLatency", unit=ms, value=record.elapsed_ms)
        metrics.add_metric(name="HoneycombLatency", unit=ms, value=record.execute_seconds * 1000)
        metrics.add_metric(name="HoneycombPolls", unit=count, value=stats.polls)
        metrics.add_metric(name="CacheHits", unit=count, value=1 if record.cached else 0)
        metrics.add_metric(name="RateLimitHits", unit=count, value=stats.rate_limited)
    if record.result_cache_bytes is not None:
        # Read its Maximum per instance.
        metrics.add_metric(name="ResultCacheBytes", unit=MetricUnit.Bytes, value=record.result_cache_bytes)
    if record.status == 503:
        metrics.add_metric(name="RateLimitedAnswers", unit=count, value=1)
    if record.status in (401, 403):
        metrics.add_metric(name="AccessDenied", unit=count, value=1)
    if record.status == 200 and record.served is not None:
        metrics.add_metric(name=_SERVED_METRICS[record.served], unit=count, value=1)
    metrics.add_metadata(key="served", value=record.served.value if record.served else "unknown")
    metrics.add_metadata(key="status", value=record.status)
    if record.environment is not None:
        metrics.add_metadata(key="environment", value=record.environment)
    metrics.flush_metrics()
