"""The ASGI app: routes, body limits, JSON parsing and the JSON error contract.

`create_app()` is served by uvicorn (`honeycomb-evaluator serve`) and, through Mangum, on
Lambda. Every answer is JSON — Argo's web provider treats a non-JSON 2xx as Successful — and no
exception escapes as a bare 500.

What a request needs comes from one `Service` (service.py), built from the settings: the caller
is identified before the body is read (401), admitted once the body names a dataset and
environment (403), and evaluated (the shared executor: coalescing, caches, rate budget). An extra
`authorize` hook can refuse more. Errors become answers in one place (`errors.answer_for`).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from honeycomb_evaluator import __version__
from honeycomb_evaluator.callers.auth import authorize as authorize_caller
from honeycomb_evaluator.callers.auth import credentials_from
from honeycomb_evaluator.callers.registry import ANONYMOUS, Credentials
from honeycomb_evaluator.errors import (
    BodyTooLarge,
    ClientClosed,
    ErrorAnswer,
    EvaluatorError,
    InvalidRequest,
    MalformedJson,
    MethodNotAllowed,
    RequestTimeout,
    RouteNotFound,
    answer_for,
)
from honeycomb_evaluator.evaluate import EvaluationRecord
from honeycomb_evaluator.observability import logger, record_request
from honeycomb_evaluator.service import Service, build_service
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.surrogates import lone_surrogate_path, may_hold_lone_surrogate

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest

Authorize = Callable[[Request, "EvaluateRequest"], Awaitable[None]]
# One route's work: the status and JSON body of a success (errors are raised).
Work = Callable[[Request, EvaluationRecord], Awaitable[tuple[int, dict[str, Any]]]]
Render = Callable[[BaseException, str], Response]

CORRELATION_HEADERS = ("x-request-id", "x-correlation-id", "x-analysis-run")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/-]")


def _validation_error(error: ValidationError) -> Exception:
    # Loaded on the first invalid request only (difflib, regexes): not on every cold start.
    from honeycomb_evaluator.validation import validation_error

    return validation_error(error)


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


def error_response(error: BaseException, request_id: str | None = None) -> Response:
    answer: ErrorAnswer = answer_for(error)
    headers = answer.headers()
    if answer.status in (408, 413):  # the rest of the body is not read: this connection is done
        headers["Connection"] = "close"
    if request_id:
        headers["X-Request-Id"] = request_id
    return JSONResponse(answer.body(), status_code=answer.status, headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: Request, max_bytes: int, timeout_seconds: float) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the request body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        # A client trickling its body must not hold a request slot for ever (serving.py).
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLarge(f"the request body is over {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_seconds:g} s") from None
    except ClientDisconnect:
        raise ClientClosed("the client closed the connection before the body was complete") from None
    raw = b"".join(chunks)
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedJson(f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise MalformedJson("the request body nests too deeply") from None
    if not isinstance(body, dict):
        raise MalformedJson("the request body must be a JSON object")
    field = lone_surrogate_path(body) if may_hold_lone_surrogate(raw) else None
    if field is not None:
        raise InvalidRequest(f"{field}: a lone UTF-16 surrogate escape is not a character", field=field)
    return body


def create_app(
    settings: Settings | None = None, *, service: Service | None = None, authorize: Authorize | None = None
) -> Starlette:
    service = service or build_service(settings or Settings.from_env())
    settings = service.settings
    authenticator, evaluator = service.authenticator, service.evaluator

    def caller_credentials(request: Request) -> Credentials:
        event = request.scope.get("aws.event")
        return credentials_from(request.headers, event if isinstance(event, dict) else None)

    async def served(request: Request, work: Work, render: Render = error_response) -> Response:
        """Run one route's work with the request's correlation id, log line and metrics."""
        request_id = correlation_id(request)
        logger.thread_safe_append_keys(correlation_id=request_id)
        record = EvaluationRecord()
        try:
            status, answer = await work(request, record)
            record.status = status
            return JSONResponse(answer, status_code=status, headers={"X-Request-Id": request_id})
        except Exception as e:
            if not isinstance(e, EvaluatorError) and answer_for(e).code == "internal_error":
                logger.exception("unexpected error during evaluation")
            response = render(e, request_id)
            record.status = response.status_code
            if record.dataset is None and record.outcome == "ok":
                record.outcome = answer_for(e).code
            return response
        finally:
            record_request(record, cache_bytes=evaluator.executor.results.bytes)
            service.observe(record)
            logger.thread_safe_remove_keys(["correlation_id", "caller"])

    async def identified(request: Request, record: EvaluationRecord) -> dict[str, Any]:
        """401 before the body is even read; then the body."""
        record.caller = await authenticator.authenticate(caller_credentials(request))
        logger.thread_safe_append_keys(caller=record.caller.name)
        return await read_json_object(request, settings.max_body_bytes, settings.server.body_timeout_seconds)

    async def evaluate_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
        body = await identified(request, record)
        # Imported (and its validator built) on first use, not with the app: an import costs
        # every cold start, and on SnapStart handler.prime builds it before the snapshot.
        from honeycomb_evaluator.models.request import EvaluateRequest

        try:
            parsed = EvaluateRequest.model_validate(body)
        except ValidationError as e:
            raise _validation_error(e) from None
        authorize_caller(record.caller or ANONYMOUS, parsed.dataset, parsed.environment)
        if authorize is not None:
            await authorize(request, parsed)
        return 200, await evaluator.evaluate(parsed, record)

    async def slo_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
        body = await identified(request, record)
        from honeycomb_evaluator.models.slo_request import SloRequest

        try:
            parsed = SloRequest.model_validate(body)
        except ValidationError as e:
            raise _validation_error(e) from None
        authorize_caller(record.caller or ANONYMOUS, parsed.dataset, parsed.environment)
        return 200, await service.slo.answer(parsed, record)

    async def flagger_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
        from honeycomb_evaluator.gates.flagger_route import check_canary

        body = await read_json_object(request, settings.max_body_bytes, settings.server.body_timeout_seconds)
        return await check_canary(body, caller_credentials(request), service, record)

    async def evaluate(request: Request) -> Response:
        return await served(request, evaluate_work)

    async def slo(request: Request) -> Response:
        return await served(request, slo_work)

    async def flagger(request: Request) -> Response:
        from honeycomb_evaluator.gates.flagger_route import error_answer

        return await served(request, flagger_work, error_answer)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "version": __version__})

    async def readyz(request: Request) -> Response:
        from honeycomb_evaluator.readiness import readiness

        try:
            return JSONResponse(await readiness(evaluator.keys, service.store))
        except EvaluatorError as e:
            return error_response(e)

    async def openapi(request: Request) -> Response:
        from honeycomb_evaluator.openapi import openapi_document

        return JSONResponse(openapi_document())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            response = error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
            allowed = (exc.headers or {}).get("Allow")
            if allowed:
                response.headers["Allow"] = allowed
            return response
        if exc.status_code == 404:
            return error_response(RouteNotFound(f"no route {request.url.path}"))
        body = {"error": {"code": "http_error", "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, EvaluatorError):
            logger.exception("unexpected error")
        return error_response(exc)

    routes = [
        Route("/v1/evaluate", evaluate, methods=["POST"]),
        # The JWT route of an HTTP API (API Gateway checks the token, docs/design.md "Callers").
        Route("/oauth/v1/evaluate", evaluate, methods=["POST"]),
        Route("/v1/slo", slo, methods=["POST"]),
        Route("/v1/flagger", flagger, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: unexpected})
    app.state.service = service
    return app
