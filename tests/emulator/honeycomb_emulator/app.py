"""The Starlette application: routes, error rendering, stats and fault middleware, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import (
    catalogue,
    controls,
    derived,
    errors,
    ingest,
    markers,
    otlp,
    queries,
    query_results,
    slos,
    ui,
)
from .auth_routes import get_auth
from .config import Settings
from .demo import DemoFeeder
from .engine import Store
from .faults import CONTROL_PREFIX, FaultMiddleware
from .state import EmulatorState

log = logging.getLogger("honeycomb_emulator")

ROUTES = [
    Route("/_emulator/health", controls.health, methods=["GET"]),
    Route("/_emulator/stats", controls.stats, methods=["GET"]),
    Route("/_emulator/faults", controls.add_fault, methods=["POST"]),
    Route("/_emulator/faults", controls.list_faults, methods=["GET"]),
    Route("/_emulator/faults", controls.clear_faults, methods=["DELETE"]),
    Route("/_emulator/reset", controls.reset, methods=["POST"]),
    Route("/1/auth", get_auth, methods=["GET"]),
    Route("/1/events/{dataset}", ingest.single_event, methods=["POST"]),
    Route("/1/batch/{dataset}", ingest.batch, methods=["POST"]),
    Route("/v1/traces", otlp.traces, methods=["POST"]),
    Route("/1/datasets", catalogue.list_datasets, methods=["GET"]),
    Route("/1/datasets/{dataset}", catalogue.get_dataset, methods=["GET"]),
    Route("/1/columns/{dataset}", catalogue.list_columns, methods=["GET"]),
    Route("/1/derived_columns/{dataset}", derived.create_derived_column, methods=["POST"]),
    Route("/1/derived_columns/{dataset}", derived.list_derived_columns, methods=["GET"]),
    Route("/1/queries/{dataset}", queries.create_query, methods=["POST"]),
    Route("/1/queries/{dataset}/{id}", queries.get_query, methods=["GET"]),
    Route("/1/query_results/{dataset}", query_results.create_result, methods=["POST"]),
    Route("/1/query_results/{dataset}/{id}", query_results.get_result, methods=["GET"]),
    Route("/1/markers/{dataset}", markers.create_marker, methods=["POST"]),
    Route("/1/markers/{dataset}", markers.list_markers, methods=["GET"]),
    Route("/1/markers/{dataset}/{id}", markers.update_marker, methods=["PUT"]),
    Route("/1/markers/{dataset}/{id}", markers.delete_marker, methods=["DELETE"]),
    Route("/1/slos/{dataset}", slos.create_slo, methods=["POST"]),
    Route("/1/slos/{dataset}", slos.list_slos, methods=["GET"]),
    Route("/1/slos/{dataset}/{id}", slos.get_slo, methods=["GET"]),
    Route("/1/burn_alerts/{dataset}", slos.list_burn_alerts, methods=["GET"]),
    Route("/1/burn_alerts/{dataset}", slos.create_burn_alert, methods=["POST"]),
    Route("/1/reporting/slos/historical", slos.slo_history, methods=["POST"]),
    Route("/ui/{team}/datasets/{dataset}/result/{id}", ui.result_page, methods=["GET"]),
    Route("/ui/{team}/datasets/{dataset}/result/{id}/snapshot", ui.snapshot, methods=["GET"]),
]


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ApiError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return errors.not_found("Not found").response()
    if exc.status_code == 405:
        return errors.method_not_allowed().response()
    return errors.legacy(exc.status_code, str(exc.detail)).response()


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return errors.internal_error().response()


class StatsMiddleware:
    """Counts every API call by route template and key name (before faults, so faulted calls count)."""

    def __init__(self, app: ASGIApp, state: EmulatorState, routes: list[Route]) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
        return "(unmatched)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith((CONTROL_PREFIX, "/ui/")):
            key = self.state.keys.identify(Headers(scope=scope))
            endpoint = f"{scope['method']} {self._template(scope)}"
            self.state.stats.request(endpoint, key.name if key else None)
        await self.app(scope, receive, send)


def build_app(settings: Settings, store: Store) -> Starlette:
    state = EmulatorState(settings, store)
    feeder = DemoFeeder(store, settings.data_dir) if settings.demo else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        feeding: asyncio.Task[None] | None = None
        if feeder is not None:
            added = await anyio.to_thread.run_sync(feeder.feed)
            log.info("demo: seeded %d events into 'checkout'", added)
            feeding = asyncio.create_task(feeder.run_forever())
        if settings.slos_file is not None:
            slos.load_file(state, settings.slos_file)
        try:
            yield
        finally:
            if feeding is not None:
                feeding.cancel()
            store.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            errors.ApiError: api_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
    )
    app.state.emulator = state
    if feeder is not None:
        state.catch_up = feeder.catch_up
    app.add_middleware(FaultMiddleware, book=state.faults, on_applied=state.stats.fault_applied)
    app.add_middleware(StatsMiddleware, state=state, routes=ROUTES)
    return app
