"""Test controls under ``/_emulator`` (not Honeycomb's API; see docs/design.md "Test controls")."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from .catalogue import state_of
from .faults import FaultSpecError, parse_fault


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def stats(request: Request) -> JSONResponse:
    state = state_of(request)
    return JSONResponse(state.stats.snapshot(events=state.store.event_count()))


async def add_fault(request: Request) -> JSONResponse:
    state = state_of(request)
    try:
        body = json.loads(await request.body() or b"null")
        fault = parse_fault(body)
    except (ValueError, FaultSpecError) as e:
        return JSONResponse({"error": f"invalid fault: {e}"}, status_code=400)
    state.faults.add(fault)
    return JSONResponse({"ok": True, "faults": state.faults.active()})


async def list_faults(request: Request) -> JSONResponse:
    return JSONResponse({"faults": state_of(request).faults.active()})


async def clear_faults(request: Request) -> JSONResponse:
    state_of(request).faults.clear()
    return JSONResponse({"ok": True})


async def reset(request: Request) -> JSONResponse:
    state_of(request).reset_controls()
    return JSONResponse({"ok": True})
