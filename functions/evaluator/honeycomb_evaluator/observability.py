"""Logs and traces through Powertools, the same locally (stdout) and on Lambda.

- Logger: JSON lines with a `correlation_id` per request (ContextVar-backed keys, so concurrent
  requests under uvicorn never mix their ids).
- Metrics: the namespace and service name; a request's one EMF document is record.py's.
- Tracer: created on first use and only where X-Ray can receive segments (on Lambda with tracing
  not disabled). Importing the X-Ray SDK costs ~250 ms, which must not land on every cold import.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "honeycomb-evaluator"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HoneycombEvaluator"

logger = Logger(service=SERVICE)


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes"}
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    # Only httpx: patching every library (the default) would also import botocore's stack.
    return Tracer(service=SERVICE, patch_modules=["httpx"])


@asynccontextmanager
async def traced(name: str, **annotations: str) -> AsyncIterator[None]:
    """An X-Ray subsegment around a block, or nothing when tracing is off."""
    if not tracing_enabled():
        yield
        return
    tracer = _tracer()
    async with tracer.provider.in_subsegment_async(name) as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key=key, value=value)
        yield


__all__ = ["NAMESPACE", "SERVICE", "logger", "traced", "tracing_enabled"]
