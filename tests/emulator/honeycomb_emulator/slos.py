"""SLOs: ``/1/slos/{dataset}[/{id}][?detailed]``, ``/1/burn_alerts/{dataset}?slo_id=``,
``POST /1/reporting/slos/historical``, and the ``--slos FILE`` definitions (YAML or JSON).

File format::

    derived_columns:            # optional; SLIs are derived columns (true = good, false = bad)
      - {dataset: checkout, alias: checkout_ok, expression: "IF($error, false, true)"}
    slos:
      - dataset: checkout       # or dataset_slugs: [a, b]
        id: CheckoutOk1         # optional, 11 characters; generated otherwise
        name: Checkout availability
        sli: checkout_ok        # an alias above, a boolean column, or {alias, expression}
        time_period_days: 7
        target_per_million: 995000
        burn_alerts:
          - {alert_type: exhaustion_time, exhaustion_minutes: 240}
          - {alert_type: budget_rate, budget_rate_window_minutes: 60,
             budget_rate_decrease_threshold_per_million: 10000}
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import derived, errors, sli
from .bodies import read_api_object
from .catalogue import require_dataset, state_of
from .engine import ALL_DATASETS
from .ids import ALPHABET, ID_LENGTH, new_id
from .state import BurnAlert, EmulatorState, SloRecord
from .timefmt import rfc3339

MAX_HISTORY_POINTS = 200
YEAR = 365 * 86400


class SloConfigError(ValueError):
    pass


# -- validation ----------------------------------------------------------------------------------


def _int_field(body: dict[str, Any], name: str, low: int, high: int | None = None) -> int:
    value = body.get(name)
    if value is None:
        raise errors.invalid(name, f"{name} is required", code="missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.invalid(name, f"{name} must be an integer", code="incorrect_type")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise errors.invalid(name, f"{name} must be {bounds}")
    return value


def sli_source(state: EmulatorState, slo_datasets: list[str], alias: str) -> sli.SliSource:
    """A derived column on (every one of) the datasets, else a boolean column they all have."""
    for column in state.derived_columns.values():
        if column.alias == alias and (
            column.dataset == ALL_DATASETS or all(d == column.dataset for d in slo_datasets)
        ):
            return sli.SliSource(alias, column.expression)
    if slo_datasets and all(
        any(c.key_name == alias and c.type == "boolean" for c in state.store.columns(d)) for d in slo_datasets
    ):
        return sli.SliSource(alias, None)
    raise errors.invalid(
        "sli.alias",
        f"sli alias '{alias}' is neither a derived column nor a boolean column of the SLO's datasets",
    )


def build_slo(
    state: EmulatorState, slug: str, body: dict[str, Any], slo_id: str | None = None, from_file: bool = False
) -> SloRecord:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 120:
        raise errors.invalid("name", "name must be a string of 1 to 120 characters", code="missing")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 1023:
        raise errors.invalid("description", "description must be a string of at most 1023 characters")
    sli_body = body.get("sli")
    if not isinstance(sli_body, dict) or not isinstance(sli_body.get("alias"), str) or not sli_body["alias"]:
        raise errors.invalid("sli.alias", "sli.alias is required", code="missing")
    days = _int_field(body, "time_period_days", 1)
    target = _int_field(body, "target_per_million", 0, 999_999)
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 10 or not all(_valid_tag(t) for t in tags):
        raise errors.invalid(
            "tags", "tags must be at most 10 {key, value} objects (key <= 32, value <= 128 chars)"
        )
    slugs = body.get("dataset_slugs")
    if slug == ALL_DATASETS:
        if (
            not isinstance(slugs, list)
            or not 1 <= len(slugs) <= 10
            or not all(isinstance(s, str) for s in slugs)
        ):
            raise errors.invalid(
                "dataset_slugs", "dataset_slugs (1 to 10 slugs) is required with __all__", "missing"
            )
        for dataset in slugs if not from_file else []:
            require_dataset(state, dataset, allow_all=False)
    else:
        slugs = [slug]
    if not from_file or not _is_derived(state, sli_body["alias"]):
        sli_source(state, slugs, sli_body["alias"])
    now = time.time()
    return SloRecord(
        id=slo_id or new_id(),
        name=name,
        sli_alias=sli_body["alias"],
        time_period_days=days,
        target_per_million=target,
        dataset_slugs=list(slugs),
        description=description,
        tags=[{"key": t["key"], "value": t["value"]} for t in tags],
        created_at=now,
        updated_at=now,
    )


def _is_derived(state: EmulatorState, alias: str) -> bool:
    return any(c.alias == alias for c in state.derived_columns.values())


def _valid_tag(tag: Any) -> bool:
    return (
        isinstance(tag, dict)
        and isinstance(tag.get("key"), str)
        and isinstance(tag.get("value"), str)
        and len(tag["key"]) <= 32
        and len(tag["value"]) <= 128
    )


def build_burn_alert(slo: SloRecord, body: dict[str, Any]) -> BurnAlert:
    kind = body.get("alert_type", "exhaustion_time")
    now = time.time()
    alert = BurnAlert(
        id=new_id(), slo_id=slo.id, alert_type=kind, description=str(body.get("description", ""))
    )
    alert.created_at = alert.updated_at = now
    if kind == "exhaustion_time":
        alert.exhaustion_minutes = _int_field(body, "exhaustion_minutes", 0)
    elif kind == "budget_rate":
        alert.budget_rate_window_minutes = _int_field(body, "budget_rate_window_minutes", 60)
        alert.budget_rate_decrease_threshold_per_million = _int_field(
            body, "budget_rate_decrease_threshold_per_million", 1, 1_000_000
        )
    else:
        raise errors.invalid("alert_type", "alert_type must be exhaustion_time or budget_rate")
    return alert


# -- the --slos file -----------------------------------------------------------------------------


def load_file(state: EmulatorState, path: Path) -> None:
    """Define the file's derived columns, SLOs and burn alerts (raises SloConfigError on any problem)."""
    try:
        text = path.read_text()
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise SloConfigError(f"{path}: cannot read: {e}") from e
    if not isinstance(doc, dict):
        raise SloConfigError(f"{path}: expected a mapping with 'slos' (and optionally 'derived_columns')")
    try:
        for i, item in enumerate(doc.get("derived_columns") or []):
            where = f"derived_columns[{i}]"
            if not isinstance(item, dict):
                raise SloConfigError(f"{path}: {where} must be a mapping")
            derived.define(
                state, str(item.get("dataset", ALL_DATASETS)), item.get("alias"), item.get("expression")
            )
        for i, item in enumerate(doc.get("slos") or []):
            _load_slo(state, path, i, item)
    except errors.ApiError as e:
        raise SloConfigError(f"{path}: {e.body.get('error')} ({_fields(e)})") from e


