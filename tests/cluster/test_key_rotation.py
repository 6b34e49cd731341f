"""Scenario 5: the Honeycomb key's Secret is replaced while a Rollout is being analysed.

The replacement is docs/kubernetes.md's own command (`kubectl create secret ... --dry-run=client
-o yaml | kubectl apply -f -`). The mounted file changes as the kubelet changes it, the evaluator
re-reads it, and the next measurement of `web-good`'s step analysis is answered with the new key:
the emulator counts the query results each key created.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import Launched
from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.kubelet import EvaluatorPod
from tests.cluster.rollouts import analysis_runs, measurements, rate_limited
from tests.cluster.stack import GATE_NAMESPACE, Keys
from tests.support.servers import Server

pytestmark = pytest.mark.servers  # the stack: a control plane, the evaluator, the emulator

NAMESPACE, METRIC = "web-good", "error-rate"


def created_by_key(emulator: Server) -> dict[str, int]:
    stats = httpx.get(f"{emulator.url}/_emulator/stats", timeout=5).json()
    return {name: entry.get("query_results_created", 0) for name, entry in stats["by_key"].items()}


def step_measurements(kubectl: Kubectl, launched: Launched) -> list[dict[str, Any]] | None:
    launch = launched.launches[NAMESPACE]
    pod_hash = kubectl.get("rollout", launch.name, NAMESPACE).get("status", {}).get("currentPodHash")
    if pod_hash in (None, launch.stable_hash):
        return None
    run = analysis_runs(kubectl, NAMESPACE, pod_hash).get("Step")
    return measurements(run).get(METRIC, []) if run else None


def test_the_next_measurement_uses_the_new_key(
    kubectl: Kubectl, launched: Launched, emulator: Server, keys: Keys, evaluator: EvaluatorPod
) -> None:
    def analysing() -> list[dict[str, Any]] | None:
        done = step_measurements(kubectl, launched) or []
        successes = [m for m in done if m["phase"] == "Successful"]
        # One measurement taken with the first key, and at least two of the five still to come.
        if done and done[-1].get("finishedAt") and done[-1]["phase"] == "Successful" and len(successes) <= 3:
            return done
        return None

    before = wait_for("web-good's step analysis under way", analysing, timeout=360, interval=2)
    assert created_by_key(emulator).get("first", 0) > 0

    secret = kubectl.run(
        "-n", GATE_NAMESPACE, "create", "secret", "generic", "honeycomb-api-key",
        f"--from-literal=api-key={keys.second}", "--dry-run=client", "-o", "yaml",
    )  # fmt: skip
    kubectl.run("apply", "-f", "-", stdin=secret)
    key_file = Path(evaluator.env["HONEYCOMB_API_KEY_FILE"])
    wait_for("the new key in the mounted file", lambda: key_file.read_text() == keys.second, timeout=30)
    time.sleep(2)  # a request that read the old key just before the swap may still create its result
    with_first_key = created_by_key(emulator).get("first", 0)

    def next_measurement() -> list[dict[str, Any]] | None:
        after = (step_measurements(kubectl, launched) or [])[len(before) :]
        return after if any(m["phase"] == "Successful" for m in after) else None

    # A 503 (the new key's budget spent this minute: its cache starts empty) is retried by Argo.
    after = wait_for("the next successful measurement", next_measurement, timeout=180, interval=2)
    assert all(m["phase"] == "Successful" or rate_limited(m) for m in after), after
    created = created_by_key(emulator)
    assert created.get("second", 0) > 0, created
    assert created.get("first", 0) == with_first_key, created
