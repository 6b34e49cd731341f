"""The evaluator's own traces over OTLP/HTTP, with OpenTelemetry's SDK (the `otel` extra).

`serve` imports this only when OTLP tracing is configured (settings.otlp_traces_wanted); the
SDK and the exporter read OpenTelemetry's standard variables themselves
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, ...). To Honeycomb:
OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io and
OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<ingest key>; that key travels in a header only.

One server span per request (continuing a caller's `traceparent`), the evaluation's attributes
set on it when the request finishes (`evaluation_attributes`), and one child span per HTTP call
to Honeycomb (honeycomb/client.py through spans.py). The Honeycomb query key is in no attribute:
spans carry its non-secret `key_id` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from honeycomb_evaluator import __version__, spans

if TYPE_CHECKING:
    from honeycomb_evaluator.record import EvaluationRecord

SERVICE_NAME = "honeycomb-evaluator"


class _Span:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, attributes: Mapping[str, spans.Attribute | None]) -> None:
        self._span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def failed(self, error_type: str) -> None:
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR, error_type))


def _resource() -> Resource:
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win; without them the service is named for us.
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    return resource


class OtelTracer:
    """`spans.Tracer` on OpenTelemetry's SDK, batching spans to the OTLP/HTTP exporter."""

    def __init__(self, exporter: Any = None) -> None:
        self.provider = TracerProvider(resource=_resource())
        self.provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
        self._tracer = self.provider.get_tracer("honeycomb_evaluator", __version__)

    @contextmanager
    def _started(self, name: str, **options: Any) -> Iterator[spans.Span]:
        # Exceptions are not recorded: their messages could quote what a caller sent. `failed`
        # marks errors by type instead.
        with self._tracer.start_as_current_span(
            name, record_exception=False, set_status_on_exception=False, **options
        ) as span:
            yield _Span(span)

    def span(
        self, name: str, attributes: Mapping[str, spans.Attribute | None]
    ) -> AbstractContextManager[spans.Span]:
        clean = {k: v for k, v in attributes.items() if v is not None}
        return self._started(name, attributes=clean, kind=SpanKind.CLIENT)

    def server_span(
        self, method: str, route: str, headers: Mapping[str, str]
    ) -> AbstractContextManager[spans.Span]:
        """A request's span, the child of the caller's `traceparent` if it sent one."""
        attributes = {"http.request.method": method, "http.route": route}
        context = propagate.extract(headers)
        return self._started(
            f"{method} {route}", context=context, kind=SpanKind.SERVER, attributes=attributes
        )

    def current(self) -> spans.Span:
        return _Span(trace.get_current_span())

    def shutdown(self) -> None:
        """Send what is batched (at exit)."""
        self.provider.shutdown()


def evaluation_attributes(record: EvaluationRecord) -> dict[str, spans.Attribute | None]:
    """What one request did, as attributes of its span (the Honeycomb key is not among them)."""
    stats = record.stats
    attributes: dict[str, spans.Attribute | None] = {
        "evaluation.caller": record.caller.name if record.caller else "unidentified",
        "evaluation.dataset": record.dataset,
        "evaluation.environment": record.environment,
        "evaluation.key_id": record.target.key_id if record.target else None,
        "evaluation.outcome": record.outcome,
        "evaluation.served": record.served.value if record.served else None,
        "evaluation.fused": record.fused if record.served else None,
        "evaluation.cached": record.cached if record.served else None,
        "evaluation.verdict": record.verdict,
        "evaluation.reason": record.reason,
        "evaluation.query_url": record.query_url,
        "evaluation.honeycomb_ms": round(record.execute_seconds * 1000, 1) if record.served else None,
        "evaluation.honeycomb_requests": stats.requests,
        "evaluation.polls": stats.polls,
        "evaluation.retries": stats.retries,
        "http.response.status_code": record.status,
    }
    for event, outcome in record.markers.items():
        attributes[f"evaluation.marker.{event}"] = outcome
    return attributes


def annotate_current_span(record: EvaluationRecord) -> None:
    """The request observer: the finished evaluation's attributes on the request's span."""
    span = spans.current()
    span.set(evaluation_attributes(record))
    if record.status >= 500:
        span.failed(record.outcome)
