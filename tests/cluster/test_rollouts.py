"""Scenarios 2-4 of the control-plane suite: the controller process judges each canary.

Each Rollout (tests/cluster/scenarios.py) got its canary image from `kubectl argo rollouts set
image`; the Argo Rollouts controller then ran the shipped AnalysisTemplates against the evaluator,
and everything asserted here is read back from the API server: the Rollout's phase, the
AnalysisRuns' phases and messages, each measurement's phase, value, message and metadata.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import Launched
from tests.cluster.kube import Kubectl
from tests.cluster.kubelet import EvaluatorPod
from tests.cluster.rollouts import analysis_runs, measurements, outcome, rate_limited, value, wait_for_outcome
from tests.cluster.scenarios import SCENARIOS, Outcome

pytestmark = pytest.mark.servers  # the stack: a control plane, the evaluator, the emulator

# From `set image`: the longest scenario, a quiet canary judged against stable, pauses 2 minutes
# and then looks 15 times a minute apart before its run ends Inconclusive.
OUTCOME_TIMEOUT = 24 * 60
# The shipped templates' thresholds, by metric name.
BAD_ABOVE = {"error-rate": 0.02, "error-rate-no-data-safe": 0.02, "p99-latency": 500, "error-count": 10}


def finished(
    kubectl: Kubectl, launched: Launched, namespace: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    launch = launched.launches[namespace]
    remaining = launch.set_at + OUTCOME_TIMEOUT - time.time()
    found = wait_for_outcome(kubectl, launch, timeout=max(remaining, 30))
    status = found["status"]
    return status, analysis_runs(kubectl, namespace, status["currentPodHash"])


def allowed_phases(metric: dict[str, Any]) -> tuple[set[str], int]:
    """What a promoted run's metric may show, and how many Successful measurements it needs.

    With `consecutiveSuccessLimit` (the judgement) Argo ends the run at the first pass, after any
    number of Inconclusive looks; otherwise every one of `count` measurements but the
    `failureLimit` tolerated ones succeeds (a metric without `count` measures until the Rollout
    ends, at least once)."""
    if metric.get("consecutiveSuccessLimit"):
        return {"Successful", "Inconclusive"}, int(metric["consecutiveSuccessLimit"])
    needed = int(metric.get("count", 1)) - int(metric.get("failureLimit", 0))
    return {"Successful", "Failed"}, max(needed, 1)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.namespace)
def test_the_controller_brings_the_canary_to_its_outcome(
    scenario: Any, kubectl: Kubectl, launched: Launched
) -> None:
    status, runs = finished(kubectl, launched, scenario.namespace)
    assert outcome(status) is scenario.outcome, status
    if scenario.outcome is Outcome.PROMOTED:
        assert (
            status["stableRS"]
            == status["currentPodHash"]
            != launched.launches[scenario.namespace].stable_hash
        )
        for run in runs.values():
            assert run["status"]["phase"] == "Successful", run["status"]
            specs = {m["name"]: m for m in run["spec"]["metrics"]}
            for metric, taken in measurements(run).items():
                allowed, needed = allowed_phases(specs[metric])
                phases = [m["phase"] for m in taken]
                assert phases.count("Successful") >= needed and phases[-1] == "Successful", taken
                # A good canary may have one bad minute (`failureLimit: 1`): Argo tolerates it.
                assert phases.count("Failed") <= int(specs[metric].get("failureLimit", 0)), taken
                assert all(m["phase"] in allowed or rate_limited(m) for m in taken), taken
    elif scenario.outcome is Outcome.ABORTED:
        assert status["stableRS"] == launched.launches[scenario.namespace].stable_hash
        assert any(r["status"]["phase"] in ("Failed", "Error") for r in runs.values()), runs
    else:
        assert runs["Step"]["status"]["phase"] == "Inconclusive", runs["Step"]["status"]


def ended_run(kubectl: Kubectl, launched: Launched, namespace: str, phase: str) -> dict[str, Any]:
    """The scenario's AnalysisRun that ended in `phase`, once the Rollout is done."""
    _, runs = finished(kubectl, launched, namespace)
    matching = [r for r in runs.values() if r["status"]["phase"] == phase]
    assert matching, {kind: r["status"]["phase"] for kind, r in runs.items()}
    return matching[0]