def _fields(error: errors.ApiError) -> str:
    return ", ".join(d.get("field", "?") for d in error.body.get("type_detail", [])) or "see message"


def _load_slo(state: EmulatorState, path: Path, index: int, item: Any) -> None:
    where = f"slos[{index}]"
    if not isinstance(item, dict):
        raise SloConfigError(f"{path}: {where} must be a mapping")
    slugs = item.get("dataset_slugs") or [item.get("dataset")]
    if not all(isinstance(s, str) and s for s in slugs):
        raise SloConfigError(f"{path}: {where} needs 'dataset' or 'dataset_slugs'")
    sli_item = item.get("sli")
    if isinstance(sli_item, dict) and "expression" in sli_item:
        derived.define(
            state,
            slugs[0] if len(slugs) == 1 else ALL_DATASETS,
            sli_item.get("alias"),
            sli_item["expression"],
        )
        sli_item = {"alias": sli_item.get("alias")}
    elif isinstance(sli_item, str):
        sli_item = {"alias": sli_item}
    slo_id = item.get("id")
    if slo_id is not None and (
        not isinstance(slo_id, str) or len(slo_id) != ID_LENGTH or any(c not in ALPHABET for c in slo_id)
    ):
        raise SloConfigError(f"{path}: {where}.id must be {ID_LENGTH} letters or digits")
    body = {**item, "sli": sli_item, "dataset_slugs": slugs}
    # Datasets named in a file may not exist yet (traces are replayed later): a derived-column
    # SLI is accepted without them; a boolean-column SLI needs the column to exist already.
    slo = build_slo(state, ALL_DATASETS if len(slugs) > 1 else slugs[0], body, slo_id, from_file=True)
    state.slos[slo.id] = slo
    for alert_body in item.get("burn_alerts") or []:
        if not isinstance(alert_body, dict):
            raise SloConfigError(f"{path}: {where}.burn_alerts entries must be mappings")
        alert = build_burn_alert(slo, alert_body)
        state.burn_alerts[alert.id] = alert


# -- responses -----------------------------------------------------------------------------------


def slo_json(slo: SloRecord) -> dict[str, Any]:
    return {
        "id": slo.id,
        "name": slo.name,
        "description": slo.description,
        "sli": {"alias": slo.sli_alias},
        "time_period_days": slo.time_period_days,
        "target_per_million": slo.target_per_million,
        "tags": slo.tags,
        "reset_at": None,
        "created_at": rfc3339(slo.created_at),
        "updated_at": rfc3339(slo.updated_at),
        "dataset_slugs": slo.dataset_slugs,
    }


def _alerts_of(state: EmulatorState, slo: SloRecord) -> list[BurnAlert]:
    return [a for a in state.burn_alerts.values() if a.slo_id == slo.id]


def detailed_json(state: EmulatorState, slo: SloRecord) -> dict[str, Any]:
    now = time.time()
    source = sli_source(state, slo.dataset_slugs, slo.sli_alias)
    rep = sli.report(state, slo, source, now)
    alerts = _alerts_of(state, slo)
    if not rep.has_events:
        status = "no_events"
    elif not alerts:
        status = "no_alerts"
    elif any(sli.alert_triggered(state, slo, source, a, rep, now) for a in alerts):
        status = "triggered"
    else:
        status = "normal"
    return {
        **slo_json(slo),
        "compliance": rep.compliance,
        "budget_remaining": rep.budget_remaining,
        "status": status,
        "burn_rate": rep.burn_rate,
    }


