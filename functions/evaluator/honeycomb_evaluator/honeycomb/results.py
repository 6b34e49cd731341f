"""What a Honeycomb query result looks like once parsed (tolerant of missing parts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QueryResult:
    """`GET /1/query_results/{dataset}/{id}` (or the create answer) reduced to what we use.

    `results` are the summary rows' `data` objects; `series` keeps Honeycomb's
    `{"time": ..., "data": {...}}` items. Both are empty while `complete` is false.
    """

    id: str
    complete: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    query_url: str | None = None
    # The groups beyond the query's limit summed up (asked for with slices), else None.
    other: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, body: Any) -> QueryResult:
        """Parse a result body; raises ValueError when it is not a Honeycomb result."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ValueError("query result without an id")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        assert isinstance(data, dict)
        results = [
            row["data"]
            for row in (data.get("results") or [])
            if isinstance(row, dict) and isinstance(row.get("data"), dict)
        ]
        series = [
            {"time": point.get("time"), "data": point["data"]}
            for point in (data.get("series") or [])
            if isinstance(point, dict) and isinstance(point.get("data"), dict)
        ]
        other = data.get("other_by_aggregate")
        if isinstance(other, dict) and isinstance(other.get("data"), dict):
            other = other["data"]  # the spec's QueryResultsData shape
        links = body.get("links") if isinstance(body.get("links"), dict) else {}
        assert isinstance(links, dict)
        query_url = links.get("query_url")
        return cls(
            id=body["id"],
            complete=bool(body.get("complete")),
            results=results,
            series=series,
            query_url=query_url if _is_web_link(query_url) else None,
            other=other if isinstance(other, dict) else None,
        )


def _is_web_link(url: Any) -> bool:
    """Only an http(s) link is passed on: the answer's `query_url` ends up in UIs (a `javascript:`
    or `data:` URL from a misbehaving upstream must not)."""
    return isinstance(url, str) and url.lower().startswith(("https://", "http://")) and len(url) <= 2048
