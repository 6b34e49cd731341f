"""Derived columns (``/1/derived_columns/{dataset}``, "Calculated Fields"): named expressions.

They exist here mainly as SLIs: an SLO's ``sli.alias`` names a derived column whose expression
yields true (good), false (bad) or null (not counted). Queries may use them by alias too; the
server hands their expressions to the engine as calculated fields.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .bodies import read_api_object
from .catalogue import known_columns, require_dataset, state_of
from .engine import ALL_DATASETS, QueryError, normalize_query
from .ids import new_id
from .state import DerivedColumn, EmulatorState
from .timefmt import rfc3339


def derived_json(column: DerivedColumn) -> dict[str, Any]:
    return {
        "id": column.id,
        "alias": column.alias,
        "expression": column.expression,
        "description": column.description,
        "created_at": rfc3339(column.created_at),
        "updated_at": rfc3339(column.updated_at),
    }


def check_expression(alias: str, expression: str) -> None:
    """Let the engine parse the expression (422 naming ``expression`` if it cannot)."""
    try:
        normalize_query(
            {
                "calculations": [{"op": "COUNT"}],
                "calculated_fields": [{"name": alias, "expression": expression}],
            }
        )
    except QueryError as e:
        raise errors.invalid("expression", e.message) from e


def define(
    state: EmulatorState, dataset: str, alias: Any, expression: Any, description: Any = ""
) -> DerivedColumn:
    """Validate and register a derived column (used by the API and the ``--slos`` file)."""
    if not isinstance(alias, str) or not 1 <= len(alias) <= 255:
        raise errors.invalid("alias", "alias must be a string of 1 to 255 characters", code="missing")
    if not isinstance(expression, str) or not 1 <= len(expression) <= 4095:
        raise errors.invalid(
            "expression", "expression must be a string of 1 to 4095 characters", code="missing"
        )
    if not isinstance(description, str):
        raise errors.invalid("description", "description must be a string", code="incorrect_type")
    check_expression(alias, expression)
    with state.lock:
        for existing in state.derived_columns.values():
            if existing.alias == alias and existing.dataset == dataset:
                raise errors.problem(
                    409,
                    "conflict",
                    "Request could not be completed due to a conflict with the current state of the target"
                    " resource.",
                    "A resource by that name already exists.",
                )
        if (
            dataset != ALL_DATASETS
            and state.store.has_dataset(dataset)
            and alias in known_columns(state, dataset)
        ):
            raise errors.invalid(
                "alias", f"alias '{alias}' is already a column of this dataset", "already_exists"
            )
        now = time.time()
        column = DerivedColumn(new_id(), dataset, alias, expression, description, now, now)
        state.derived_columns[column.id] = column
    return column


async def create_derived_column(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "columns")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    body = await read_api_object(request)
    column = define(state, slug, body.get("alias"), body.get("expression"), body.get("description", ""))
    return JSONResponse(derived_json(column), status_code=201)


async def list_derived_columns(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "columns")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    columns = [derived_json(c) for c in state.derived_columns.values() if slug in (c.dataset, ALL_DATASETS)]
    alias = request.query_params.get("alias")
    if alias is None:
        return JSONResponse(columns)
    for column in columns:
        if column["alias"] == alias:
            return JSONResponse(column)
    raise errors.not_found("Derived column not found")
