"""Real servers for the evaluator's integration tests: the emulator and `honeycomb-evaluator serve`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.models.response import ErrorResponse

from tests.support.servers import Server, start_emulator, start_evaluator

# Distinctive keys, so a scan of the evaluator's output can prove they never leak.
PRIMARY_KEY = "hcprimarykey0f9e8d7c6b5a4"
ROTATED_KEY = "hcrotatedkey1a2b3c4d5e6f7"
# Allowed to manage columns and queries but not to run them: Honeycomb answers 403.
NO_RUN_KEY = "hcnorunkey5f4e3d2c1b0a9z8"
BAD_CANARY_HASH = DEMO_HASHES["bad"]
STABLE_HASH = DEMO_HASHES["stable"]
NO_DATA_HASH = DEMO_HASHES["none"]


@dataclass
class Stack:
    emulator: Server
    evaluator: Server

    def evaluate(self, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.evaluator.url}/v1/evaluate", json=body, timeout=40, **kwargs)

    def fault(self, **rule: Any) -> None:
        httpx.post(f"{self.emulator.url}/_emulator/faults", json=rule, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.emulator.url}/_emulator/stats", timeout=5).json()
        return stats

    def requests(self, route: str) -> int:
        return int(self.stats()["requests"].get(route, 0))


def emulator_flags(result_delay_ms: int = 150) -> list[str]:
    return [
        "--demo",
        "--result-delay-ms",
        str(result_delay_ms),
        "--rate-limit-per-minute",
        "1000",
        "--api-key",
        f"primary={PRIMARY_KEY}",
        "--api-key",
        f"rotated={ROTATED_KEY}",
        "--api-key",
        f"norun={NO_RUN_KEY}:columns",
    ]


def evaluator_env(emulator: Server, **extra: str) -> dict[str, str]:
    return {
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_ALLOW_ANONYMOUS": "true",
        "EVALUATOR_RATE_LIMIT_PER_MINUTE": "1000",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **extra,
    }


@pytest.fixture(scope="session")
def emulator() -> Iterator[Server]:
    """One per test process (faults and counters are reset before each test)."""
    with start_emulator(*emulator_flags()) as server:
        yield server


@pytest.fixture(scope="module")
def stack(emulator: Server) -> Iterator[Stack]:
    with start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY)) as evaluator:
        yield Stack(emulator, evaluator)


@pytest.fixture(autouse=True)
def _clean_emulator(request: pytest.FixtureRequest) -> None:
    """Each test starts with no faults and zeroed counters (only when it uses the emulator)."""
    if "emulator" in request.fixturenames or "stack" in request.fixturenames:
        server: Server = request.getfixturevalue("emulator")
        httpx.post(f"{server.url}/_emulator/reset", timeout=5).raise_for_status()


def unique_filter() -> dict[str, Any]:
    """A filter that matches everything but makes the spec new, so no cache or query id is reused."""
    return {"column": "name", "op": "!=", "value": f"never-{uuid.uuid4().hex}"}


def canary_body(pod_hash: str, calculation: str = "P99", **extra: Any) -> dict[str, Any]:
    query: dict[str, Any]
    if calculation == "error_rate":
        query = {
            "calculations": [{"op": "AVG", "column": "is_error"}],
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        }
    else:
        query = {"calculations": [{"op": calculation, "column": "duration_ms"}]}
    query["filters"] = [
        {"column": "rollouts_pod_template_hash", "op": "=", "value": pod_hash},
        unique_filter(),
    ]
    query["time_range"] = 600
    return {"dataset": "checkout", "query": query, **extra}


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is the documented JSON error with this status and code; its `error` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = ErrorResponse.model_validate(response.json()).error.model_dump()
    assert body["code"] == code, body
    return body
