"""GET /1/auth, 401 and 403 bodies, and the --api-key permission syntax."""

from __future__ import annotations

import pytest
from honeycomb_emulator.auth import KeySpecError, parse_key_spec

from .conftest import FULL_KEY, INGEST_KEY, NO_SLO_KEY, QUERIES_ONLY_KEY, Honeycomb


def test_auth_shows_the_key_and_every_permission(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/auth", expect=200).json()
    assert body["type"] == "configuration"
    assert len(body["id"]) == 11 and FULL_KEY not in body["id"]
    assert body["api_key_access"]["createDatasets"] is True  # the spec's spelling
    assert all(body["api_key_access"].values())
    assert body["environment"] == {"name": "emulator", "slug": "emulator"}
    assert body["team"]["slug"] == "emulator"


def test_auth_of_a_limited_key_lists_only_its_permissions(honeycomb: Honeycomb) -> None:
    access = honeycomb.call("GET", "/1/auth", key=QUERIES_ONLY_KEY, expect=200).json()["api_key_access"]
    assert access["queries"] is True
    assert access["columns"] is False and access["slos"] is False and access["events"] is False


def test_ingest_key_reports_only_create_datasets(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/auth", key=INGEST_KEY, expect=200).json()
    assert body["type"] == "ingest"
    assert body["api_key_access"] == {"createDatasets": True}


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_missing_or_unknown_key_is_401_with_the_documented_body(
    honeycomb: Honeycomb, key: str | None
) -> None:
    for method, path in [("GET", "/1/auth"), ("GET", "/1/datasets"), ("GET", "/1/query_results/checkout/x")]:
        response = honeycomb.call(method, path, key=key, expect=401)
        assert response.json() == {"error": "unknown API key - check your credentials"}
        assert response.headers["content-type"].startswith("application/json")


def test_key_without_columns_permission_cannot_create_queries(honeycomb: Honeycomb) -> None:
    response = honeycomb.call(
        "POST", "/1/queries/checkout", key=QUERIES_ONLY_KEY, expect=403, json_body={"time_range": 600}
    )
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["status"] == 403 and "Manage Queries and Columns" in body["error"]


def test_key_without_slos_permission_cannot_read_slos(honeycomb: Honeycomb) -> None:
    body = honeycomb.call("GET", "/1/slos/checkout", key=NO_SLO_KEY, expect=403).json()
    assert "Manage SLOs" in body["error"]


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
