"""Starting the scenarios' Rollouts and reading their outcome back from the API server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.scenarios import Outcome, Scenario, analysis_templates, rollout, token_secret


@dataclass(frozen=True)
class Launch:
    scenario: Scenario
    name: str  # the Rollout's name
    stable_hash: str  # the first revision's pod template hash
    set_at: float  # time.time() when `kubectl argo rollouts set image` was run


def deploy(
    kubectl: Kubectl,
    scenario: Scenario,
    token: str,
    urls: dict[str, str],
    shape: Callable[[dict[str, Any]], None] | None = None,
) -> str:
    """The namespace, the token Secret, every shipped template and the Rollout; its name.

    `shape` may change the Rollout before it is applied (the benchmark's shorter steps)."""
    manifest = rollout(scenario, urls)
    if shape is not None:
        shape(manifest)
    kubectl.run("create", "namespace", scenario.namespace)
    kubectl.apply([token_secret(token), *analysis_templates(), manifest], namespace=scenario.namespace)
    return str(manifest["metadata"]["name"])


def healthy_hash(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    """The stable pod template hash once the Rollout is Healthy, else None."""
    status = kubectl.get("rollout", name, namespace).get("status", {})
    if status.get("phase") == "Healthy" and status.get("stableRS"):
        return str(status["stableRS"])
    return None


def first_revision(kubectl: Kubectl, namespace: str, name: str) -> str:
    """The Rollout's first pod template hash, once the controller made it Healthy (no analysis)."""

    def hash_once_healthy() -> str | None:
        return healthy_hash(kubectl, namespace, name)

    return wait_for(f"{namespace}: first revision Healthy", hash_once_healthy, timeout=180)


def set_image(kubectl: Kubectl, scenario: Scenario, name: str) -> float:
    """`kubectl argo rollouts set image`, as a user starts a canary; when it ran."""
    started = time.time()
    container = "checkout"
    kubectl.run(
        "argo",
        "rollouts",
        "-n",
        scenario.namespace,
        "set",
        "image",
        name,
        f"{container}={scenario.canary_image}",
    )
    return started


def outcome(status: dict[str, Any]) -> Outcome | None:
    """Which end the controller brought the Rollout to, if any yet."""
    phase = status.get("phase")
    if status.get("abort") and phase == "Degraded":
        return Outcome.ABORTED
    reasons = {c.get("reason") for c in status.get("pauseConditions") or []}
    if phase == "Paused" and "InconclusiveAnalysisRun" in reasons:
        return Outcome.PAUSED
    if (
        phase == "Healthy"
        and status.get("stableRS")
        and status.get("stableRS") == status.get("currentPodHash")
    ):
        return Outcome.PROMOTED
    return None


def wait_for_outcome(kubectl: Kubectl, launch: Launch, timeout: float) -> dict[str, Any]:
    """The Rollout once the controller has finished with the canary (after its hash changed)."""

    def finished() -> dict[str, Any] | None:
        found = kubectl.get("rollout", launch.name, launch.scenario.namespace)
        status = found.get("status", {})
        if status.get("currentPodHash") in (None, launch.stable_hash):
            return None  # the controller has not taken up the new image yet
        return found if outcome(status) is not None else None

    return wait_for(
        f"{launch.scenario.namespace}: the canary's outcome", finished, timeout=timeout, interval=2
    )


def analysis_runs(kubectl: Kubectl, namespace: str, pod_hash: str) -> dict[str, dict[str, Any]]:
    """The canary's AnalysisRuns by type (`Step`, `Background`), as the controller labelled them."""
    runs = {}
    for run in kubectl.get("analysisrun", namespace=namespace):
        labels = run["metadata"].get("labels", {})
        if labels.get("rollouts-pod-template-hash") == pod_hash:
            runs[labels.get("rollout-type", "")] = run
    return runs


def measurements(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each metric's measurements, oldest first."""
    return {m["name"]: m.get("measurements", []) for m in run.get("status", {}).get("metricResults", [])}


def value(measurement: dict[str, Any]) -> Any:
    """A measurement's value as the provider produced it: Argo stores it as JSON text."""
    text = measurement.get("value")
    return json.loads(text) if text else None


def rate_limited(measurement: dict[str, Any]) -> bool:
    """An Error because the key's query budget was spent this minute: 503, which Argo retries.

    Ten canaries analysed on one key in the same minutes (and a key rotation, which starts the
    new key's cache empty) can spend Honeycomb's 10 runs a minute; the templates'
    consecutiveErrorLimit rides that out (docs/argo-rollouts.md, "Settings")."""
    return measurement["phase"] == "Error" and "503" in measurement.get("message", "")
