"""The shared service as the app sees it: identify the caller, admit the request, run and count it.

The app calls, per request: `authenticate` before reading the body (401), `authorize` once the
body names a dataset and environment (403), and `finish` at the end (the caller's metrics). The
evaluator's `execute` is `service.executor.execute`, which reads the caller set here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from starlette.requests import Request

from .auth import Authenticator, authorize, credentials_from
from .backends.base import StateStore
from .backends.memory import MemoryStore
from .callers import Caller
from .config import SharingConfig
from .coordinator import Served, SharedExecutor, current_caller, current_served
from .ratelimit import RateBudget

# How a request was served → the per-caller metric that counts it.
_SERVED_METRICS = {
    "created": "QueryResultsCreated",
    "joined": "Coalesced",
    "waited": "Coalesced",
    "resumed": "Resumed",
    "memory_cache": "SharedCacheHits",
    "store_cache": "SharedCacheHits",
}


def build_store(config: SharingConfig) -> StateStore:
    if config.backend == "dynamodb":
        from .backends.dynamodb import DynamoDBStore  # boto3 only where it is used

        assert config.table_name is not None
        return DynamoDBStore(config.table_name)
    return MemoryStore()


class SharedService:
    def __init__(self, authenticator: Authenticator, executor: SharedExecutor) -> None:
        self.authenticator = authenticator
        self.executor = executor

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> SharedService:
        env = os.environ if env is None else env
        config = SharingConfig.from_env(env)
        store = build_store(config)
        executor = SharedExecutor(store, RateBudget(store, config.budget))
        return cls(Authenticator.from_environment(env), executor)

    async def authenticate(self, request: Request) -> Caller:
        """The caller, or 401; sets it for this request's logs, metrics and rate budget."""
        from honeycomb_evaluator.observability import logger

        current_served.set(Served())
        event = request.scope.get("aws.event")
        credentials = credentials_from(request.headers, event if isinstance(event, Mapping) else None)
        caller = await self.authenticator.authenticate(credentials)
        current_caller.set(caller)
        logger.thread_safe_append_keys(caller=caller.name)
        return caller

    @staticmethod
    def authorize(caller: Caller, dataset: str, environment: str) -> None:
        authorize(caller, dataset, environment)

    @staticmethod
    def finish(caller: Caller | None, status: int) -> None:
        """One EMF document per request with the caller as dimension; drops the log key."""
        from aws_lambda_powertools.metrics import MetricUnit

        from honeycomb_evaluator.observability import empty_metrics, logger

        served = current_served.get() or Served()
        metrics = empty_metrics()
        metrics.add_dimension(name="caller", value=caller.name if caller else "unidentified")
        metrics.add_metric(name="CallerEvaluations", unit=MetricUnit.Count, value=1)
        if status == 503:
            metrics.add_metric(name="RateLimitedAnswers", unit=MetricUnit.Count, value=1)
        if status in (401, 403):
            metrics.add_metric(name="AccessDenied", unit=MetricUnit.Count, value=1)
        if status == 200 and served.how in _SERVED_METRICS:
            metrics.add_metric(name=_SERVED_METRICS[served.how], unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="served", value=served.how)
        metrics.add_metadata(key="status", value=status)
        metrics.flush_metrics()
        logger.thread_safe_remove_keys(["caller"])
