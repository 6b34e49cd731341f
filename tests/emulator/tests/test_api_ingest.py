"""POST /1/events and /1/batch: statuses per event, time/samplerate, limits, dataset creation."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import start_emulator

from .conftest import INGEST_KEY, QUERIES_ONLY_KEY, Honeycomb

pytestmark = pytest.mark.servers


def test_batch_answers_a_status_per_event_and_stores_the_good_ones(honeycomb: Honeycomb) -> None:
    now = time.time()
    # two minutes back: windows end at the current minute (Honeycomb truncates to 1 min)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 120)) + ".123456789Z"
    batch = [
        {"time": stamp, "samplerate": 4, "data": {"route": "/a", "duration_ms": 10, "ok": True}},
        {"time": now - 120, "data": {"route": "/b", "duration_ms": 30.5, "nested": {"x": 1}, "gone": None}},
        {"time": "yesterday-ish", "data": {"route": "/c"}},
        {"samplerate": 0, "data": {"route": "/d"}},
        "not an object",
    ]
    response = honeycomb.call("POST", "/1/batch/ingest-batch", expect=200, json_body=batch)
    statuses = [item["status"] for item in response.json()]
    assert statuses == [202, 202, 400, 400, 400]
    assert "time" in response.json()[2]["error"]

    columns = honeycomb.call("GET", "/1/columns/ingest-batch", expect=200).json()
    types = {c["key_name"]: c["type"] for c in columns}
    assert types["route"] == "string" and types["duration_ms"] == "float" and types["ok"] == "boolean"
    assert types["nested"] == "string" and "gone" not in types

    result = honeycomb.run("ingest-batch", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    assert result["data"]["results"][0]["data"]["COUNT"] == 5  # samplerate 4 + 1


def test_single_event_uses_the_time_and_samplerate_headers(honeycomb: Honeycomb) -> None:
    headers = {"X-Honeycomb-Event-Time": str(int(time.time()) - 120), "X-Honeycomb-Samplerate": "10"}
    response = honeycomb.call(
        "POST", "/1/events/ingest-single", expect=200, json_body={"a": 1}, headers=headers
    )
    assert response.content == b""
    result = honeycomb.run("ingest-single", {"calculations": [{"op": "COUNT"}], "time_range": 600})
    assert result["data"]["results"][0]["data"]["COUNT"] == 10


def test_gzip_bodies_are_accepted(honeycomb: Honeycomb) -> None:
    body = gzip.compress(json.dumps([{"data": {"z": 1}}]).encode())
    response = honeycomb.call(
        "POST", "/1/batch/ingest-gzip", content=body, headers={"Content-Encoding": "gzip"}, expect=200
    )
    assert response.json() == [{"status": 202}]


def test_bad_bodies_get_the_documented_400s(honeycomb: Honeycomb) -> None:
    empty = honeycomb.call("POST", "/1/batch/ingest-bad", content=b"", expect=400).json()
    assert empty == {"error": "Request body should not be empty."}
    broken = honeycomb.call("POST", "/1/batch/ingest-bad", content=b"[{", expect=400).json()
    assert broken == {"error": "Request body is malformed and cannot be read."}
    wrong = honeycomb.call("POST", "/1/events/ingest-bad", content=b"[1]", expect=400).json()
    assert wrong == {"error": "Request body is malformed and cannot be read."}


def test_ingest_key_may_send_events_and_create_datasets(honeycomb: Honeycomb) -> None:
    honeycomb.call(
        "POST", "/1/batch/ingest-by-ingest-key", key=INGEST_KEY, json_body=[{"data": {"a": 1}}], expect=200
    )
    names = [d["slug"] for d in honeycomb.call("GET", "/1/datasets", expect=200).json()]
    assert "ingest-by-ingest-key" in names


def test_key_without_events_permission_is_refused(honeycomb: Honeycomb) -> None:
    body = honeycomb.call(
        "POST", "/1/batch/checkout", key=QUERIES_ONLY_KEY, json_body=[{"data": {"a": 1}}], expect=403
    ).json()
    assert "Send Events" in body["error"]


def test_dataset_names_are_case_insensitive(honeycomb: Honeycomb) -> None:
    honeycomb.call("POST", "/1/batch/MixedCase", json_body=[{"data": {"a": 1}}], expect=200)
    honeycomb.call("POST", "/1/batch/mixedcase", json_body=[{"data": {"a": 2}}], expect=200)
    datasets = {d["slug"]: d["name"] for d in honeycomb.call("GET", "/1/datasets", expect=200).json()}
    assert datasets["mixedcase"] == "MixedCase"


def test_data_dir_keeps_events_across_restarts(tmp_path: Path) -> None:
    headers = {"X-Honeycomb-Team": "emulator-key"}
    with start_emulator("--data", str(tmp_path), "--demo") as first:
        httpx.post(f"{first.url}/1/batch/kept", json=[{"data": {"a": 1}}], headers=headers).raise_for_status()
        events_before = httpx.get(f"{first.url}/_emulator/stats").json()["events"]
    with start_emulator("--data", str(tmp_path), "--demo") as second:
        slugs = [d["slug"] for d in httpx.get(f"{second.url}/1/datasets", headers=headers).json()]
        assert {"kept", "checkout"} <= set(slugs)
        events_after = httpx.get(f"{second.url}/_emulator/stats").json()["events"]
        # the demo only fills the gap since the last run: no second copy of the 3 hours
        assert events_before <= events_after < events_before + 1000
