"""OTLP/HTTP traces at ``POST /v1/traces`` (protobuf or JSON), turned into events as Honeycomb does.

Each span becomes one event in the dataset named by its resource's ``service.name`` (trimmed;
missing, empty or ``unknown_service:*`` names land in ``unknown_service``), with columns
``name``, ``service.name``, ``duration_ms``, ``trace.trace_id``, ``trace.span_id``,
``trace.parent_id`` (not on roots), ``span.kind``/``type``, ``status_code``, ``status_message``,
``error`` (only ``true``, on ``STATUS_CODE_ERROR``), ``library.name``/``library.version``,
``span.num_events``/``span.num_links``, ``meta.signal_type``, and every resource, scope and span
attribute. Span events and links become their own events (``meta.annotation_type``
``span_event``/``link``) as in Honeycomb. A ``SampleRate``/``sampleRate`` attribute sets the
event's sample rate.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.requests import Request
from starlette.responses import Response

from . import errors
from .bodies import decode, read_raw
from .catalogue import state_of
from .engine import Event
from .ingest import check_ingest_access, store_events

BODY_LIMIT = 5_000_000
DECODED_LIMIT = 20_000_000
UNKNOWN_SERVICE = "unknown_service"
PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
_KINDS = {
    Span.SPAN_KIND_UNSPECIFIED: "unspecified",
    Span.SPAN_KIND_INTERNAL: "internal",
    Span.SPAN_KIND_SERVER: "server",
    Span.SPAN_KIND_CLIENT: "client",
    Span.SPAN_KIND_PRODUCER: "producer",
    Span.SPAN_KIND_CONSUMER: "consumer",
}


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value":
        return json.dumps([any_value(v) for v in value.array_value.values], separators=(",", ":"))
    if kind == "kvlist_value":
        return json.dumps(
            {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}, separators=(",", ":")
        )
    return None


def attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in pairs:
        assert isinstance(kv, KeyValue)
        value = any_value(kv.value)
        if value is not None:
            out[kv.key] = value
    return out


def dataset_for(resource: dict[str, Any]) -> str:
    name = str(resource.get("service.name", "")).strip()
    if not name or name.startswith(UNKNOWN_SERVICE):
        return UNKNOWN_SERVICE
    return name


def _samplerate(attrs: dict[str, Any]) -> int:
    for key in ("SampleRate", "sampleRate"):
        value = attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
            return int(value)
    return 1


def span_events(span: Span, base: dict[str, Any]) -> list[Event]:
    """The span itself, then its span events and links."""
    trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
    span_attrs = attributes(span.attributes)
    data: dict[str, Any] = {
        **base,
        **span_attrs,
        "trace.trace_id": trace_id,
        "trace.span_id": span_id,
        "name": span.name,
        "span.kind": _KINDS.get(span.kind, "unspecified"),
        "type": _KINDS.get(span.kind, "unspecified"),
        "duration_ms": max(0, span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
        "status_code": int(span.status.code),
        "span.num_events": len(span.events),
        "span.num_links": len(span.links),
        "meta.signal_type": "trace",
    }
    if span.parent_span_id:
        data["trace.parent_id"] = span.parent_span_id.hex()
    if span.status.message:
        data["status_message"] = span.status.message
    if span.status.code == Status.STATUS_CODE_ERROR:
        data["error"] = True
    start = span.start_time_unix_nano / 1e9
    rate = _samplerate({**base, **span_attrs})
    events = [Event(time=start, data=data, samplerate=rate)]
    for ev in span.events:
        events.append(
            Event(
                time=ev.time_unix_nano / 1e9 if ev.time_unix_nano else start,
                data={
                    **base,
                    **attributes(ev.attributes),
                    "name": ev.name,
                    "trace.trace_id": trace_id,
                    "trace.parent_id": span_id,
                    "parent_name": span.name,
                    "duration_ms": 0,
                    "meta.annotation_type": "span_event",
                    "meta.signal_type": "trace",
                },
                samplerate=rate,
            )
        )
    for link in span.links:
        events.append(
            Event(
                time=start,
                data={
                    **base,
                    **attributes(link.attributes),
                    "trace.trace_id": trace_id,
                    "trace.parent_id": span_id,
                    "trace.link.trace_id": link.trace_id.hex(),
                    "trace.link.span_id": link.span_id.hex(),
                    "parent_name": span.name,
                    "duration_ms": 0,
                    "meta.annotation_type": "link",
                    "meta.signal_type": "trace",
                },
                samplerate=rate,
            )
        )
    return events


def to_events(request: ExportTraceServiceRequest) -> dict[str, list[Event]]:
    """Events grouped by dataset."""
    by_dataset: dict[str, list[Event]] = defaultdict(list)
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        dataset = dataset_for(resource)
        resource.setdefault("service.name", dataset)
        for scope_spans in resource_spans.scope_spans:
            base = dict(resource)
            base.update(attributes(scope_spans.scope.attributes))
            if scope_spans.scope.name:
                base["library.name"] = scope_spans.scope.name
            if scope_spans.scope.version:
                base["library.version"] = scope_spans.scope.version
            for span in scope_spans.spans:
                by_dataset[dataset].extend(span_events(span, base))
    return by_dataset


def _hex_to_base64(value: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64 for bytes."""
    if not isinstance(value, str) or not value:
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return value


def _items(obj: Any, *names: str) -> list[Any]:
    """The list under the first of ``names`` present (camelCase or snake_case), else []."""
    if isinstance(obj, dict):
        for name in names:
            value = obj.get(name)
            if isinstance(value, list):
                return value
    return []


def _fix_json_ids(doc: Any) -> Any:
    for rs in _items(doc, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans"):
                if not isinstance(span, dict):
                    continue
                for key in ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"):
                    if key in span:
                        span[key] = _hex_to_base64(span[key])
                for link in _items(span, "links"):
                    for key in ("traceId", "trace_id", "spanId", "span_id"):
                        if isinstance(link, dict) and key in link:
                            link[key] = _hex_to_base64(link[key])
    return doc


def parse(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    if content_type in PROTOBUF_TYPES:
        try:
            message.ParseFromString(body)
        except DecodeError as e:
            raise errors.legacy(400, f"could not decode OTLP protobuf body: {e}") from e
        return message
    try:
        doc = _fix_json_ids(json.loads(body))
        json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    except (ValueError, json_format.ParseError, binascii.Error, TypeError, AttributeError) as e:
        raise errors.legacy(400, f"could not decode OTLP JSON body: {e}") from e
    return message


async def traces(request: Request) -> Response:
    state = state_of(request)
    key = state.keys.authenticate(request.headers)
    if not key.allows("events"):
        raise errors.ingest_forbidden("API key is missing the 'Send Events' permission.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (*PROTOBUF_TYPES, "application/json"):
        raise errors.legacy(415, "unsupported Content-Type: use application/x-protobuf or application/json")
    too_large = errors.legacy(413, f"request body is larger than {BODY_LIMIT} bytes")
    raw = await read_raw(request, BODY_LIMIT, too_large)
    raw = decode(raw, request.headers.get("content-encoding"), DECODED_LIMIT, too_large)
    batches = to_events(parse(raw, content_type))
    for dataset in batches:
        check_ingest_access(state, key, dataset)
    for dataset, events in batches.items():
        await store_events(state, dataset, events)
    if content_type == "application/json":
        return Response(b"{}", media_type="application/json")
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")
