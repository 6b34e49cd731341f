"""``GET /1/datasets``, ``GET /1/datasets/{slug}``, ``GET /1/columns/{dataset}[?key_name=]``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import errors
from .engine import ALL_DATASETS, ColumnInfo, DatasetInfo
from .ids import stable_id
from .state import EmulatorState
from .timefmt import rfc3339, rfc3339_or_none


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def require_dataset(state: EmulatorState, slug: str, allow_all: bool = True) -> None:
    """404 (problem+json, as Honeycomb answers) unless the dataset exists (or is ``__all__``)."""
    if slug == ALL_DATASETS and allow_all:
        return
    if not state.store.has_dataset(slug):
        raise errors.not_found("Dataset not found")


def dataset_json(info: DatasetInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "slug": info.slug,
        "description": "",
        "settings": {"delete_protected": False},
        "expand_json_depth": 0,
        "regular_columns_count": info.regular_columns_count,
        "last_written_at": rfc3339_or_none(info.last_written_at),
        "created_at": rfc3339(info.created_at),
    }


def column_json(dataset: str, info: ColumnInfo) -> dict[str, Any]:
    return {
        "id": stable_id("column", dataset, info.key_name),
        "key_name": info.key_name,
        "type": info.type,
        "description": "",
        "hidden": False,
        "last_written": rfc3339(info.last_written if info.last_written is not None else info.updated_at),
        "created_at": rfc3339(info.created_at),
        "updated_at": rfc3339(info.updated_at),
    }


def columns_of(state: EmulatorState, slug: str) -> list[dict[str, Any]]:
    """Columns of one dataset, or of every dataset for ``__all__`` (first definition of a name wins)."""
    if slug != ALL_DATASETS:
        return [column_json(slug, c) for c in state.store.columns(slug)]
    seen: dict[str, dict[str, Any]] = {}
    for info in state.store.datasets():
        for column in state.store.columns(info.slug):
            seen.setdefault(column.key_name, column_json(ALL_DATASETS, column))
    return list(seen.values())


def known_columns(state: EmulatorState, slug: str) -> set[str]:
    return {c["key_name"] for c in columns_of(state, slug)}


async def list_datasets(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers)
    return JSONResponse([dataset_json(d) for d in state.store.datasets()])


async def get_dataset(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers)
    slug = request.path_params["dataset"]
    for info in state.store.datasets():
        if info.slug == slug:
            return JSONResponse(dataset_json(info))
    raise errors.not_found("Dataset not found")


async def list_columns(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "columns")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    columns = columns_of(state, slug)
    key_name = request.query_params.get("key_name")
    if key_name is None:
        return JSONResponse(columns)
    for column in columns:
        if column["key_name"] == key_name:
            return JSONResponse(column)
    raise errors.not_found("Column not found")
