"""Markers (``/1/markers/{dataset}``): points or ranges in time drawn on a dataset's graphs.

As Honeycomb's Markers API (official spec, ``Marker`` schema): create (201), list (200),
update (200; a field left out of the body is erased) and delete (200, the deleted marker).
``__all__`` holds environment markers. The key needs the "Manage Markers" permission
(``markers``); an unknown dataset is 404, an unknown marker id 404. ``start_time`` defaults to
the time the request arrives; ``id``, ``created_at``, ``updated_at`` and ``color`` are the
server's. A field of the wrong type is a 422 naming it (Honeycomb answers its ``ValidationFailed``
shape for such bodies).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .bodies import read_api_object
from .catalogue import require_dataset, state_of
from .state import EmulatorState, MarkerRecord

TEXT_FIELDS = ("message", "type", "url")
TIME_FIELDS = ("start_time", "end_time")


def marker_fields(body: dict[str, Any], now: float) -> dict[str, Any]:
    """The writable fields of a marker body, type-checked; `start_time` defaults to now."""
    fields: dict[str, Any] = {}
    for name in TIME_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.invalid(name, f"{name} must be an integer (Unix time)", code="incorrect_type")
        fields[name] = value
    for name in TEXT_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise errors.invalid(name, f"{name} must be a string", code="incorrect_type")
        fields[name] = value
    fields.setdefault("start_time", int(now))
    if "end_time" in fields and fields["end_time"] < fields["start_time"]:
        raise errors.invalid("end_time", "end_time must not be before start_time")
    return fields


def _authorized_dataset(request: Request) -> tuple[EmulatorState, str]:
    state = state_of(request)
    state.keys.require(request.headers, "markers")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    return state, slug


def _marker(state: EmulatorState, slug: str, marker_id: str) -> MarkerRecord:
    marker = state.markers.get(marker_id)
    if marker is None or marker.dataset != slug:
        raise errors.not_found("Marker not found")
    return marker


async def create_marker(request: Request) -> JSONResponse:
    state, slug = _authorized_dataset(request)
    body = await read_api_object(request)
    now = time.time()
    marker = MarkerRecord(secrets.token_hex(3), slug, marker_fields(body, now), now, now)
    with state.lock:
        while marker.id in state.markers:
            marker.id = secrets.token_hex(3)
        state.markers[marker.id] = marker
    return JSONResponse(marker.as_json(), status_code=201)


async def list_markers(request: Request) -> JSONResponse:
    state, slug = _authorized_dataset(request)
    with state.lock:
        markers = [m.as_json() for m in state.markers.values() if m.dataset == slug]
    return JSONResponse(markers)


async def update_marker(request: Request) -> JSONResponse:
    state, slug = _authorized_dataset(request)
    body = await read_api_object(request)
    now = time.time()
    fields = marker_fields(body, now)
    with state.lock:
        marker = _marker(state, slug, request.path_params["id"])
        marker.fields, marker.updated_at = fields, now
        return JSONResponse(marker.as_json())


async def delete_marker(request: Request) -> JSONResponse:
    state, slug = _authorized_dataset(request)
    with state.lock:
        marker = _marker(state, slug, request.path_params["id"])
        del state.markers[marker.id]
    return JSONResponse(marker.as_json())
