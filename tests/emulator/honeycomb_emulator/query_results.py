"""``POST /1/query_results/{dataset}`` and ``GET /1/query_results/{dataset}/{id}``.

The query runs when the result is created (``now`` is captured then, as Honeycomb fixes the
window at creation), in a worker thread, before the 201 is sent; the result then reads
``complete: false`` for ``--result-delay-ms`` after the 201, and ``complete: true`` with ``data``
and the caching headers Honeycomb sends (``Cache-Control: private, max-age=86400``,
``Last-Modified``) after that.
"""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .bodies import read_api_object
from .catalogue import require_dataset, state_of
from .engine import QueryError, resolve_window, run_query, uses_relational_fields
from .ids import new_id
from .queries import derived_aliases, query_error
from .state import EmulatorState, ResultRecord
from .timefmt import http_date

DEFAULT_MAX_LIMIT = 1000
DISABLE_SERIES_MAX_LIMIT = 10_000
CACHE_CONTROL = "private, max-age=86400"


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise errors.invalid(name, f"{name} must be a boolean", code="incorrect_type")
    return value


def links(request: Request, state: EmulatorState, slug: str, result_id: str) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    url = f"{base}/ui/{state.settings.team_slug}/datasets/{slug}/result/{result_id}"
    return {"query_url": url, "graph_image_url": url + "/snapshot"}


def _effective_limit(spec: dict[str, Any], body: dict[str, Any], disable_series: bool) -> int | None:
    """Honeycomb's rule: the request's ``limit`` (up to 10 000) counts only with ``disable_series``;
    otherwise the query's own limit applies, at most 1 000."""
    requested = body.get("limit")
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise errors.invalid("limit", "limit must be an integer", code="incorrect_type")
        if not 1 <= requested <= DISABLE_SERIES_MAX_LIMIT:
            raise errors.invalid("limit", f"limit must be between 1 and {DISABLE_SERIES_MAX_LIMIT}")
    if disable_series and requested is not None:
        return int(requested)
    own = spec.get("limit")
    if isinstance(own, int) and own > DEFAULT_MAX_LIMIT and not disable_series:
        raise errors.invalid(
            "limit", f"limit may only exceed {DEFAULT_MAX_LIMIT} when disable_series is true (max 10000)"
        )
    return None


def _with_derived_columns(state: EmulatorState, slug: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Derived columns are queried by alias; hand their expressions to the engine as calculated fields."""
    aliases = derived_aliases(state, slug)
    if not aliases:
        return spec
    text = repr(spec)
    own = {f.get("name") for f in spec.get("calculated_fields") or [] if isinstance(f, dict)}
    extra = [{"name": a, "expression": e} for a, e in aliases.items() if a not in own and repr(a) in text]
    if not extra:
        return spec
    return {**spec, "calculated_fields": [*(spec.get("calculated_fields") or []), *extra]}


async def create_result(request: Request) -> JSONResponse:
    state = state_of(request)
    key = state.keys.require(request.headers, "queries")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    body = await read_api_object(request)
    query_id = body.get("query_id")
    if query_id is None:
        raise errors.invalid("query_id", "query_id is required", code="missing")
    if not isinstance(query_id, str):
        raise errors.invalid("query_id", "query_id must be a string", code="incorrect_type")
    disable_series = _bool(body, "disable_series", False)
    want_total = not _bool(body, "disable_total_by_aggregate", True)
    want_other = not _bool(body, "disable_other_by_aggregate", True)
    query = state.queries.get(query_id)
    if query is None or query.dataset != slug:
        # "The <dataset> specified in the URL must be the same as what was used to create the Query"
        raise errors.not_found("Query not found")
    spec = query.spec
    limit = _effective_limit(spec, body, disable_series)
    now = time.time()
    try:
        resolve_window(spec, now)
    except QueryError as e:
        raise query_error(e) from e

    relational = uses_relational_fields(spec)
    decision = state.limiter.acquire(key.name, relational)
    if not decision.allowed:
        state.stats.rate_limited(key.name)
        raise errors.rate_limited(decision.limit, decision.headers())

    run_spec = _with_derived_columns(state, slug, spec)
    result_id = new_id()
    delay = state.settings.result_delay_ms / 1000
    record = ResultRecord(
        id=result_id,
        dataset=slug,
        query_id=query_id,
        query={**spec, **({"limit": limit} if limit is not None else {})},
        created_at=now,
        ready_at=0.0,  # set once the run is done
        never_complete=bool(getattr(request.state, "never_complete", False)),
    )

    def run() -> dict[str, Any]:
        state.catch_up()
        return run_query(
            state.store,
            slug,
            run_spec,
            now,
            disable_series=disable_series,
            limit=limit,
            total_by_aggregate=want_total,
            other_by_aggregate=want_other,
        )

    # Run now (in a worker thread) so that a query the engine refuses is refused here, where
    # clients expect 4xx, rather than on a later poll. The attempt has used the key's budget.
    try:
        record.data = without_nulls(await anyio.to_thread.run_sync(run))
    except QueryError as e:
        raise query_error(e) from e
    # The delay counts from the 201, so a client always has `delay` to see complete: false.
    record.ready_at = time.monotonic() + delay
    record.completed_at = time.time() + delay
    state.remember_result(record)
    state.stats.query_result_created(key.name)
    base = str(request.base_url).rstrip("/")
    headers = {"Location": f"{base}/1/query_results/{slug}/{result_id}", **decision.headers()}
    payload = {
        "query": record.query,
        "complete": False,
        "id": result_id,
        "links": links(request, state, slug, result_id),
    }
    return JSONResponse(payload, status_code=201, headers=headers)


def without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """Drop null values from every row: the spec types row values as string, boolean or number,
    so a group whose breakdown column is missing (or an aggregate with no input) leaves the key out."""

    def clean(row: Any) -> Any:
        if isinstance(row, dict) and isinstance(row.get("data"), dict):
            return {**row, "data": {k: v for k, v in row["data"].items() if v is not None}}
        return row

    out: dict[str, Any] = {}
    for name, value in data.items():
        out[name] = [clean(r) for r in value] if isinstance(value, list) else clean(value)
    return out


def is_complete(record: ResultRecord, never_complete: bool) -> bool:
    if never_complete or record.never_complete or record.data is None:
        return False
    return time.monotonic() >= record.ready_at


async def get_result(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "queries")
    slug = request.path_params["dataset"]
    record = state.results.get(request.path_params["id"])
    if record is None or record.dataset != slug:
        raise errors.not_found("Query result not found")
    complete = is_complete(record, bool(getattr(request.state, "never_complete", False)))
    payload: dict[str, Any] = {"query": record.query, "complete": complete, "id": record.id}
    headers: dict[str, str] = {}
    if complete:
        payload["data"] = record.data
        headers = {
            "Cache-Control": CACHE_CONTROL,
            "Last-Modified": http_date(record.completed_at or time.time()),
        }
    payload["links"] = links(request, state, slug, record.id)
    return JSONResponse(payload, headers=headers)
