"""Honeycomb's event API: ``POST /1/events/{dataset}`` and ``POST /1/batch/{dataset}``.

A batch answers 200 with one ``{"status": 202}`` (or ``{"status": 400, "error": ...}``) per
event, in order, as Honeycomb does; a single event answers 200 with an empty body. Dataset names
are case-insensitive and the first casing seen is kept (the store derives the slug).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import errors
from .auth import ApiKey
from .bodies import decode, read_raw
from .catalogue import state_of
from .engine import Event, slugify
from .state import EmulatorState
from .timefmt import parse_event_time

EVENT_BODY_LIMIT = 1_000_000  # /1/events: "limited to raw (potentially compressed) size of 1MB"
BATCH_BODY_LIMIT = 5_000_000  # /1/batch: Honeycomb's documented batch request limit
MAX_COLUMNS = 2000


def too_large() -> errors.ApiError:
    return errors.legacy(400, "Request body is too large.")


def check_ingest_access(state: EmulatorState, key: ApiKey, dataset: str) -> None:
    """Sending needs ``events``; landing in a new dataset also needs ``createDatasets``."""
    if not key.allows("events"):
        raise errors.ingest_forbidden("API key is missing the 'Send Events' permission.")
    if not dataset.strip():
        raise errors.not_found("Dataset not found")
    exists = state.store.has_dataset(slugify(dataset))
    if not exists and not key.allows("createDatasets"):
        raise errors.not_found("Dataset not found")


def clean_data(data: dict[str, Any]) -> dict[str, Any]:
    """Honeycomb drops null fields and keeps nested JSON as text (expand_json_depth is 0)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, separators=(",", ":"))
        out[str(key)] = value
    return out


def event_from_batch_item(item: Any, received: float) -> Event | str:
    """An Event, or the error text Honeycomb would put in this item's status."""
    if not isinstance(item, dict):
        return "Event must be a JSON object."
    data = item.get("data")
    if not isinstance(data, dict):
        return "Event has no data object."
    if len(data) > MAX_COLUMNS:
        return "Event has too many columns."
    when = received
    if item.get("time") is not None:
        parsed = parse_event_time(item["time"])
        if parsed is None:
            return f"Event time could not be parsed: {item['time']!r}."
        when = parsed
    samplerate = item.get("samplerate", 1)
    if samplerate is None:
        samplerate = 1
    if isinstance(samplerate, bool) or not isinstance(samplerate, int | float) or samplerate < 1:
        return "Event samplerate must be a positive integer."
    return Event(time=when, data=clean_data(data), samplerate=int(samplerate))


async def store_events(state: EmulatorState, dataset: str, events: Sequence[Event]) -> None:
    if events:
        await anyio.to_thread.run_sync(state.store.add_events, dataset, list(events))


async def batch(request: Request) -> JSONResponse:
    state = state_of(request)
    key = state.keys.authenticate(request.headers)
    dataset = request.path_params["dataset"]
    check_ingest_access(state, key, dataset)
    raw = await read_raw(request, BATCH_BODY_LIMIT, too_large())
    encoding = request.headers.get("content-encoding")
    # Decoding, parsing and storing run in a worker thread so a big batch does not hold up
    # other requests (result polls, say) on the event loop.
    statuses = await anyio.to_thread.run_sync(_ingest_batch, state, dataset, raw, encoding)
    return JSONResponse(statuses)


def _ingest_batch(
    state: EmulatorState, dataset: str, raw: bytes, encoding: str | None
) -> list[dict[str, Any]]:
    raw = decode(raw, encoding, BATCH_BODY_LIMIT * 4, too_large())
    if not raw.strip():
        raise errors.legacy(400, "Request body should not be empty.")
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.legacy(400, "Request body is malformed and cannot be read.") from e
    if not isinstance(items, list):
        raise errors.legacy(400, "Request body is malformed and cannot be read.")
    received = time.time()
    statuses: list[dict[str, Any]] = []
    good: list[Event] = []
    for item in items:
        outcome = event_from_batch_item(item, received)
        if isinstance(outcome, str):
            statuses.append({"status": 400, "error": outcome})
        else:
            good.append(outcome)
            statuses.append({"status": 202})
    if good:
        state.store.add_events(dataset, good)
    return statuses


async def single_event(request: Request) -> Response:
    state = state_of(request)
    key = state.keys.authenticate(request.headers)
    dataset = request.path_params["dataset"]
    check_ingest_access(state, key, dataset)
    raw = await read_raw(request, EVENT_BODY_LIMIT, too_large())
    raw = decode(raw, request.headers.get("content-encoding"), EVENT_BODY_LIMIT * 4, too_large())
    if not raw.strip():
        raise errors.legacy(400, "Request body should not be empty.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.legacy(400, "Request body is malformed and cannot be read.") from e
    if not isinstance(data, dict):
        raise errors.legacy(400, "Request body is malformed and cannot be read.")
    if len(data) > MAX_COLUMNS:
        raise errors.legacy(400, "Event has too many columns.")
    when = time.time()
    header_time = request.headers.get("x-honeycomb-event-time")
    if header_time:
        parsed = parse_event_time(header_time)
        if parsed is None:
            raise errors.legacy(400, f"X-Honeycomb-Event-Time could not be parsed: {header_time!r}")
        when = parsed
    samplerate = 1
    header_rate = request.headers.get("x-honeycomb-samplerate")
    if header_rate:
        if not header_rate.strip().isdigit() or int(header_rate) < 1:
            raise errors.legacy(400, "X-Honeycomb-Samplerate must be a positive integer")
        samplerate = int(header_rate)
    await store_events(state, dataset, [Event(time=when, data=clean_data(data), samplerate=samplerate)])
    return Response(status_code=200)
