"""The SLO gate's pure parts: the request, and the answer read from the emulator's real SLO answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_evaluator.gates.slo import (
    MalformedSloAnswer,
    SloNameError,
    SloReport,
    answer_body,
    find_by_name,
    read_report,
    slo_ui_url,
)
from honeycomb_evaluator.models.slo_request import SloRequest
from pydantic import ValidationError

from tests.support.servers import Server, start_emulator

DEMO_SLOS = Path(__file__).resolve().parents[1] / "support" / "demo_slos.yaml"
KEY = {"X-Honeycomb-Team": "emulator-key"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Server]:
    with start_emulator("--demo", "--slos", str(DEMO_SLOS)) as server:
        yield server


def honeycomb(server: Server, path: str, **params: str) -> Any:
    answer = httpx.get(f"{server.url}{path}", params=params, headers=KEY, timeout=30)
    answer.raise_for_status()
    return answer.json()


def report_of(server: Server, slo_id: str) -> tuple[SloReport, dict[str, Any]]:
    detailed = honeycomb(server, f"/1/slos/checkout/{slo_id}", detailed="true")
    alerts = honeycomb(server, "/1/burn_alerts/checkout", slo_id=slo_id)
    return read_report(detailed, alerts, time.time()), detailed


@pytest.mark.servers
def test_a_burning_slo_reports_its_figures_and_triggered_alerts(emulator: Server) -> None:
    report, detailed = report_of(emulator, "CheckoutOk1")
    body = answer_body(report, "budget_remaining", "http://ui/slo")
    for figure in ("compliance", "budget_remaining", "burn_rate", "status"):
        assert body[figure] == detailed[figure]  # exactly Honeycomb's figures, not recomputed
    assert body["value"] == detailed["budget_remaining"] < 0
    assert body["slo"] == {
        "id": "CheckoutOk1",
        "name": "Checkout availability",
        "dataset_slugs": ["checkout"],
        "target_per_million": 990000,
        "time_period_days": 7,
    }
    assert {a["alert_type"] for a in body["triggered_burn_alerts"]} == {"exhaustion_time", "budget_rate"}
    assert body["reason"].startswith("SLO 'Checkout availability' (99% over 7 d): budget_remaining -")
    assert "burn alerts triggered: exhaustion_time (budget exhausted within 240 min)" in body["reason"]
    assert "budget_rate (1% of the budget in 60 min)" in body["reason"]
    assert body["slo_url"] == "http://ui/slo"


@pytest.mark.servers
def test_a_calm_slo(emulator: Server) -> None:
    report, detailed = report_of(emulator, "StableAvail")
    body = answer_body(report, "burn_rate", None)
    assert body["value"] == detailed["burn_rate"]
    assert body["status"] == "normal"
    assert body["triggered_burn_alerts"] == []
    assert body["reason"].endswith("; no burn alert triggered")
    assert "burn_rate 0." in body["reason"] and "x, budget_remaining" in body["reason"]


@pytest.mark.servers
def test_the_report_survives_the_state_store_round_trip(emulator: Server) -> None:
    report, _ = report_of(emulator, "CheckoutOk1")
    assert SloReport.from_json(report.as_json()) == report


@pytest.mark.servers
def test_find_by_name_in_the_emulators_list(emulator: Server) -> None:
    slos = honeycomb(emulator, "/1/slos/checkout")
    assert find_by_name(slos, "Stable checkout availability") == "StableAvail"
    with pytest.raises(SloNameError) as missing:
        find_by_name(slos, "Nope")
    assert missing.value.status == 404


def test_two_slos_with_one_name_are_ambiguous() -> None:
    with pytest.raises(SloNameError) as e:
        find_by_name([{"id": "a", "name": "x"}, {"id": "b", "name": "x"}], "x")
    assert e.value.status == 422
    assert "a, b" in e.value.message


def test_no_events_means_no_value() -> None:
    detailed = {"id": "x", "name": "n", "target_per_million": 999000, "time_period_days": 30}
    detailed |= {"status": "no_events", "compliance": 100.0, "budget_remaining": 100.0, "burn_rate": 0}
    body = answer_body(read_report(detailed, [], 0.0), "compliance", None)
    assert body["value"] is None
    assert body["reason"] == "SLO 'n' (99.9% over 30 d) counted no events: no compliance"


@pytest.mark.parametrize(
    ("detailed", "alerts"),
    [
        ([], []),
        ({"name": "no id"}, []),
        ({"id": "x", "time_period_days": 7}, []),  # no target
        ({"id": "x", "time_period_days": 7, "target_per_million": 1, "compliance": "high"}, []),
        ({"id": "x", "time_period_days": 7, "target_per_million": 1}, {"not": "a list"}),
    ],
)
def test_malformed_answers_are_upstream_problems(detailed: Any, alerts: Any) -> None:
    with pytest.raises(MalformedSloAnswer):
        read_report(detailed, alerts, 0.0)


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        (
            "https://api.honeycomb.io",
            "https://ui.honeycomb.io/t/environments/prod/datasets/checkout/slos/Ab1",
        ),
        (
            "https://api.eu1.honeycomb.io/",
            "https://ui.eu1.honeycomb.io/t/environments/prod/datasets/checkout/slos/Ab1",
        ),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/ui/t/environments/prod/datasets/checkout/slos/Ab1"),
    ],
)
def test_slo_links(api_url: str, expected: str) -> None:
    assert slo_ui_url(api_url, "t", "prod", "checkout", "Ab1") == expected


def test_request_names_the_slo_exactly_once() -> None:
    assert (
        SloRequest.model_validate({"dataset": "checkout", "slo_id": "CheckoutOk1"}).figure
        == "budget_remaining"
    )
    assert (
        SloRequest.model_validate({"dataset": "checkout", "slo_name": "Checkout availability"}).slo_id is None
    )
    for body in (
        {"dataset": "checkout"},
        {"dataset": "checkout", "slo_id": "a", "slo_name": "b"},
        {"dataset": "checkout", "slo_id": "a", "figure": "p99"},
        {"dataset": "checkout", "slo_id": "a", "extra": 1},
        {"dataset": "checkout", "slo_id": "a/../b"},
    ):
        with pytest.raises(ValidationError):
            SloRequest.model_validate(body)
