"""OTLP/HTTP traces: protobuf and JSON bodies become events in the service's dataset."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from .conftest import INGEST_KEY, QUERIES_ONLY_KEY, Honeycomb

pytestmark = pytest.mark.servers

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
ROOT_ID = bytes.fromhex("eee19b7ec3c1b174")
CHILD_ID = bytes.fromhex("eee19b7ec3c1b173")


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def export(service: str, start: float) -> ExportTraceServiceRequest:
    ns = int(start * 1e9)
    root = Span(
        trace_id=TRACE_ID,
        span_id=ROOT_ID,
        name="POST /checkout",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=ns,
        end_time_unix_nano=ns + 250_000_000,
        attributes=[kv("http.response.status_code", 500), kv("rollouts_pod_template_hash", "abc123")],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        events=[
            Span.Event(name="exception", time_unix_nano=ns + 1000, attributes=[kv("exception.type", "E")])
        ],
    )
    child = Span(
        trace_id=TRACE_ID,
        span_id=CHILD_ID,
        parent_span_id=ROOT_ID,
        name="SELECT",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=ns + 1_000_000,
        end_time_unix_nano=ns + 21_000_000,
    )
    resource = Resource(attributes=[kv("service.name", service), kv("service.version", "v9")])
    scope = ScopeSpans(spans=[root, child])
    scope.scope.name = "my.tracer"
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope])])


ALL_BREAKDOWNS = ("name", "trace.parent_id", "error", "status_code", "span.kind", "service.version")


def rows(
    honeycomb: Honeycomb, dataset: str, breakdowns: tuple[str, ...] = ALL_BREAKDOWNS
) -> list[dict[str, object]]:
    spec = {
        "calculations": [{"op": "COUNT"}, {"op": "MAX", "column": "duration_ms"}],
        "breakdowns": list(breakdowns),
        "time_range": 600,
    }
    return [r["data"] for r in honeycomb.run(dataset, spec)["data"]["results"]]


def test_protobuf_spans_become_events(honeycomb: Honeycomb) -> None:
    body = export("otlp-proto-svc", time.time() - 120).SerializeToString()
    response = honeycomb.call(
        "POST", "/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}, expect=200
    )
    ExportTraceServiceResponse().ParseFromString(response.content)
    by_name = {r["name"]: r for r in rows(honeycomb, "otlp-proto-svc")}
    root, child = by_name["POST /checkout"], by_name["SELECT"]
    assert root["error"] is True and root["status_code"] == 2 and root["span.kind"] == "server"
    assert root["MAX(duration_ms)"] == 250 and "trace.parent_id" not in root
    assert child["trace.parent_id"] == ROOT_ID.hex() and child["MAX(duration_ms)"] == 20
    assert "error" not in child and child["service.version"] == "v9"
    assert by_name["exception"]["trace.parent_id"] == ROOT_ID.hex()  # the span event
    columns = {c["key_name"] for c in honeycomb.call("GET", "/1/columns/otlp-proto-svc", expect=200).json()}
    assert {
        "trace.trace_id",
        "trace.span_id",
        "service.name",
        "library.name",
        "http.response.status_code",
    } <= columns


def test_json_spans_with_hex_ids_and_gzip(honeycomb: Honeycomb) -> None:
    start = int((time.time() - 120) * 1e9)
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "otlp-json-svc"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE_ID.hex(),
                                "spanId": CHILD_ID.hex(),
                                "parentSpanId": ROOT_ID.hex(),
                                "name": "GET /cart",
                                "kind": 2,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(start + 5_000_000),
                                "attributes": [{"key": "retries", "value": {"intValue": "3"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    body = gzip.compress(json.dumps(doc).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = honeycomb.call("POST", "/v1/traces", key=INGEST_KEY, content=body, headers=headers, expect=200)
    assert response.json() == {}
    (row,) = rows(honeycomb, "otlp-json-svc", ("name", "trace.parent_id", "retries"))
    assert row["retries"] == 3
    assert row["trace.parent_id"] == ROOT_ID.hex() and row["MAX(duration_ms)"] == 5


def test_missing_service_name_lands_in_unknown_service(honeycomb: Honeycomb) -> None:
    request = export("", time.time() - 120)
    body = request.SerializeToString()
    honeycomb.call(
        "POST", "/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}, expect=200
    )
    assert any(
        d["slug"] == "unknown_service" for d in honeycomb.call("GET", "/1/datasets", expect=200).json()
    )


def test_otlp_errors(honeycomb: Honeycomb) -> None:
    proto = {"Content-Type": "application/x-protobuf"}
    honeycomb.call("POST", "/v1/traces", key=None, content=b"", headers=proto, expect=401)
    honeycomb.call("POST", "/v1/traces", key=QUERIES_ONLY_KEY, content=b"", headers=proto, expect=403)
    honeycomb.call("POST", "/v1/traces", content=b"\xff\xff", headers=proto, expect=400)
    honeycomb.call(
        "POST", "/v1/traces", content=b"{", headers={"Content-Type": "application/json"}, expect=400
    )
    honeycomb.call("POST", "/v1/traces", content=b"x", headers={"Content-Type": "text/plain"}, expect=415)
