"""Query Data API over HTTP: queries, query results, delays, limits, errors, and the demo numbers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES, VARIANTS

from .conftest import QUERIES_ONLY_KEY, Honeycomb

pytestmark = pytest.mark.servers

P99_AND_ERRORS: dict[str, Any] = {
    "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
    "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
    "breakdowns": ["rollouts_pod_template_hash"],
    "time_range": 1800,
}


def test_create_query_echoes_the_spec_with_an_id(honeycomb: Honeycomb) -> None:
    spec = {
        "calculations": [{"op": "COUNT"}],
        "orders": [{"op": "COUNT", "order": "descending"}],
        "time_range": 7200,
    }
    body = honeycomb.call("POST", "/1/queries/checkout", expect=200, json_body=spec).json()
    assert len(body.pop("id")) == 11
    assert body == spec
    again = honeycomb.call(
        "GET", f"/1/queries/checkout/{honeycomb.create_query('checkout', spec)}", expect=200
    )
    assert {k: v for k, v in again.json().items() if k != "id"} == spec


def test_query_result_lifecycle(honeycomb: Honeycomb) -> None:
    query_id = honeycomb.create_query("checkout", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    created = honeycomb.call(
        "POST", "/1/query_results/checkout", expect=201, json_body={"query_id": query_id}
    )
    body = created.json()
    assert body["complete"] is False and "data" not in body
    assert len(body["id"]) == 11 and body["id"].isalnum()
    assert created.headers["Location"] == f"{honeycomb.url}/1/query_results/checkout/{body['id']}"
    assert body["links"]["query_url"] == f"{honeycomb.url}/ui/emulator/datasets/checkout/result/{body['id']}"
    assert body["links"]["graph_image_url"] == body["links"]["query_url"] + "/snapshot"
    assert "RateLimit" in created.headers and created.headers["RateLimitPolicy"] == "10000;w=60"

    done = honeycomb.poll("checkout", body["id"])
    assert done["data"]["results"][0]["data"]["COUNT"] > 0
    assert done["data"]["series"]
    final = honeycomb.call("GET", f"/1/query_results/checkout/{body['id']}", expect=200)
    assert final.headers["Cache-Control"] == "private, max-age=86400"
    assert "Last-Modified" in final.headers


def test_demo_data_has_the_documented_error_rates_and_p99s(honeycomb: Honeycomb) -> None:
    rows = honeycomb.run("checkout", P99_AND_ERRORS)["data"]["results"]
    by_hash = {r["data"]["rollouts_pod_template_hash"]: r["data"] for r in rows}
    stable, bad, good = (by_hash[DEMO_HASHES[role]] for role in ("stable", "bad", "good"))
    assert set(by_hash) == {v.pod_template_hash for v in VARIANTS}
    assert stable["AVG(is_error)"] == pytest.approx(0.005, abs=0.003)
    assert stable["P99(duration_ms)"] == pytest.approx(300, rel=0.1)
    assert bad["AVG(is_error)"] == pytest.approx(0.08, abs=0.015)
    assert bad["P99(duration_ms)"] == pytest.approx(1200, rel=0.1)
    assert good["AVG(is_error)"] == pytest.approx(0.004, abs=0.003)
    assert good["P99(duration_ms)"] == pytest.approx(280, rel=0.1)


def test_no_data_hash_gives_empty_results(honeycomb: Honeycomb) -> None:
    spec = {
        "calculations": [{"op": "COUNT"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["none"]}],
        "time_range": 600,
    }
    data = honeycomb.run("checkout", spec)["data"]
    assert data["results"] == []  # no data is an empty table, never a zero


def test_result_on_another_dataset_segment_is_404(honeycomb: Honeycomb) -> None:
    honeycomb.call("POST", "/1/batch/other-ds", json_body=[{"data": {"a": 1}}], expect=200)
    query_id = honeycomb.create_query("checkout", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    # creating on a dataset other than the query's
    body = honeycomb.call(
        "POST", "/1/query_results/other-ds", expect=404, json_body={"query_id": query_id}
    ).json()
    assert body["status"] == 404 and body["type"] == "https://api.honeycomb.io/problems/not-found"
    result = honeycomb.call("POST", "/1/query_results/checkout", expect=201, json_body={"query_id": query_id})
    honeycomb.call("GET", f"/1/query_results/other-ds/{result.json()['id']}", expect=404)
    honeycomb.call("GET", f"/1/query_results/__all__/{result.json()['id']}", expect=404)
    honeycomb.call("GET", f"/1/queries/other-ds/{query_id}", expect=404)


def test_environment_wide_queries_use___all__(honeycomb: Honeycomb) -> None:
    spec = {"calculations": [{"op": "COUNT"}], "breakdowns": ["service.name"], "time_range": 600}
    rows = honeycomb.run("__all__", spec)["data"]["results"]
    assert any(r["data"].get("service.name") == "checkout" for r in rows)


def test_unknown_dataset_is_404_problem(honeycomb: Honeycomb) -> None:
    response = honeycomb.call("POST", "/1/queries/nope", expect=404, json_body={"time_range": 60})
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "status": 404,
        "type": "https://api.honeycomb.io/problems/not-found",
        "title": "The requested resource cannot be found.",
        "error": "Dataset not found",
        "detail": "Dataset not found",
    }


def test_unknown_query_and_result_ids_are_404(honeycomb: Honeycomb) -> None:
    honeycomb.call("GET", "/1/queries/checkout/AAAAAAAAAAA", expect=404)
    honeycomb.call("GET", "/1/query_results/checkout/AAAAAAAAAAA", expect=404)
    honeycomb.call("POST", "/1/query_results/checkout", expect=404, json_body={"query_id": "AAAAAAAAAAA"})


def test_unknown_column_is_refused_at_query_creation(honeycomb: Honeycomb) -> None:
    spec = {"calculations": [{"op": "P99", "column": "no_such_column"}], "time_range": 600}
    body = honeycomb.call("POST", "/1/queries/checkout", expect=422, json_body=spec).json()
    assert body["type_detail"][0]["field"] == "calculations[0].column"
    assert "no_such_column" in body["error"]


def test_invalid_spec_is_422_with_type_detail(honeycomb: Honeycomb) -> None:
    spec = {"calculations": [{"op": "P98", "column": "duration_ms"}], "time_range": 600}
    response = honeycomb.call("POST", "/1/queries/checkout", expect=422, json_body=spec)
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["status"] == 422 and body["title"] == "The provided input is invalid."
    assert body["type"] == "https://api.honeycomb.io/problems/validation-failed"
    assert body["type_detail"][0]["field"].startswith("calculations[0]")


def test_unparseable_body_is_400_problem(honeycomb: Honeycomb) -> None:
    response = honeycomb.call("POST", "/1/queries/checkout", expect=400, content=b"{not json")
    body = response.json()
    assert body["type"] == "https://api.honeycomb.io/problems/unparseable"
    assert body["title"] == "The request body could not be parsed."
    assert body["error"].startswith("could not parse request body")
    honeycomb.call("POST", "/1/query_results/checkout", expect=400, content=b"")


def test_windows_beyond_seven_days_are_400(honeycomb: Honeycomb) -> None:
    now = int(time.time())
    too_long = {"calculations": [{"op": "COUNT"}], "start_time": now - 8 * 86400, "end_time": now}
    body = honeycomb.call("POST", "/1/queries/checkout", expect=400, json_body=too_long).json()
    assert "7 days" in body["error"]
    # a valid spec whose window lies before the last 7 days is refused when the result is created
    too_old = {"calculations": [{"op": "COUNT"}], "end_time": now - 8 * 86400, "time_range": 3600}
    query_id = honeycomb.create_query("checkout", too_old)
    result = honeycomb.call("POST", "/1/query_results/checkout", expect=400, json_body={"query_id": query_id})
    assert "7 days" in result.json()["error"]


def test_query_result_request_is_validated(honeycomb: Honeycomb) -> None:
    missing = honeycomb.call("POST", "/1/query_results/checkout", expect=422, json_body={}).json()
    assert missing["type_detail"] == [
        {"field": "query_id", "code": "missing", "description": "query_id is required"}
    ]
    query_id = honeycomb.create_query("checkout", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    wrong = honeycomb.call(
        "POST",
        "/1/query_results/checkout",
        expect=422,
        json_body={"query_id": query_id, "disable_series": "yes"},
    ).json()
    assert wrong["type_detail"][0]["code"] == "incorrect_type"
    too_big = {"query_id": query_id, "disable_series": True, "limit": 10001}
    honeycomb.call("POST", "/1/query_results/checkout", expect=422, json_body=too_big)


def test_limit_rules(honeycomb: Honeycomb) -> None:
    spec = {"calculations": [{"op": "COUNT"}], "breakdowns": ["trace.span_id"], "time_range": 600}
    # without disable_series the request's limit is ignored (the query's default applies)
    data = honeycomb.run("checkout", {**spec, "limit": 1000}, limit=5000)["data"]
    assert len(data["results"]) <= 1000
    # with disable_series up to 10000 rows, and no series
    result = honeycomb.run("checkout", spec, disable_series=True, limit=2000)
    assert result["query"]["limit"] == 2000
    assert 1000 < len(result["data"]["results"]) <= 2000
    assert not result["data"].get("series")


def test_total_and_other_by_aggregate_when_asked(honeycomb: Honeycomb) -> None:
    spec = {
        "calculations": [{"op": "COUNT"}],
        "breakdowns": ["service.version"],
        "limit": 1,
        "time_range": 600,
    }
    plain = honeycomb.run("checkout", spec)["data"]
    assert "total_by_aggregate" not in plain and "other_by_aggregate" not in plain
    data = honeycomb.run(
        "checkout", spec, disable_total_by_aggregate=False, disable_other_by_aggregate=False
    )["data"]
    assert data["total_by_aggregate"]["data"]["COUNT"] > data["results"][0]["data"]["COUNT"]
    assert "COUNT" in data["other_by_aggregate"]["data"]


def test_queries_only_key_may_run_but_not_create(honeycomb: Honeycomb) -> None:
    query_id = honeycomb.create_query("checkout", {"calculations": [{"op": "COUNT"}], "time_range": 300})
    created = honeycomb.call(
        "POST",
        "/1/query_results/checkout",
        key=QUERIES_ONLY_KEY,
        expect=201,
        json_body={"query_id": query_id},
    )
    honeycomb.call(
        "GET", f"/1/query_results/checkout/{created.json()['id']}", key=QUERIES_ONLY_KEY, expect=200
    )
    honeycomb.call("GET", f"/1/queries/checkout/{query_id}", key=QUERIES_ONLY_KEY, expect=403)


def test_body_over_100000_bytes_is_413(honeycomb: Honeycomb) -> None:
    spec = {"calculations": [{"op": "COUNT"}], "time_range": 600, "padding": "x" * 100_001}
    for path in ("/1/queries/checkout", "/1/query_results/checkout", "/1/slos/checkout"):
        response = honeycomb.call("POST", path, expect=413, json_body=spec)
        assert response.json() == {
            "status": 413,
            "type": "https://api.honeycomb.io/problems/payload-too-large",
            "title": "Request body is too large.",
            "error": "Body size is larger than maximum size of 100000 bytes",
        }


def test_result_links_open_a_page_and_a_graph(honeycomb: Honeycomb) -> None:
    query_id = honeycomb.create_query("checkout", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    created = honeycomb.call(
        "POST", "/1/query_results/checkout", expect=201, json_body={"query_id": query_id}
    ).json()
    honeycomb.poll("checkout", created["id"])
    page = honeycomb.client.get(created["links"]["query_url"])
    assert page.status_code == 200 and "COUNT" in page.text
    graph = honeycomb.client.get(created["links"]["graph_image_url"])
    assert graph.status_code == 200 and graph.headers["content-type"].startswith("image/svg+xml")


def test_derived_columns_are_usable_by_alias(honeycomb: Honeycomb) -> None:
    honeycomb.call(
        "POST",
        "/1/derived_columns/checkout",
        expect=201,
        json_body={"alias": "slow_request", "expression": "GT($duration_ms, 500)"},
    )
    spec = {
        "calculations": [{"op": "COUNT"}],
        "filters": [{"column": "slow_request", "op": "=", "value": True}],
        "breakdowns": ["service.version"],
        "time_range": 1800,
    }
    rows = honeycomb.run("checkout", spec, disable_series=True)["data"]["results"]
    # only the bad canary (p99 1200 ms) has a sizeable share of spans over 500 ms
    assert rows[0]["data"]["service.version"] == "v1.5.0"
    alias = {"alias": "slow_request"}
    listed = honeycomb.call("GET", "/1/derived_columns/checkout", params=alias, expect=200)
    assert listed.json()["expression"] == "GT($duration_ms, 500)"
