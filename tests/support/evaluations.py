"""Requests and emulator read-outs shared by the sharing tests, the fleet simulation and the bench."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.callers.registry import hash_token

from tests.support.servers import Server

VERSIONS = DEMO_HASHES  # pod-template hashes by role: stable, bad, good, none (no events)


def evaluation(hash_value: str = VERSIONS["bad"], *, time_range: int = 600, **options: Any) -> dict[str, Any]:
    """A P99 evaluation of one pod-template hash in the emulator's demo dataset."""
    body: dict[str, Any] = {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": hash_value}],
            "time_range": time_range,
        },
        "timeout_seconds": 10,
    }
    body.update(options)
    return copy.deepcopy(body)


def pinned(body: dict[str, Any]) -> dict[str, Any]:
    """The same request with its relative `time_range` turned into a window fixed now.

    For a test whose requests must all hit one execution: with a relative range, requests on both
    sides of a minute boundary ask for different (snapped) windows, so different executions.
    """
    pinned_body = copy.deepcopy(body)
    query = pinned_body["query"]
    end = int(time.time())
    query["start_time"], query["end_time"] = end - query.pop("time_range"), end
    return pinned_body


def with_room_in_the_minute(seconds: int = 30) -> None:
    """Wait, if need be, until at least `seconds` remain before the next minute boundary.

    A window pinned at "now" stays current (reused with `max_age_seconds` 0) only until its
    snapped end plus one 60 s step, i.e. until the next minute boundary: a test whose later
    requests must still find it current starts early in a minute, not at its 59th second.
    """
    into_minute = time.time() % 60
    if into_minute > 60 - seconds:
        time.sleep(60 - into_minute + 0.5)


def error_rate(hash_value: str, *, time_range: int = 600, **options: Any) -> dict[str, Any]:
    body = evaluation(hash_value, time_range=time_range, **options)
    body["query"]["calculations"] = [{"op": "AVG", "column": "is_error"}]
    body["query"]["calculated_fields"] = [{"name": "is_error", "expression": "IF($error, 1, 0)"}]
    return body


def judged(
    canary: str, *, column: str = "rollouts_pod_template_hash", baseline: str = VERSIONS["stable"]
) -> dict[str, Any]:
    """A judged P99 comparison of a finished window, with Honeycomb markers asked for."""
    end = (int(time.time()) // 60 - 2) * 60  # a finished window: every request asks the same
    return {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "granularity": 60,
            "start_time": end - 600,
            "end_time": end,
        },
        "compare": {"column": column, "canary": canary, "baseline": baseline},
        "judge": {"allowed_increase": 1.2, "min_count": 50},
        "markers": {"write": True},
        "timeout_seconds": 20,
        "max_age_seconds": 300,  # the window is over: its result is reused by every request
    }


def write_registry(path: Path, names: list[str], **extra: Any) -> dict[str, str]:
    """A caller registry with one token per name; returns name → token."""
    tokens = {name: f"token-{name}" for name in names}
    callers = [{"name": n, "token_sha256": hash_token(t), **extra} for n, t in tokens.items()]
    path.write_text(json.dumps({"callers": callers}))
    return tokens


def emulator_stats(emulator_url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(emulator_url + "/_emulator/stats", timeout=10).json()
    return stats


def reset_emulator(emulator_url: str) -> None:
    httpx.post(emulator_url + "/_emulator/reset", timeout=10).raise_for_status()


def emulator_query(emulator_url: str, dataset: str, query_id: str) -> dict[str, Any]:
    """The spec of a query the evaluator created (Honeycomb's `GET /1/queries/{dataset}/{id}`)."""
    headers = {"X-Honeycomb-Team": "emulator-key"}
    answer = httpx.get(f"{emulator_url}/1/queries/{dataset}/{query_id}", headers=headers, timeout=10)
    answer.raise_for_status()
    spec: dict[str, Any] = answer.json()
    return spec


def created(emulator_url: str) -> int:
    return int(emulator_stats(emulator_url)["query_results_created"])


def rate_limited(emulator_url: str) -> int:
    return int(emulator_stats(emulator_url)["rate_limited"])


def served_counts(servers: Iterable[Server]) -> Counter[str]:
    """How the evaluators answered (`served`/`status`), from each request's metrics document."""
    counts: Counter[str] = Counter()
    for server in servers:
        for line in server.output().splitlines():
            if '"CallerEvaluations"' in line:
                record = json.loads(line)
                counts[f"{record.get('served')}/{record.get('status')}"] += 1
    return counts
