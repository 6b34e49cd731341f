"""Scenario 1: `helm install` of infra/helm/honeycomb-evaluator against a real API server.

The chart's objects are accepted server-side (schema, admission, strict field validation: helm
prints the server's warnings, none is expected), its Pods pass the `restricted` Pod Security
Standard that the namespace enforces, the Deployment's Pods are scheduled and Running
on kwok's Nodes, the PodDisruptionBudget is tracked by the disruption controller, and the Pods'
ServiceAccount may do nothing in the API. `helm upgrade` and `helm uninstall` are run as
docs/kubernetes.md says by tests/cluster/test_docs_on_cluster.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.kubelet import EvaluatorPod
from tests.cluster.stack import GATE_NAMESPACE, POD_SECURITY, RELEASE, Stack

pytestmark = pytest.mark.servers  # the stack: a control plane, the evaluator, the emulator

SELECTOR = f"app.kubernetes.io/instance={RELEASE}"


def test_the_server_accepts_every_object_without_a_warning(stack: Stack, kubectl: Kubectl) -> None:
    assert "warning" not in stack.helm_install_output.lower(), stack.helm_install_output
    kinds = "deployment,service,serviceaccount,poddisruptionbudget,networkpolicy"
    listed = kubectl.run("-n", GATE_NAMESPACE, "get", kinds, "-l", SELECTOR, "-o", "name")
    names = sorted(listed.split())
    assert names == sorted(
        [
            f"deployment.apps/{RELEASE}",
            f"service/{RELEASE}",
            f"serviceaccount/{RELEASE}",
            f"poddisruptionbudget.policy/{RELEASE}",
            f"networkpolicy.networking.k8s.io/{RELEASE}",
        ]
    ), names


def _pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    pods = kubectl.get("pods", namespace=GATE_NAMESPACE)
    return [p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/instance") == RELEASE]


def test_the_pods_are_admitted_under_the_restricted_pod_security_standard(kubectl: Kubectl) -> None:
    labels = kubectl.get("namespace", GATE_NAMESPACE)["metadata"]["labels"]
    assert labels[POD_SECURITY] == "restricted"
    assert _pods(kubectl), "the ReplicaSet's Pods were refused"


def test_the_pods_are_scheduled_and_running(kubectl: Kubectl) -> None:
    deployment = kubectl.get("deployment", RELEASE, GATE_NAMESPACE)
    assert deployment["status"].get("availableReplicas") == deployment["spec"]["replicas"]
    pods = _pods(kubectl)
    assert len(pods) == deployment["spec"]["replicas"]
    for pod in pods:
        assert pod["status"]["phase"] == "Running", pod["status"]
        assert pod["spec"]["nodeName"].startswith("kwok-node-"), pod["spec"]
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True", ready


def test_the_disruption_budget_is_tracked(kubectl: Kubectl) -> None:
    def observed() -> dict[str, Any] | None:
        status = kubectl.get("poddisruptionbudget", RELEASE, GATE_NAMESPACE).get("status", {})
        return status if status.get("expectedPods") else None

    status = wait_for("the PodDisruptionBudget's status", observed, timeout=60)
    assert status["currentHealthy"] == status["expectedPods"] == 1, status


def test_the_evaluators_service_account_may_not_read_the_api(kubectl: Kubectl) -> None:
    account = f"--as=system:serviceaccount:{GATE_NAMESPACE}:{RELEASE}"
    for verb, resource in (("get", "secrets"), ("list", "pods"), ("get", "configmaps")):
        answer = kubectl.run("auth", "can-i", verb, resource, "-n", GATE_NAMESPACE, account, check=False)
        assert answer.strip() == "no", (verb, resource, answer)


def test_the_deployments_container_answers_its_probes(evaluator: EvaluatorPod) -> None:
    assert httpx.get(f"{evaluator.url}/healthz", timeout=5).status_code == 200
    # Readiness: the mounted key is readable and the state store answers.
    assert httpx.get(f"{evaluator.url}/readyz", timeout=5).status_code == 200
    # The chart's key file, as the kubelet would mount it from the Secret.
    assert evaluator.env["HONEYCOMB_API_KEY_FILE"].endswith("/etc/honeycomb-evaluator/key/api-key")
