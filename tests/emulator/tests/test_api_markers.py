"""Markers (/1/markers/{dataset}): create, list, update, delete, as the official spec says.

Every answer goes through `Honeycomb.call`, which validates it against the spec's `Marker`
schema and the operation's statuses.
"""

from __future__ import annotations

import time

import pytest

from .conftest import QUERIES_ONLY_KEY, Honeycomb

pytestmark = pytest.mark.servers


def test_a_marker_is_created_listed_updated_and_deleted(honeycomb: Honeycomb) -> None:
    body = {"message": "canary 7d9f8b6c5 failed", "type": "canary-failed", "url": "http://x/result/1"}
    created = honeycomb.call("POST", "/1/markers/checkout", json_body=body, expect=201).json()
    assert len(created["id"]) == 6 and int(created["id"], 16) >= 0
    assert created["message"] == body["message"] and created["type"] == "canary-failed"
    assert abs(created["start_time"] - time.time()) < 5  # defaults to the time of the request
    assert created["created_at"].endswith("Z") and created["updated_at"] == created["created_at"]

    listed = honeycomb.call("GET", "/1/markers/checkout", expect=200).json()
    assert created in listed

    # A field left out of an update is erased (the spec's words), here `url`.
    changed = {"message": "canary 7d9f8b6c5 aborted", "start_time": 1_700_000_000, "end_time": 1_700_000_600}
    updated = honeycomb.call(
        "PUT", f"/1/markers/checkout/{created['id']}", json_body=changed, expect=200
    ).json()
    assert updated["end_time"] == 1_700_000_600 and "url" not in updated and "type" not in updated

    deleted = honeycomb.call("DELETE", f"/1/markers/checkout/{created['id']}", expect=200).json()
    assert deleted["id"] == created["id"]
    assert created["id"] not in {m["id"] for m in honeycomb.call("GET", "/1/markers/checkout").json()}
    honeycomb.call("DELETE", f"/1/markers/checkout/{created['id']}", expect=404)


def test_environment_markers_live_under_all(honeycomb: Honeycomb) -> None:
    marker = honeycomb.call("POST", "/1/markers/__all__", json_body={"type": "deploy"}, expect=201).json()
    assert marker["id"] in {m["id"] for m in honeycomb.call("GET", "/1/markers/__all__", expect=200).json()}
    assert marker["id"] not in {m["id"] for m in honeycomb.call("GET", "/1/markers/checkout").json()}
    # A marker is found only under the dataset it was made in.
    honeycomb.call("PUT", f"/1/markers/checkout/{marker['id']}", json_body={}, expect=404)


def test_refusals_name_the_cause(honeycomb: Honeycomb) -> None:
    honeycomb.call("POST", "/1/markers/no-such-dataset", json_body={"type": "x"}, expect=404)
    honeycomb.call("POST", "/1/markers/checkout", key=None, json_body={"type": "x"}, expect=401)
    # A key without the "Manage Markers" permission.
    honeycomb.call("POST", "/1/markers/checkout", key=QUERIES_ONLY_KEY, json_body={"type": "x"}, expect=403)
    wrong = honeycomb.call("POST", "/1/markers/checkout", json_body={"start_time": "soon"}, expect=422)
    assert "start_time" in wrong.text
    backwards = {"start_time": 1_700_000_600, "end_time": 1_700_000_000}
    assert "end_time" in honeycomb.call("POST", "/1/markers/checkout", json_body=backwards, expect=422).text
    honeycomb.call("POST", "/1/markers/checkout", content=b"[1]", expect=400)
