"""``GET /1/auth``: which key this is and what it may do (body as the official example)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from .catalogue import state_of


async def get_auth(request: Request) -> JSONResponse:
    state = state_of(request)
    key = state.keys.authenticate(request.headers)
    settings = state.settings
    return JSONResponse(
        {
            "id": key.id,
            "type": key.kind,
            "api_key_access": key.access(),
            "environment": {"name": settings.environment_name, "slug": settings.environment_slug},
            "team": {"name": settings.team_name, "slug": settings.team_slug},
        }
    )
