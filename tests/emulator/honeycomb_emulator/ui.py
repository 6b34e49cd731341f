"""What the result links point at: ``/ui/{team}/datasets/{ds}/result/{id}`` (an HTML table of the
result) and ``.../snapshot`` (an SVG line chart of the first calculation over time, one line per
breakdown group).

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


# Colours of successive breakdown groups (more groups than colours reuse them, in order).
PALETTE = ("#f5a623", "#4a90d9", "#d0021b", "#7ed321", "#9013fe", "#50e3c2", "#8b572a", "#417505")
LEGEND_LINE = 14
# One breakdown group's points: (ISO time of the bucket, value).
Points = list[tuple[str, float]]


def series_by_group(query: dict[str, Any], series: list[dict[str, Any]], key: str) -> dict[str, Points]:
    """The (time, value) points of each breakdown group, named by its breakdown values.

    Series buckets of all groups come interleaved by time; joining them into one line would draw
    a zig-zag between groups, so each group gets its own line.
    """
    breakdowns = [str(b) for b in query.get("breakdowns") or []]
    groups: dict[str, Points] = {}
    for item in series:
        data = item.get("data", {})
        value = data.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        name = ", ".join(f"{b}={data.get(b)}" for b in breakdowns) or key
        groups.setdefault(name, []).append((str(item.get("time", "")), float(value)))
    return groups


def chart(title: str, groups: dict[str, Points]) -> str:
    """An SVG chart: x is time (shared by all groups), y the value from 0 to the largest."""
    times = sorted({t for points in groups.values() for t, _ in points})
    position = {t: i for i, t in enumerate(times)}
    top = max((v for points in groups.values() for _, v in points), default=1.0) or 1.0
    legend_height = LEGEND_LINE * len(groups) if len(groups) > 1 else 0
    height = HEIGHT + legend_height
    step = (WIDTH - 2 * PAD) / max(1, len(times) - 1)

    def xy(t: str, v: float) -> str:
        return f"{PAD + position[t] * step:.1f},{HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD):.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{PAD}" y="20" font-family="sans-serif" font-size="12">{html.escape(title)}'
        f" (max {top:g})</text>",
    ]
    for index, (name, points) in enumerate(groups.items()):
        colour = PALETTE[index % len(PALETTE)]
        coordinates = " ".join(xy(t, v) for t, v in sorted(points))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}">')
        parts.append(f"<title>{html.escape(name)}</title></polyline>")
        if len(groups) > 1:
            y = HEIGHT + LEGEND_LINE * index + 4
            parts.append(f'<rect x="{PAD}" y="{y - 8}" width="10" height="3" fill="{colour}"/>')
            label = html.escape(name)
            parts.append(
                f'<text x="{PAD + 16}" y="{y}" font-family="sans-serif" font-size="11">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


async def snapshot(request: Request) -> Response:
    record = _record(request)
    data = _data(record) or {}
    key = first_calculation_key(record.query)
    groups = series_by_group(record.query, data.get("series", []), key)
    return Response(chart(key, groups), media_type="image/svg+xml")
