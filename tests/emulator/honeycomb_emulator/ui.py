"""What the result links point at: ``/ui/{team}/datasets/{ds}/result/{id}`` (an HTML table of the
result) and ``.../snapshot`` (an SVG line chart of the first calculation over time).

Honeycomb's UI is far richer; these pages exist so that links in evaluator answers open
something useful when the emulator stands in for Honeycomb.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import errors
from .catalogue import state_of
from .query_results import is_complete
from .state import ResultRecord

WIDTH, HEIGHT, PAD = 640, 240, 30


def _record(request: Request) -> ResultRecord:
    state = state_of(request)
    record = state.results.get(request.path_params["id"])
    if record is None or record.dataset != request.path_params["dataset"]:
        raise errors.not_found("Query result not found")
    return record


def _data(record: ResultRecord) -> dict[str, Any] | None:
    return record.data if is_complete(record, False) else None


async def result_page(request: Request) -> Response:
    record = _record(request)
    data = _data(record)
    spec = html.escape(json.dumps(record.query, indent=2))
    if data is None:
        body = "<p>Running&hellip; reload in a moment.</p>"
    else:
        rows = [r.get("data", {}) for r in data.get("results", [])]
        columns = sorted({k for r in rows for k in r})
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
            for r in rows
        )
        body = f'<table border="1"><tr>{head}</tr>{cells}</table><p><img src="{record.id}/snapshot"></p>'
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.created_at))
    page = (
        f"<!doctype html><title>Result {record.id}</title>"
        f"<h1>{html.escape(record.dataset)} / {record.id}</h1>"
        f"<p>Created {created} (Honeycomb emulator)</p><pre>{spec}</pre>{body}"
    )
    return HTMLResponse(page)


def first_calculation_key(query: dict[str, Any]) -> str:
    """The result key of the first calculation: ``OP(column)``, or the bare op (``COUNT``)."""
    calcs = query.get("calculations") or [{"op": "COUNT"}]
    first = calcs[0]
    return f"{first['op']}({first['column']})" if first.get("column") else str(first["op"])


async def snapshot(request: Request) -> Response:
    record = _record(request)
    data = _data(record) or {}
    key = first_calculation_key(record.query)
    points = [
        float(item["data"][key])
        for item in data.get("series", [])
        if isinstance(item.get("data", {}).get(key), int | float)
    ]
    top = max(points, default=1.0) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)
    path = " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD):.1f}"
        for i, v in enumerate(points)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{PAD}" y="20" font-family="sans-serif" font-size="12">{html.escape(key)}'
        f" (max {top:g})</text>"
        f'<polyline fill="none" stroke="#f5a623" stroke-width="2" points="{path}"/></svg>'
    )
    return Response(svg, media_type="image/svg+xml")
