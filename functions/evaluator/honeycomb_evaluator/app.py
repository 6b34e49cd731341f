"""The ASGI app: routes, body limits, JSON parsing and the JSON error contract.

`create_app()` is served by uvicorn (`honeycomb-evaluator serve`) and, through Mangum, on
Lambda. Every answer is JSON — Argo's web provider treats a non-JSON 2xx as Successful — and no
exception escapes as a bare 500.

Caller identity and sharing come from `sharing.service.SharedService`: the caller is identified
before the body is read (401), admitted once the body names a dataset and environment (403), and
the evaluator's `execute` is the shared executor (coalescing, caches, rate budget). An extra
`authorize` hook can refuse more.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from honeycomb_evaluator import __version__
from honeycomb_evaluator.errors import ApiError, internal_error
from honeycomb_evaluator.evaluate import Evaluator
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.keys import key_source
from honeycomb_evaluator.observability import logger
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.sharing.callers import Caller
from honeycomb_evaluator.sharing.service import SharedService

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest

Authorize = Callable[[Request, "EvaluateRequest"], Awaitable[None]]

CORRELATION_HEADERS = ("x-request-id", "x-correlation-id", "x-analysis-run")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/-]")
# pydantic-core names union members and validators in error locations; they are not fields.
_TYPE_TAG = re.compile(r"^(int|float|str|bool|none|bytes|constrained-\w+|[\w-]+\[.*\])$")


def correlation_id(request: Request) -> str:
    """Caller's request/analysis-run id if given, else the Lambda request id, else a new one."""
    for name in CORRELATION_HEADERS:
        value = request.headers.get(name)
        if value:
            return _SAFE_ID.sub("", value)[:128] or uuid.uuid4().hex
    event = request.scope.get("aws.event")
    if isinstance(event, dict):
        request_id = (event.get("requestContext") or {}).get("requestId")
        if isinstance(request_id, str) and request_id:
            return request_id
    return uuid.uuid4().hex


def error_response(error: ApiError, request_id: str | None = None) -> JSONResponse:
    headers = error.headers()
    if request_id:
        headers["X-Request-Id"] = request_id
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def validation_error(exc: ValidationError) -> ApiError:
    """422 naming the first offending field as a dotted path (`query.calculations.0.op`)."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = first["loc"]
    # The first element is always a real top-level field (whatever its name).
    parts = [str(p) for i, p in enumerate(loc) if i == 0 or not (isinstance(p, str) and _TYPE_TAG.match(p))]
    field = ".".join(parts) or "body"
    message = first["msg"].removeprefix("Value error, ")
    others = len({tuple(e["loc"][:2]) for e in errors}) - 1
    suffix = f" (and {others} more problem{'s' if others > 1 else ''})" if others > 0 else ""
    return ApiError(422, "invalid_request", f"{field}: {message}{suffix}", field=field)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "body_too_large", f"the request body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "body_too_large", f"the request body is over {max_bytes} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return body


def create_app(
    settings: Settings | None = None,
    *,
    client: HoneycombClient | None = None,
    authorize: Authorize | None = None,
    sharing: SharedService | None = None,
) -> Starlette:
    settings = settings or Settings.from_env()
    sharing = sharing or SharedService.from_environment()
    evaluator = Evaluator(
        client=client or HoneycombClient(), keys=key_source(settings), execute=sharing.executor.execute
    )

    async def evaluate(request: Request) -> Response:
        request_id = correlation_id(request)
        logger.thread_safe_append_keys(correlation_id=request_id)
        caller: Caller | None = None
        status = 500
        try:
            caller = await sharing.authenticate(request)  # 401 before the body is even read
            body = await read_json_object(request, settings.max_body_bytes)
            # Imported (and its validator built) on first use, not with the app: an import costs
            # every cold start, and on SnapStart handler.prime builds it before the snapshot.
            from honeycomb_evaluator.models.request import EvaluateRequest

            try:
                parsed = EvaluateRequest.model_validate(body)
            except ValidationError as e:
                raise validation_error(e) from None
            sharing.authorize(caller, parsed.dataset, parsed.environment)
            if authorize is not None:
                await authorize(request, parsed)
            answer = await evaluator.evaluate(parsed)
            status = 200
            return JSONResponse(answer, headers={"X-Request-Id": request_id})
        except ApiError as e:
            status = e.status
            return error_response(e, request_id)
        except Exception:
            logger.exception("unexpected error during evaluation")
            return error_response(internal_error(), request_id)
        finally:
            sharing.finish(caller, status)
            logger.thread_safe_remove_keys(["correlation_id"])

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "version": __version__})

    async def openapi(request: Request) -> Response:
        from honeycomb_evaluator.openapi import openapi_document

        return JSONResponse(openapi_document())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed here"
            return error_response(ApiError(405, "method_not_allowed", message))
        if exc.status_code == 404:
            return error_response(ApiError(404, "not_found", f"no route {request.url.path}"))
        return error_response(ApiError(exc.status_code, "http_error", str(exc.detail)))

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(internal_error())

    routes = [
        Route("/v1/evaluate", evaluate, methods=["POST"]),
        # The JWT route of an HTTP API (API Gateway checks the token, docs/design.md "Callers").
        Route("/oauth/v1/evaluate", evaluate, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, ApiError: api_error, Exception: unexpected},
    )
    app.state.evaluator = evaluator
    app.state.sharing = sharing
    app.state.settings = settings
    return app
