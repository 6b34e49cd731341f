"""``POST /1/queries/{dataset}`` and ``GET /1/queries/{dataset}/{id}``.

Creating a query only validates and stores the spec (Honeycomb answers 200 with the spec echoed
plus ``id``); it never runs anything. The same spec on the same dataset gets the same id, which
is what client caches that map spec -> query id expect.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .bodies import read_api_object
from .catalogue import known_columns, require_dataset, state_of
from .engine import ALL_DATASETS, QueryError, normalize_query, unknown_columns
from .ids import stable_id
from .state import EmulatorState, QueryRecord

RELATIONAL_PREFIXES = ("root.", "parent.", "child.", "any.", "any2.", "any3.", "none.")


def query_error(error: QueryError) -> errors.ApiError:
    """The engine's verdict in Honeycomb's shape: 400 legacy text, 422 validation problem."""
    if error.status == 422:
        return errors.invalid(error.field or "query", error.message)
    return errors.bad_request(error.message)


def derived_aliases(state: EmulatorState, slug: str) -> dict[str, str]:
    """Derived columns usable on this dataset: its own plus environment-wide ones."""
    return {
        d.alias: d.expression
        for d in state.derived_columns.values()
        if d.dataset in (slug, ALL_DATASETS) or slug == ALL_DATASETS
    }


def _column_locations(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, column) for every column a spec names, to point a 422 at the right place."""
    for i, calc in enumerate(spec.get("calculations") or []):
        if isinstance(calc, dict) and calc.get("column"):
            yield f"calculations[{i}].column", str(calc["column"])
    for i, flt in enumerate(spec.get("filters") or []):
        if isinstance(flt, dict) and flt.get("column"):
            yield f"filters[{i}].column", str(flt["column"])
    for i, name in enumerate(spec.get("breakdowns") or []):
        yield f"breakdowns[{i}]", str(name)
    for i, order in enumerate(spec.get("orders") or []):
        if isinstance(order, dict) and order.get("column"):
            yield f"orders[{i}].column", str(order["column"])
    for i, having in enumerate(spec.get("havings") or []):
        if isinstance(having, dict) and having.get("column"):
            yield f"havings[{i}].column", str(having["column"])


def _strip_relational(column: str) -> str:
    for prefix in RELATIONAL_PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def check_columns(state: EmulatorState, slug: str, spec: Mapping[str, Any]) -> None:
    """Honeycomb refuses a query that names a column the dataset has never seen."""
    known = known_columns(state, slug) | set(derived_aliases(state, slug))
    missing = set(unknown_columns(spec, known))
    if not missing:
        return
    details = [
        {
            "field": where,
            "code": "invalid",
            "description": f"column '{column}' does not exist in this dataset",
        }
        for where, column in _column_locations(spec)
        if column in missing or _strip_relational(column) in missing
    ] or [
        {"field": "query", "code": "invalid", "description": f"column '{c}' does not exist in this dataset"}
        for c in sorted(missing)
    ]
    raise errors.validation_failed(details)


def _canonical(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


async def create_query(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "columns")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    body = await read_api_object(request)
    body.pop("id", None)  # read-only in the spec; Honeycomb ignores it
    try:
        spec = normalize_query(body)
    except QueryError as e:
        raise query_error(e) from e
    check_columns(state, slug, spec)
    query_id = stable_id("query", slug, _canonical(spec))
    record = QueryRecord(id=query_id, dataset=slug, spec=spec)
    with state.lock:
        state.queries[query_id] = record
    return JSONResponse(record.echo())


async def get_query(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "columns")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    record = state.queries.get(request.path_params["id"])
    if record is None or record.dataset != slug:
        raise errors.not_found("Query not found")
    return JSONResponse(record.echo())
