"""The ASGI app: its routes, and the JSON error contract around them.

`create_app()` is served by uvicorn (`honeycomb-evaluator serve`) and, through Mangum, on
Lambda. Every answer is JSON — Argo's web provider treats a non-JSON 2xx as Successful — and no
exception escapes as a bare 500.

The routes are plain functions that find what they need on `request.app.state`: the one
`Service` (service.py) built from the settings, and an optional `authorize` hook that can refuse
more. The caller is identified before the body is read (401), admitted once the body names a
dataset and environment (403), and the request handed to its gate. `served` wraps every gate
route: it turns any error into its JSON answer (answers.py) and finishes the request's record
(record.py: outcome, log line, metrics).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from honeycomb_evaluator import __version__
from honeycomb_evaluator.body import read_json_object
from honeycomb_evaluator.callers.auth import authorize as authorize_caller
from honeycomb_evaluator.callers.auth import credentials_from
from honeycomb_evaluator.callers.registry import ANONYMOUS, Credentials
from honeycomb_evaluator.errors import EvaluatorError, MethodNotAllowed, RouteNotFound, answer_for
from honeycomb_evaluator.observability import logger
from honeycomb_evaluator.record import EvaluationRecord
from honeycomb_evaluator.service import Service, build_service
from honeycomb_evaluator.settings import Settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from honeycomb_evaluator.answers import StatusRule
    from honeycomb_evaluator.models.request import EvaluateRequest

Authorize = Callable[[Request, "EvaluateRequest"], Awaitable[None]]
# One route's work: the status and JSON body of a success (errors are raised).
Work = Callable[[Request, EvaluationRecord], Awaitable[tuple[int, dict[str, Any]]]]
Model = TypeVar("Model", bound="BaseModel")

CORRELATION_HEADERS = ("x-request-id", "x-correlation-id", "x-analysis-run")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/-]")


def error_response(
    error: BaseException, request_id: str | None = None, status_rule: StatusRule | None = None
) -> Response:
    # Loaded with the first error answered, not with the app (answers.py renders every error).
    from honeycomb_evaluator.answers import error_response as render

    return render(error, request_id, status_rule)


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


def create_app(
    settings: Settings | None = None, *, service: Service | None = None, authorize: Authorize | None = None
) -> Starlette:
    """The app over one `Service` (built from `settings` unless given); `authorize` may refuse more."""
    app = Starlette(routes=ROUTES, exception_handlers={HTTPException: http_error, Exception: unexpected})
    app.state.service = service or build_service(settings or Settings.from_env())
    app.state.authorize = authorize
    return app


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def caller_credentials(request: Request) -> Credentials:
    event = request.scope.get("aws.event")
    return credentials_from(request.headers, event if isinstance(event, dict) else None)


async def served(request: Request, work: Work, status_rule: StatusRule | None = None) -> Response:
    """Run one route's work with the request's correlation id, and finish its record."""
    request_id = correlation_id(request)
    logger.thread_safe_append_keys(correlation_id=request_id)
    record = EvaluationRecord(observers=service_of(request).observers)
    try:
        try:
            status, answer = await work(request, record)
            response: Response = JSONResponse(
                answer, status_code=status, headers={"X-Request-Id": request_id}
            )
            outcome: dict[str, Any] | Exception = answer
        except Exception as e:
            if not isinstance(e, EvaluatorError) and answer_for(e).code == "internal_error":
                logger.exception("unexpected error during evaluation")
            response, outcome = error_response(e, request_id, status_rule), e
        record.result_cache_bytes = service_of(request).result_cache_bytes
        record.finish(response.status_code, outcome)
        return response
    finally:
        logger.thread_safe_remove_keys(["correlation_id", "caller"])


async def read_body(request: Request) -> dict[str, Any]:
    settings = service_of(request).settings
    return await read_json_object(request, settings.max_body_bytes, settings.server.body_timeout_seconds)


async def identified(request: Request, record: EvaluationRecord, credentials: Credentials) -> None:
    record.caller = await service_of(request).authenticator.authenticate(credentials)
    logger.thread_safe_append_keys(caller=record.caller.name)


def parsed(model: type[Model], body: dict[str, Any]) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as e:
        raise _validation_error(e) from None


async def evaluate_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
    await identified(request, record, caller_credentials(request))  # 401 before the body is read
    body = await read_body(request)
    # Imported (and its validator built) on first use, not with the app: an import costs
    # every cold start, and on SnapStart handler.prime builds it before the snapshot.
    from honeycomb_evaluator.models.request import EvaluateRequest

    evaluation = parsed(EvaluateRequest, body)
    authorize_caller(record.caller or ANONYMOUS, evaluation.dataset, evaluation.environment)
    authorize: Authorize | None = request.app.state.authorize
    if authorize is not None:
        await authorize(request, evaluation)
    return 200, await service_of(request).evaluate(evaluation, record)


async def slo_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
    await identified(request, record, caller_credentials(request))
    body = await read_body(request)
    from honeycomb_evaluator.models.slo_request import SloRequest

    slo = parsed(SloRequest, body)
    authorize_caller(record.caller or ANONYMOUS, slo.dataset, slo.environment)
    return 200, await service_of(request).slo(slo, record)


async def flagger_work(request: Request, record: EvaluationRecord) -> tuple[int, dict[str, Any]]:
    from honeycomb_evaluator.gates.flagger_route import check_canary, with_metadata_token

    # Flagger's webhooks cannot send headers: the token may be in the body.
    body = await read_body(request)
    await identified(request, record, with_metadata_token(caller_credentials(request), body))
    return await check_canary(body, service_of(request), record)


async def evaluate(request: Request) -> Response:
    return await served(request, evaluate_work)


async def slo(request: Request) -> Response:
    return await served(request, slo_work)


async def flagger(request: Request) -> Response:
    from honeycomb_evaluator.gates.flagger import flagger_status

    return await served(request, flagger_work, flagger_status)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True, "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready to evaluate (readiness.py): the key readable and the state store answering; else 503."""
    from honeycomb_evaluator.readiness import readiness

    service = service_of(request)
    try:
        return JSONResponse(await readiness(service.evaluator.keys, service.store))
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


ROUTES = [
    Route("/v1/evaluate", evaluate, methods=["POST"]),
    # The JWT route of an HTTP API (API Gateway checks the token, docs/design.md "Callers").
    Route("/oauth/v1/evaluate", evaluate, methods=["POST"]),
    Route("/v1/slo", slo, methods=["POST"]),
    Route("/v1/flagger", flagger, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
