"""GET /readyz: ready to evaluate, not merely alive (GET /healthz).

Ready when the Honeycomb key can be read (the variable, the mounted file, the secret) and the
state store answers (a Redis PING, a DynamoDB GetItem; the memory store always does). Neither
check calls Honeycomb or spends its budget. A Kubernetes readiness probe on it takes a pod out of
the Service while its key Secret is unreadable or its Redis is unreachable, without restarting it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from honeycomb_evaluator.errors import EvaluatorError, InvalidRequest, NotReady, answer_for
from honeycomb_evaluator.keys import KeySource
from honeycomb_evaluator.state.base import StateStore

CHECK_SECONDS = 2.0  # each check; the chart's probe allows 3 s


async def _key(keys: KeySource) -> str:
    # InvalidRequest: the source was read; it only names other environments than `default`.
    with contextlib.suppress(InvalidRequest):
        await keys.resolve("default")
    return "ok"


async def _check(name: str, work: Any) -> tuple[str, str]:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return name, await work
    except TimeoutError:
        return name, f"no answer within {CHECK_SECONDS:g} s"
    except EvaluatorError as e:
        return name, f"{answer_for(e).code}: {e.message}"
    except Exception as e:  # a probe answers, whatever broke
        return name, type(e).__name__


async def _store(store: StateStore) -> str:
    await store.ping()
    return "ok"


async def readiness(keys: KeySource, store: StateStore) -> dict[str, Any]:
    """`{"ready": true, "checks": {...}}`, or `NotReady` naming what failed (503)."""
    checks = dict(
        await asyncio.gather(_check("honeycomb_key", _key(keys)), _check("state_store", _store(store)))
    )
    failed = {name: result for name, result in checks.items() if result != "ok"}
    if failed:
        raise NotReady("not ready: " + "; ".join(f"{name} {result}" for name, result in failed.items()))
    return {"ready": True, "checks": checks}
