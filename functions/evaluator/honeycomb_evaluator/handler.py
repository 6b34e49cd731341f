"""The Lambda entry point (`honeycomb_evaluator.handler.lambda_handler`): wiring only.

The app is built at import, once per execution environment; no connection is opened and no
secret is read there (both happen on the first request). What only speeds up the first request —
building the pydantic validators, loading boto3's service models, the pooled HTTP client's SSL
context — is `prime()`. On a SnapStart function it runs as a before-snapshot hook, so every
restored environment starts with it done; elsewhere nothing calls it and the first request does
that work as it needs it (docs/performance.md "Lambda artifact").

The same handler serves both front doors (HTTP API payload v2 and the Function URL, whose event
has the same shape); Mangum turns either into an ASGI request and puts the event in the scope as
`aws.event`, where the app finds the IAM principal or JWT claims that AWS verified.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import Metrics
from mangum import Mangum

from honeycomb_evaluator import observability
from honeycomb_evaluator.app import create_app
from honeycomb_evaluator.observability import NAMESPACE, SERVICE, logger, tracing_enabled

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The app emits its own EMF document per evaluation; this instance only carries the ColdStart
# metric, so an invocation without it is normal, not worth a warning.
_metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
warnings.filterwarnings("ignore", message="No application metrics to publish")

_asgi = Mangum(create_app(), lifespan="off")


def prime() -> None:
    """Do now what the first request would otherwise do, so SnapStart's snapshot holds it.

    Builds the request models' validators (they are built on first use, see models/query.py),
    the pooled HTTP client and query fusion, imports the modules a first evaluation loads (a
    flight's, the error renderer), and loads boto3 with the Secrets Manager and DynamoDB service models
    (the app creates its real clients later from the same default session, which reuses them).
    The throwaway clients get placeholder keys, so that no real credentials are resolved (and
    kept in the snapshot) before the restore. Priming is an optimisation only: it never fails.
    """
    try:
        from honeycomb_evaluator.callers.document import RegistryDocument
        from honeycomb_evaluator.models.request import EvaluateRequest

        EvaluateRequest.model_rebuild()
        RegistryDocument.model_rebuild()
        app_service = getattr(getattr(_asgi.app, "state", None), "service", None)
        if app_service is not None:
            app_service.evaluator.client.warm()
            # What the first evaluation loads on first use: fusion, a flight, the error renderer.
            _ = app_service.evaluator.executor.fusion
        import honeycomb_evaluator.answers
        import honeycomb_evaluator.sharing.run  # noqa: F401
    except Exception:  # a bug here shows on the first request too; never fail the snapshot
        logger.exception("priming the app failed")
    try:
        import boto3  # the runtime's copy

        for service in ("secretsmanager", "dynamodb"):
            boto3.client(service, aws_access_key_id="priming", aws_secret_access_key="priming")
    except Exception as e:  # no region outside Lambda, for example
        logger.debug("AWS SDK not primed: %s", type(e).__name__)


def _register_snapshot_hooks() -> bool:
    """On a SnapStart function: prime before the snapshot, and reseed `random` after each restore
    (every environment restored from one snapshot starts with the same `random` state; retry
    jitter must differ between them, or restored instances retry Honeycomb in lockstep).
    Returns whether the hooks were registered (the module exists only in Lambda's runtime)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prime)
    register_after_restore(random.seed)
    return True


def _with_tracing(handler: LambdaHandler) -> LambdaHandler:
    if not tracing_enabled():
        return handler
    # The app's tracer (it patches httpx only); responses can be large and are logged already.
    tracer = observability._tracer()
    traced: LambdaHandler = tracer.capture_lambda_handler(handler, capture_response=False)
    return traced


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@_metrics.log_metrics(capture_cold_start_metric=True)
def handle_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _asgi(event, context)
    return response


_register_snapshot_hooks()
lambda_handler: LambdaHandler = _with_tracing(handle_event)
