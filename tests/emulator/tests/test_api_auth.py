"""GET /1/auth, 401 and 403 bodies, and the --api-key permission syntax."""

from __future__ import annotations

import pytest
from honeycomb_emulator.auth import KeySpecError, parse_key_spec

from .conftest import EVENTS_ONLY_KEY, FULL_KEY, INGEST_KEY, NO_SLO_KEY, QUERIES_ONLY_KEY, Honeycomb


@pytest.mark.servers
def test_auth_shows_the_key_and_every_permission(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/auth", expect=200).json()
    assert body["type"] == "configuration"
    assert len(body["id"]) == 11 and FULL_KEY not in body["id"]
    assert body["api_key_access"]["createDatasets"] is True  # the spec's spelling
    assert all(body["api_key_access"].values())
    assert body["environment"] == {"name": "emulator", "slug": "emulator"}
    assert body["team"]["slug"] == "emulator"


@pytest.mark.servers
def test_auth_of_a_limited_key_lists_only_its_permissions(honeycomb: Honeycomb) -> None:
    access = honeycomb.call("GET", "/1/auth", key=QUERIES_ONLY_KEY, expect=200).json()["api_key_access"]
    assert access["queries"] is True
    assert access["columns"] is False and access["slos"] is False and access["events"] is False


@pytest.mark.servers
def test_ingest_key_reports_only_create_datasets(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/auth", key=INGEST_KEY, expect=200).json()
    assert body["type"] == "ingest"
    assert body["api_key_access"] == {"createDatasets": True}


@pytest.mark.servers
@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_missing_or_unknown_key_is_401_with_the_documented_body(
    honeycomb: Honeycomb, key: str | None
) -> None:
    for method, path in [("GET", "/1/auth"), ("GET", "/1/datasets"), ("GET", "/1/query_results/checkout/x")]:
        response = honeycomb.call(method, path, key=key, expect=401)
        assert response.json() == {"error": "unknown API key - check your credentials"}
        assert response.headers["content-type"].startswith("application/json")


@pytest.mark.servers
def test_key_without_columns_permission_cannot_create_queries(honeycomb: Honeycomb) -> None:
    response = honeycomb.call(
        "POST", "/1/queries/checkout", key=QUERIES_ONLY_KEY, expect=403, json_body={"time_range": 600}
    )
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["status"] == 403 and "Manage Queries and Columns" in body["error"]


@pytest.mark.servers
def test_key_without_slos_permission_cannot_read_slos(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/slos/checkout", key=NO_SLO_KEY, expect=403).json()
    assert "Manage SLOs" in body["error"]


@pytest.mark.servers
def test_ingest_key_cannot_query(honeycomb: Honeycomb) -> None:
    honeycomb.call("GET", "/1/columns/checkout", key=INGEST_KEY, expect=403)
    honeycomb.call("GET", "/1/datasets", key=INGEST_KEY, expect=403)


def test_key_spec_syntax() -> None:
    key = parse_key_spec("ci=abc123:queries,columns")
    assert key.name == "ci" and key.permissions == {"queries", "columns"} and key.kind == "configuration"
    assert parse_key_spec("abc").permissions >= {"queries", "columns", "slos", "events", "createDatasets"}
    assert parse_key_spec("abc:create_datasets").permissions == {"createDatasets"}
    assert parse_key_spec("abc:ingest").kind == "ingest"
    assert parse_key_spec("emulator-key").name == "default"
    assert "abc" not in parse_key_spec("abc").name
    with pytest.raises(KeySpecError, match="unknown permission 'query'"):
        parse_key_spec("abc:query")


ENDPOINTS = [
    ("GET", "/1/datasets"),
    ("GET", "/1/datasets/checkout"),
    ("GET", "/1/columns/checkout"),
    ("GET", "/1/derived_columns/checkout"),
    ("POST", "/1/derived_columns/checkout"),
    ("POST", "/1/queries/checkout"),
    ("GET", "/1/queries/checkout/AAAAAAAAAAA"),
    ("POST", "/1/query_results/checkout"),
    ("GET", "/1/query_results/checkout/AAAAAAAAAAA"),
    ("GET", "/1/slos/checkout"),
    ("POST", "/1/slos/checkout"),
    ("GET", "/1/slos/checkout/AAAAAAAAAAA"),
    ("GET", "/1/burn_alerts/checkout"),
    ("POST", "/1/burn_alerts/checkout"),
    ("POST", "/1/reporting/slos/historical"),
    ("POST", "/1/batch/checkout"),
    ("POST", "/1/events/checkout"),
]


@pytest.mark.servers
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_answers_401_without_a_key(honeycomb: Honeycomb, method: str, path: str) -> None:
    body = {} if method == "POST" else None
    response = honeycomb.call(method, path, key=None, json_body=body, expect=401)
    assert response.json() == {"error": "unknown API key - check your credentials"}


@pytest.mark.servers
@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in ENDPOINTS if not p.startswith(("/1/batch", "/1/events", "/1/datasets"))],
)
def test_every_configuration_endpoint_answers_403_to_a_key_without_permission(
    honeycomb: Honeycomb, method: str, path: str
) -> None:
    # the ingest key has none of queries/columns/slos
    body = {} if method == "POST" else None
    response = honeycomb.call(method, path, key=INGEST_KEY, json_body=body, expect=403)
    assert response.json()["status"] == 403 and response.json()["error"]


@pytest.mark.servers
@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p.replace("checkout", "no-such-dataset")) for m, p in ENDPOINTS if "checkout" in p],
)
def test_every_dataset_endpoint_answers_404_for_an_unknown_dataset(
    honeycomb: Honeycomb, method: str, path: str
) -> None:
    # Events create datasets, so only a key without createDatasets gets the 404 there.
    key = EVENTS_ONLY_KEY if path.startswith(("/1/events", "/1/batch")) else FULL_KEY
    body = {} if method == "POST" else None
    response = honeycomb.call(method, path, key=key, json_body=body, expect=404)
    assert response.json()["type"] == "https://api.honeycomb.io/problems/not-found"