def burn_alert_json(state: EmulatorState, slo: SloRecord, alert: BurnAlert) -> dict[str, Any]:
    now = time.time()
    source = sli_source(state, slo.dataset_slugs, slo.sli_alias)
    rep = sli.report(state, slo, source, now)
    body: dict[str, Any] = {
        "id": alert.id,
        "alert_type": alert.alert_type,
        "description": alert.description,
        "triggered": sli.alert_triggered(state, slo, source, alert, rep, now),
        "slo": {"id": slo.id},
        "created_at": rfc3339(alert.created_at),
        "updated_at": rfc3339(alert.updated_at),
    }
    if alert.alert_type == "exhaustion_time":
        body["exhaustion_minutes"] = alert.exhaustion_minutes
    else:
        body["budget_rate_window_minutes"] = alert.budget_rate_window_minutes
        body["budget_rate_decrease_threshold_per_million"] = alert.budget_rate_decrease_threshold_per_million
    return body


def _slo_on(state: EmulatorState, slug: str, slo_id: str) -> SloRecord:
    slo = state.slos.get(slo_id)
    if slo is None or (slug != ALL_DATASETS and slug not in slo.dataset_slugs):
        raise errors.not_found("SLO not found")
    return slo


# -- handlers ------------------------------------------------------------------------------------


async def create_slo(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    body = await read_api_object(request)
    slo = build_slo(state, slug, body)
    with state.lock:
        state.slos[slo.id] = slo
    return JSONResponse(slo_json(slo), status_code=201)


async def list_slos(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    slos = [s for s in state.slos.values() if slug == ALL_DATASETS or slug in s.dataset_slugs]
    return JSONResponse([slo_json(s) for s in slos])


def _flag(value: str | None) -> bool:
    """``?detailed`` is a flag: present (empty or true) means yes; ``false``/``0`` mean no."""
    return value is not None and value.strip().lower() not in ("false", "0", "no")


async def get_slo(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    slo = _slo_on(state, slug, request.path_params["id"])
    if not _flag(request.query_params.get("detailed")):
        return JSONResponse(slo_json(slo))
    body = await anyio.to_thread.run_sync(detailed_json, state, slo)
    return JSONResponse(body)


async def list_burn_alerts(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    slo_id = request.query_params.get("slo_id")
    if not slo_id:
        raise errors.invalid("slo_id", "slo_id query parameter is required", code="missing")
    slo = _slo_on(state, slug, slo_id)
    alerts = _alerts_of(state, slo)
    body = await anyio.to_thread.run_sync(lambda: [burn_alert_json(state, slo, a) for a in alerts])
    return JSONResponse(body)


async def create_burn_alert(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    slug = request.path_params["dataset"]
    require_dataset(state, slug)
    body = await read_api_object(request)
    slo_ref = body.get("slo")
    if not isinstance(slo_ref, dict) or not isinstance(slo_ref.get("id"), str):
        raise errors.invalid("slo.id", "slo.id is required", code="missing")
    slo = _slo_on(state, slug, slo_ref["id"])
    alert = build_burn_alert(slo, body)
    with state.lock:
        state.burn_alerts[alert.id] = alert
    result = await anyio.to_thread.run_sync(burn_alert_json, state, slo, alert)
    return JSONResponse(result, status_code=201)  # no recipients: the spec wants at least one if present


async def slo_history(request: Request) -> JSONResponse:
    state = state_of(request)
    state.keys.require(request.headers, "slos")
    body = await read_api_object(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 24 or not all(isinstance(i, str) for i in ids):
        raise errors.invalid(
            "ids", "ids must list 1 to 24 SLO ids", code="missing" if ids is None else "invalid"
        )
    now = time.time()
    start = _int_field(body, "start_time", 0)
    end = _int_field(body, "end_time", 0)
    if start < now - YEAR:
        raise errors.invalid("start_time", "start_time cannot be more than a year in the past")
    if end <= start:
        raise errors.invalid("end_time", "end_time must be greater than start_time")
    if end > now + 60:
        raise errors.invalid("end_time", "end_time cannot be in the future")
    slos = []
    for slo_id in ids:
        slo = state.slos.get(slo_id)
        if slo is None:
            raise errors.invalid("ids", f"unknown SLO id {slo_id}")
        slos.append(slo)
    step = max(3600, math.ceil((end - start) / MAX_HISTORY_POINTS / 3600) * 3600)

    def compute() -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for slo in slos:
            source = sli_source(state, slo.dataset_slugs, slo.sli_alias)
            points = []
            at = math.ceil(start / step) * step
            while at <= end:
                if at >= now - sli.MAX_LOOKBACK:
                    point = sli.history_point(state, slo, source, at, now)
                    if point:
                        points.append(point)
                at += step
            out[slo.id] = points
        return out

    return JSONResponse(await anyio.to_thread.run_sync(compute))
