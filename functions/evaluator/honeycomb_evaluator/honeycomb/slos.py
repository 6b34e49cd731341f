"""Honeycomb's SLO reporting reads: none of them spends the query-result budget.

`GET /1/slos/{dataset}/{id}?detailed` (figures), `GET /1/burn_alerts/{dataset}?slo_id=` (each
alert's `triggered`), `GET /1/slos/{dataset}` (to find an SLO by name) and `GET /1/auth` (the
team and environment slugs of the key, for the SLO's UI link).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from honeycomb_evaluator.honeycomb.client import HoneycombClient, Scope
from honeycomb_evaluator.honeycomb.errors import HoneycombNotFound, HoneycombSloNotFound


async def detailed_slo_and_alerts(client: HoneycombClient, scope: Scope, slo_id: str) -> tuple[Any, Any]:
    """The detailed SLO and its burn alerts, fetched side by side."""
    slo = quote(slo_id, safe="")
    try:
        return await asyncio.gather(
            client.get_json(scope, f"/1/slos/{scope.dataset_path}/{slo}?detailed=true"),
            client.get_json(scope, f"/1/burn_alerts/{scope.dataset_path}?slo_id={slo}"),
        )
    except HoneycombNotFound as e:
        raise HoneycombSloNotFound(
            f"no SLO {slo_id!r} in dataset {scope.dataset!r}", status=e.status
        ) from None


async def list_slos(client: HoneycombClient, scope: Scope) -> Any:
    return await client.get_json(scope, f"/1/slos/{scope.dataset_path}")


async def team_and_environment(client: HoneycombClient, scope: Scope) -> tuple[str, str] | None:
    """The key's team and environment slugs, or None when `/1/auth` does not say."""
    body = await client.get_json(scope, "/1/auth")
    team = body.get("team", {}).get("slug") if isinstance(body, dict) else None
    environment = body.get("environment", {}).get("slug") if isinstance(body, dict) else None
    if isinstance(team, str) and isinstance(environment, str) and team and environment:
        return team, environment
    return None
