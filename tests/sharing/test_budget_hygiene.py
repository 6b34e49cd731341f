"""Issue 12, budget hygiene: a token pays only for a result Honeycomb created, and one evaluation
never creates more than one result (through `honeycomb-evaluator serve` and the emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.evaluations import VERSIONS, created, evaluation, pinned, reset_emulator, write_registry
from tests.support.servers import Server, start_emulator, start_evaluator

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("callers") / "callers.json"
    return path, write_registry(path, ["cluster-a"])["cluster-a"]


@pytest.fixture
def servers(registry: tuple[Path, str]) -> Iterator[tuple[Server, Server]]:
    with start_emulator("--demo", "--result-delay-ms", "200") as emulator:
        env = {
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_CALLERS_FILE": str(registry[0]),
        }
        with start_evaluator(env) as evaluator:
            yield emulator, evaluator


def post(url: str, body: dict[str, object], token: str) -> httpx.Response:
    return httpx.post(
        url + "/v1/evaluate", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def fault(emulator: Server, **rule: object) -> None:
    body = {"path_prefix": "/1/query_results", "mode": "status", **rule}
    httpx.post(emulator.url + "/_emulator/faults", json=body, timeout=10).raise_for_status()


def test_creations_honeycomb_refuses_do_not_spend_the_budget(
    servers: tuple[Server, Server], registry: tuple[Path, str]
) -> None:
    emulator, evaluator = servers
    reset_emulator(emulator.url)
    # The budget is 9 tokens a minute (10 less one of headroom). Honeycomb refuses nine creations
    # (as it does a query naming a column it has not seen); none of them created a result.
    fault(emulator, method="POST", count=9, status=400)
    for minutes in range(9):
        refused = post(evaluator.url, evaluation(VERSIONS["bad"], time_range=600 + 60 * minutes), registry[1])
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_query", refused.text
    valid = post(evaluator.url, evaluation(VERSIONS["good"]), registry[1])
    assert valid.status_code == 200, valid.text
    assert created(emulator.url) == 1


def test_a_result_lost_while_polled_is_not_created_again_by_the_same_evaluation(
    servers: tuple[Server, Server], registry: tuple[Path, str]
) -> None:
    emulator, evaluator = servers
    reset_emulator(emulator.url)
    # Honeycomb forgets every result while it is polled.
    fault(emulator, method="GET", count=-1, status=404)
    body = pinned(evaluation(VERSIONS["stable"]))
    lost = post(evaluator.url, body, registry[1])
    assert lost.status_code == 502 and lost.json()["error"]["code"] == "upstream_error", lost.text
    assert "retry" in lost.json()["error"]["message"]
    assert created(emulator.url) == 1
    # Once Honeycomb keeps its results again, the next evaluation creates a new one.
    httpx.delete(emulator.url + "/_emulator/faults", timeout=10).raise_for_status()
    again = post(evaluator.url, body, registry[1])
    assert again.status_code == 200, again.text
    assert created(emulator.url) == 2
    # An unrelated evaluation still finds the budget nearly whole.
    other = post(evaluator.url, evaluation(VERSIONS["good"], time_range=900), registry[1])
    assert other.status_code == 200, other.text