@pytest.mark.parametrize("namespace", ["web-bad", "plugin-bad"])
def test_a_bad_canary_fails_on_the_evaluators_figures(
    namespace: str, kubectl: Kubectl, launched: Launched
) -> None:
    run = ended_run(kubectl, launched, namespace, "Failed")
    assert re.match(
        r'Metric "[a-z0-9-]+" assessed Failed due to failed \(\d+\) > failureLimit \(\d+\)',
        run["status"]["message"],
    )
    failed = {name: [m for m in ms if m["phase"] == "Failed"] for name, ms in measurements(run).items()}
    assert any(failed.values()), failed
    for metric, ms in failed.items():
        for measurement in ms:
            # The evaluator's number, as Argo stored it, beyond the template's threshold.
            assert value(measurement) > BAD_ABOVE[metric], (metric, measurement)
            if namespace.startswith("plugin"):
                # The plugin keeps the evaluator's link to the query with the measurement.
                assert measurement["metadata"]["query_url"].startswith("http"), measurement


@pytest.mark.parametrize("namespace", ["web-quiet", "plugin-quiet"])
def test_a_canary_without_traffic_is_an_error_with_the_fail_closed_templates(
    namespace: str, kubectl: Kubectl, launched: Launched
) -> None:
    run = ended_run(kubectl, launched, namespace, "Error")
    assert "assessed Error due to consecutiveErrors" in run["status"]["message"]
    errors = [m for ms in measurements(run).values() for m in ms if m["phase"] == "Error"]
    # The evaluator answered `value: null` (no spans): Argo's condition could not judge it. A 503
    # (the key's budget spent this minute by the other canaries) may be among them.
    no_data = [m for m in errors if value(m) is None and "metric result is nil or empty" in m["message"]]
    assert no_data and all(m in no_data or rate_limited(m) for m in errors), errors


def test_a_quiet_canary_judged_against_stable_pauses_the_rollout(
    kubectl: Kubectl, launched: Launched
) -> None:
    status, runs = finished(kubectl, launched, "judged-quiet")
    assert status["phase"] == "Paused"
    run = runs["Step"]
    assert run["status"]["phase"] == "Inconclusive"
    values = {value(m) for ms in measurements(run).values() for m in ms}
    assert values == {"nodata"}, values


def test_a_bad_canary_judged_against_stable_is_high(kubectl: Kubectl, launched: Launched) -> None:
    run = ended_run(kubectl, launched, "judged-bad", "Failed")
    values = {value(m) for ms in measurements(run).values() for m in ms if m["phase"] == "Failed"}
    assert values == {"high"}, values


def test_the_slo_gate_runs_in_the_background(kubectl: Kubectl, launched: Launched) -> None:
    _, runs = finished(kubectl, launched, "web-good")
    slo = measurements(runs["Background"])["slo-budget"]
    assert slo and all(m["phase"] == "Successful" and value(m) > 0 for m in slo), slo


def test_a_spent_slo_budget_stops_a_good_canary(kubectl: Kubectl, launched: Launched) -> None:
    _, runs = finished(kubectl, launched, "slo-spent")
    run = runs["Background"]
    assert run["status"]["phase"] == "Failed"
    assert (
        'Metric "slo-budget" assessed Failed due to failed (1) > failureLimit (0)' in run["status"]["message"]
    )
    budget = [m for m in measurements(run)["slo-budget"] if m["phase"] == "Failed"]
    assert budget and value(budget[0]) < 0, budget


def test_the_evaluators_metrics_count_the_canaries_evaluations(
    kubectl: Kubectl, launched: Launched, evaluator: EvaluatorPod
) -> None:
    """What a Prometheus scraping the Pod (the chart's ServiceMonitor) sees after the scenarios."""
    for namespace in ("web-good", "judged-good", "web-bad"):
        finished(kubectl, launched, namespace)
    exposition = httpx.get(f"{evaluator.url}/metrics", timeout=5).text
    counted = [
        line for line in exposition.splitlines() if line.startswith("honeycomb_evaluator_evaluations_total{")
    ]
    assert any('caller="e2e-rollouts"' in line and 'outcome="ok"' in line for line in counted), counted
    name = "honeycomb_evaluator_query_results_created_total"
    created = [line for line in exposition.splitlines() if line.startswith(name)]
    assert created and float(created[0].split()[-1]) > 0, created
