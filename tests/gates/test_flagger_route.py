"""POST /v1/flagger over HTTP: who the caller is (metadata token or header) and what it may read.

Good and bad canaries through Flagger's own Go code are in tests/flagger; these are the edges.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support.evaluations import write_registry
from tests.support.servers import Server, start_emulator, start_evaluator

pytestmark = pytest.mark.servers

REQUEST = {
    "dataset": "checkout",
    "query": {
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "calculations": [{"op": "AVG", "column": "is_error"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": "{{ variables.hash }}"}],
        "time_range": 600,
    },
}


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    registry = tmp_path_factory.mktemp("flagger") / "callers.json"
    tokens = write_registry(registry, ["flagger"], datasets=["checkout"])
    with start_emulator("--demo", "--result-delay-ms", "100") as emulator:
        env = {
            "HONEYCOMB_API_URL": emulator.url,
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "EVALUATOR_CALLERS_FILE": str(registry),
        }
        with start_evaluator(env) as server:
            yield server, tokens


def payload(request: dict[str, Any] | None = None, **metadata: str) -> dict[str, Any]:
    return {
        "name": "checkout",
        "namespace": "shop",
        "phase": "Progressing",
        "checksum": "c0ffee",
        "metadata": {
            "request": json.dumps(request or REQUEST),
            "max": "0.02",
            "hash": DEMO_HASHES["good"],
            **metadata,
        },
    }


def call(server: Server, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/flagger", json=body, headers=headers, timeout=30)


def test_the_metadata_token_identifies_the_caller(evaluator: tuple[Server, dict[str, str]]) -> None:
    server, tokens = evaluator
    answer = call(server, payload(token=tokens["flagger"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["passed"] is True
    reason = answer.json()["reason"]  # the good canary's rate is 0.25-0.5 % (docs/emulator.md)
    assert reason.startswith("shop/checkout (Progressing): AVG(is_error) = 0.00")
    assert reason.endswith(" is within max 0.02")


def test_a_header_token_wins_over_the_metadata(evaluator: tuple[Server, dict[str, str]]) -> None:
    server, tokens = evaluator
    answer = call(server, payload(token="not-registered"), Authorization=f"Bearer {tokens['flagger']}")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("token", [None, "not-registered"])
def test_no_or_an_unknown_token_is_401_with_a_body_flagger_logs(
    evaluator: tuple[Server, dict[str, str]], token: str | None
) -> None:
    server, _ = evaluator
    answer = call(server, payload(**({"token": token} if token else {})))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert "not-registered" not in answer.text


def test_a_dataset_the_caller_may_not_read_is_403(evaluator: tuple[Server, dict[str, str]]) -> None:
    server, tokens = evaluator
    answer = call(server, payload({**REQUEST, "dataset": "payments"}, token=tokens["flagger"]))
    assert answer.status_code == 403
    assert answer.json()["error"]["field"] == "dataset"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"namespace": "shop", "metadata": {}}, "name"),
        ({"name": "checkout", "namespace": "shop", "metadata": {"request": 1}}, "metadata.request"),
    ],
)
def test_a_payload_that_is_not_flaggers_is_422(
    evaluator: tuple[Server, dict[str, str]], body: dict[str, Any], field: str
) -> None:
    server, tokens = evaluator
    answer = call(server, body, Authorization=f"Bearer {tokens['flagger']}")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_an_unknown_placeholder_names_its_place(evaluator: tuple[Server, dict[str, str]]) -> None:
    server, tokens = evaluator
    request = {**REQUEST, "dataset": "{{ service }}"}
    answer = call(server, payload(request, token=tokens["flagger"]))
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "metadata.request.dataset"
    assert "unknown placeholder {{ service }}" in answer.json()["error"]["message"]
