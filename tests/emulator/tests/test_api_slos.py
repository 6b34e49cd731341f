"""Catalogue (datasets, columns, derived columns) and SLOs: --slos file, API, reporting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from openapi_core import OpenAPI

from tests.support.servers import start_emulator

from .conftest import KEY_FLAGS, Honeycomb

pytestmark = pytest.mark.servers

GOOD = DEMO_HASHES["good"]

SLO_FILE = {
    "derived_columns": [
        {"dataset": "checkout", "alias": "checkout_ok", "expression": "IF($error, false, true)"}
    ],
    "slos": [
        {
            "id": "CheckoutOk1",
            "dataset": "checkout",
            "name": "Checkout availability",
            "sli": "checkout_ok",
            "time_period_days": 7,
            "target_per_million": 990000,
            "burn_alerts": [
                {"alert_type": "exhaustion_time", "exhaustion_minutes": 240},
                {
                    "alert_type": "budget_rate",
                    "budget_rate_window_minutes": 60,
                    "budget_rate_decrease_threshold_per_million": 10000,
                },
            ],
        },
        {
            "id": "CanaryFast1",
            "dataset": "checkout",
            "name": "Good canary latency",
            "sli": {
                "alias": "fast_good_canary",
                "expression": f'IF(EQUALS($rollouts_pod_template_hash, "{GOOD}"), LT($duration_ms, 1000))',
            },
            "time_period_days": 1,
            "target_per_million": 900000,
            "burn_alerts": [
                {
                    "alert_type": "budget_rate",
                    "budget_rate_window_minutes": 60,
                    "budget_rate_decrease_threshold_per_million": 10000,
                }
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def slo_emulator(openapi: OpenAPI | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Honeycomb]:
    path = tmp_path_factory.mktemp("slos") / "slos.json"
    path.write_text(json.dumps(SLO_FILE))
    with (
        start_emulator("--demo", "--slos", str(path), *KEY_FLAGS) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield Honeycomb(server, client)


def test_datasets_list_and_get(honeycomb: Honeycomb) -> None:
    datasets = honeycomb.call("GET", "/1/datasets", expect=200).json()
    checkout = next(d for d in datasets if d["slug"] == "checkout")
    assert checkout["regular_columns_count"] == 14 and checkout["last_written_at"]
    assert honeycomb.call("GET", "/1/datasets/checkout", expect=200).json()["name"] == "checkout"
    assert honeycomb.call("GET", "/1/datasets/nope", expect=404).json()["error"] == "Dataset not found"


def test_columns_have_the_demo_types(honeycomb: Honeycomb) -> None:
    columns = honeycomb.call("GET", "/1/columns/checkout", expect=200).json()
    types = {c["key_name"]: c["type"] for c in columns}
    assert types == {
        "name": "string",
        "service.name": "string",
        "service.version": "string",
        "rollouts_pod_template_hash": "string",
        "duration_ms": "float",
        "http.response.status_code": "integer",
        "error": "boolean",
        "status_code": "integer",
        "trace.trace_id": "string",
        "trace.span_id": "string",
        "trace.parent_id": "string",
        "http.route": "string",
        "user.plan": "string",
        "exception.type": "string",
    }
    one = honeycomb.call("GET", "/1/columns/checkout", params={"key_name": "duration_ms"}, expect=200).json()
    assert one["key_name"] == "duration_ms" and len(one["id"]) == 11
    honeycomb.call("GET", "/1/columns/checkout", params={"key_name": "nope"}, expect=404)
    honeycomb.call("GET", "/1/columns/nope", expect=404)
    assert any(
        c["key_name"] == "duration_ms" for c in honeycomb.call("GET", "/1/columns/__all__", expect=200).json()
    )


def test_slos_from_the_file_are_listed(slo_emulator: Honeycomb) -> None:
    slos = slo_emulator.call("GET", "/1/slos/checkout", expect=200).json()
    assert {s["id"] for s in slos} == {"CheckoutOk1", "CanaryFast1"}
    assert all("compliance" not in s for s in slos)
    one = slo_emulator.call("GET", "/1/slos/checkout/CheckoutOk1", expect=200).json()
    assert one["sli"] == {"alias": "checkout_ok"} and one["dataset_slugs"] == ["checkout"]


def test_detailed_slo_is_computed_from_events(slo_emulator: Honeycomb) -> None:
    body = slo_emulator.call(
        "GET", "/1/slos/checkout/CheckoutOk1", params={"detailed": ""}, expect=200
    ).json()
    # demo error rates 0.5 %, 8 %, 0.4 %, ~0.8 % (the slice-regressed canary) and 0.5 % in equal
    # parts: ~2.04 % bad against a 1 % budget
    assert body["compliance"] == pytest.approx(97.96, abs=0.3)
    assert body["budget_remaining"] == pytest.approx(-104, abs=30)
    assert body["burn_rate"] == pytest.approx(2.04, abs=0.3)
    assert body["status"] == "triggered"
    canary = slo_emulator.call(
        "GET", "/1/slos/checkout/CanaryFast1", params={"detailed": "true"}, expect=200
    ).json()
    assert canary["compliance"] > 99 and canary["status"] == "normal"


def test_burn_alerts_of_an_slo(slo_emulator: Honeycomb) -> None:
    alerts = slo_emulator.call(
        "GET", "/1/burn_alerts/checkout", params={"slo_id": "CheckoutOk1"}, expect=200
    ).json()
    by_type = {a["alert_type"]: a for a in alerts}
    assert by_type["exhaustion_time"]["triggered"] is True  # the budget is already spent
    assert by_type["budget_rate"]["triggered"] is True  # the last hour alone used > 1 % of it
    assert by_type["budget_rate"]["slo"] == {"id": "CheckoutOk1"}
    canary = {"slo_id": "CanaryFast1"}
    (calm,) = slo_emulator.call("GET", "/1/burn_alerts/checkout", params=canary, expect=200).json()
    assert calm["triggered"] is False
    missing = slo_emulator.call("GET", "/1/burn_alerts/checkout", expect=422).json()
    assert missing["type_detail"][0]["field"] == "slo_id"
    slo_emulator.call("GET", "/1/burn_alerts/checkout", params={"slo_id": "AAAAAAAAAAA"}, expect=404)


def test_create_slo_over_the_api(slo_emulator: Honeycomb) -> None:
    derived = slo_emulator.call(
        "POST",
        "/1/derived_columns/checkout",
        expect=201,
        json_body={"alias": "fast", "expression": "LT($duration_ms, 500)"},
    ).json()
    assert derived["alias"] == "fast"
    body = {
        "name": "Fast checkout",
        "sli": {"alias": "fast"},
        "time_period_days": 1,
        "target_per_million": 950000,
    }
    created = slo_emulator.call("POST", "/1/slos/checkout", expect=201, json_body=body).json()
    assert len(created["id"]) == 11 and created["dataset_slugs"] == ["checkout"]
    detailed = slo_emulator.call(
        "GET", f"/1/slos/checkout/{created['id']}", params={"detailed": ""}, expect=200
    )
    assert 80 < detailed.json()["compliance"] < 100

    on_column = {**body, "name": "No errors (boolean column)", "sli": {"alias": "error"}}
    slo_emulator.call("POST", "/1/slos/checkout", expect=201, json_body=on_column)


def test_slo_validation(slo_emulator: Honeycomb) -> None:
    body = {"name": "x", "sli": {"alias": "no_such_sli"}, "time_period_days": 1, "target_per_million": 950000}
    bad_sli = slo_emulator.call("POST", "/1/slos/checkout", expect=422, json_body=body).json()
    assert bad_sli["type_detail"][0]["field"] == "sli.alias"
    bad_target = {**body, "sli": {"alias": "checkout_ok"}, "target_per_million": 1_000_000}
    assert slo_emulator.call("POST", "/1/slos/checkout", expect=422, json_body=bad_target).json()[
        "type_detail"
    ][0]["field"] == ("target_per_million")
    slo_emulator.call("POST", "/1/slos/nope", expect=404, json_body=body)
    slo_emulator.call("GET", "/1/slos/checkout/AAAAAAAAAAA", expect=404)
    bad_expression = {"alias": "broken", "expression": "LT($duration_ms"}
    slo_emulator.call("POST", "/1/derived_columns/checkout", expect=422, json_body=bad_expression)


def test_slo_history(slo_emulator: Honeycomb) -> None:
    now = int(time.time())
    body = {"ids": ["CheckoutOk1", "CanaryFast1"], "start_time": now - 3 * 3600, "end_time": now}
    history = slo_emulator.call("POST", "/1/reporting/slos/historical", expect=200, json_body=body).json()
    assert set(history) == {"CheckoutOk1", "CanaryFast1"}
    points = history["CheckoutOk1"]
    assert points and all(set(p) == {"timestamp", "compliance", "budget_remaining"} for p in points)
    assert points[-1]["compliance"] == pytest.approx(97.96, abs=0.5)
    too_many = {**body, "ids": ["CheckoutOk1"] * 25}
    slo_emulator.call("POST", "/1/reporting/slos/historical", expect=422, json_body=too_many)
    backwards = {**body, "start_time": now, "end_time": now - 10}
    assert (
        slo_emulator.call("POST", "/1/reporting/slos/historical", expect=422, json_body=backwards).json()[
            "type_detail"
        ][0]["field"]
        == "end_time"
    )


def test_bad_slo_file_stops_the_emulator(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text("slos:\n  - dataset: checkout\n    name: x\n    sli: nope\n    time_period_days: 1\n")
    with pytest.raises(RuntimeError, match="target_per_million"), start_emulator("--slos", str(path)):
        pass


def test_create_burn_alert_and_list_environment_wide(slo_emulator: Honeycomb) -> None:
    body = {"alert_type": "exhaustion_time", "exhaustion_minutes": 60, "slo": {"id": "CanaryFast1"}}
    created = slo_emulator.call("POST", "/1/burn_alerts/checkout", expect=201, json_body=body).json()
    assert created["slo"] == {"id": "CanaryFast1"} and created["triggered"] is False
    bad = {**body, "alert_type": "budget_rate"}
    slo_emulator.call("POST", "/1/burn_alerts/checkout", expect=422, json_body=bad)
    everywhere = slo_emulator.call("GET", "/1/slos/__all__", expect=200).json()
    assert {"CheckoutOk1", "CanaryFast1"} <= {s["id"] for s in everywhere}
