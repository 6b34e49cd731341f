"""POST /v1/slo against the emulator's SLOs, on two evaluators sharing one state table (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.aws import evaluators_sharing_one_table
from tests.support.evaluations import emulator_stats, write_registry
from tests.support.servers import Server, aws_env, start_emulator, start_moto

pytestmark = pytest.mark.servers

DEMO_SLOS = Path(__file__).resolve().parents[1] / "support" / "demo_slos.yaml"
KEY = {"X-Honeycomb-Team": "emulator-key"}
FIGURES = ("compliance", "budget_remaining", "burn_rate", "status")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[Server], str]]:
    registry = tmp_path_factory.mktemp("slo") / "callers.json"
    token = write_registry(registry, ["argo"], datasets=["checkout"])["argo"]
    with (
        start_moto() as moto,
        start_emulator("--demo", "--slos", str(DEMO_SLOS)) as emulator,
        evaluators_sharing_one_table(emulator, aws_env(moto.url), registry, 2) as evaluators,
    ):
        yield emulator, evaluators, token


def ask(evaluator: Server, token: str, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.post(
        f"{evaluator.url}/v1/slo", json={"dataset": "checkout", **body}, headers=headers, timeout=30
    )


def emulator_report(emulator: Server, slo_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{emulator.url}/1/slos/checkout/{slo_id}?detailed", headers=KEY, timeout=30)
    return {f: answer.json()[f] for f in FIGURES}


def slo_reads(emulator: Server) -> int:
    return int(emulator_stats(emulator.url)["requests"].get("GET /1/slos/{dataset}/{id}", 0))


def test_figures_equal_the_emulators_report_and_no_query_result_is_created(
    stack: tuple[Server, list[Server], str],
) -> None:
    emulator, (first, _), token = stack
    before = emulator_report(emulator, "CheckoutOk1")
    answer = ask(first, token, slo_id="CheckoutOk1", figure="burn_rate")
    after = emulator_report(emulator, "CheckoutOk1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The demo keeps adding events: the report is the one of just before or just after.
    assert {f: body[f] for f in FIGURES} in (before, after)
    assert body["value"] == body["burn_rate"] > 1
    assert body["cached"] is False
    assert {a["alert_type"] for a in body["triggered_burn_alerts"]} == {"exhaustion_time", "budget_rate"}
    assert body["slo_url"].endswith("/datasets/checkout/slos/CheckoutOk1")
    assert emulator_stats(emulator.url)["query_results_created"] == 0


def test_a_second_instance_answers_from_the_shared_store_within_a_short_deadline(
    stack: tuple[Server, list[Server], str],
) -> None:
    emulator, (first, second), token = stack
    fresh = ask(first, token, slo_name="Stable checkout availability")
    assert fresh.status_code == 200, fresh.text
    reads = slo_reads(emulator)
    # Honeycomb now takes 5 s to answer SLO reads: only a cached answer meets a 1 s deadline.
    fault = {"method": "GET", "path_prefix": "/1/slos", "count": -1, "mode": "latency", "latency_ms": 5000}
    httpx.post(f"{emulator.url}/_emulator/faults", json=fault, timeout=5).raise_for_status()
    try:
        for evaluator in (second, first):
            cached = ask(evaluator, token, slo_id="StableAvail", timeout_seconds=1)
            assert cached.status_code == 200, cached.text
            assert cached.json()["cached"] is True
            assert {f: cached.json()[f] for f in FIGURES} == {f: fresh.json()[f] for f in FIGURES}
    finally:
        httpx.delete(f"{emulator.url}/_emulator/faults", timeout=5).raise_for_status()
    assert slo_reads(emulator) == reads
    assert emulator_stats(emulator.url)["query_results_created"] == 0


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"slo_id": "Nope1234567"}, 404, "slo_not_found", "slo_id"),
        ({"slo_name": "Nope"}, 404, "slo_not_found", "slo_name"),
        ({}, 422, "invalid_request", "body"),
        ({"slo_id": "CheckoutOk1", "figure": "p99"}, 422, "invalid_request", "figure"),
    ],
)
def test_mistakes(
    stack: tuple[Server, list[Server], str], body: dict[str, Any], status: int, code: str, field: str
) -> None:
    _, (first, _), token = stack
    answer = ask(first, token, **body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"].get("field", "body") == field


def test_callers_need_the_dataset(stack: tuple[Server, list[Server], str]) -> None:
    _, (first, _), token = stack
    assert ask(first, "wrong-token", slo_id="CheckoutOk1").status_code == 401
    other = httpx.post(
        f"{first.url}/v1/slo",
        json={"dataset": "payments", "slo_id": "CheckoutOk1"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert other.status_code == 403
