"""The Lambda entry point (`honeycomb_evaluator.handler.lambda_handler`): wiring only.

Everything is built at import, once per execution environment. With SnapStart that work runs
before the snapshot is taken, so a restored environment starts with the app, its pooled HTTP
client and Powertools already in memory (no connection is opened and no secret is read at
import: both happen on the first request).

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


def _reseed_after_restore() -> None:
    """Every environment restored from one snapshot starts with the same `random` state; retry
    jitter must differ between them, or restored instances retry Honeycomb in lockstep."""
    try:
        from snapshot_restore_py import register_after_restore  # only in Lambda's runtime
    except ImportError:
        return
    register_after_restore(random.seed)


def _prime_aws_sdk() -> None:
    """Load boto3 and the Secrets Manager and DynamoDB service models now, so SnapStart's snapshot
    holds them: the first request after a restore then skips ~150 ms of CPU at a full core, some
    three times that at 512 MB (docs/performance.md "Lambda artifact"). The app creates its real
    clients later, from the same default session, which reuses the loaded models.

    The throwaway clients get placeholder keys, so that no real credentials are resolved (and kept
    in the snapshot) before the restore. Priming is an optimisation only: it never fails the import.
    """
    try:
        import boto3  # the runtime's copy

        for service in ("secretsmanager", "dynamodb"):
            boto3.client(service, aws_access_key_id="priming", aws_secret_access_key="priming")
    except Exception as e:  # no region outside Lambda, for example
        logger.debug("AWS SDK not primed: %s", type(e).__name__)


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


_prime_aws_sdk()
_reseed_after_restore()
lambda_handler: LambdaHandler = _with_tracing(handle_event)
