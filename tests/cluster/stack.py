"""Everything the scenarios run on, started in order and stopped in reverse (tests and bench).

1. The control plane (tests/cluster/controlplane.py).
2. Argo Rollouts from its release manifest, the controller as a process, the metric plugin
   configured in `argo-rollouts-config` (tests/cluster/argo.py).
3. The Honeycomb emulator: demo data, the demo SLOs, two query keys (the second for rotation) and
   an ingest key for the applications.
4. The evaluator's chart installed with helm in namespace `gate` (Pod Security `restricted`
   enforced), as docs/kubernetes.md installs it, and its Pod played by a local process
   (tests/cluster/kubelet.py).
5. The applications' spans (tests/cluster/workload.py).

When it stops, no process it started may be left: `StackError` names any survivor.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.cluster import argo
from tests.cluster.controlplane import ControlPlane, start_control_plane
from tests.cluster.kubelet import ApiReader, EvaluatorPod, run_evaluator_pod
from tests.cluster.tools import Tools
from tests.cluster.workload import Workload, run_workload
from tests.support.servers import Server, start_emulator

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "infra" / "helm" / "honeycomb-evaluator"
DEMO_SLOS = REPO / "tests" / "support" / "demo_slos.yaml"
GATE_NAMESPACE = "gate"
POD_SECURITY = "pod-security.kubernetes.io/enforce"
RELEASE = "honeycomb-evaluator"


class StackError(Exception):
    pass


@dataclass(frozen=True)
class Keys:
    first: str  # the Honeycomb key the evaluator starts with
    second: str  # the key it is rotated to
    ingest: str  # the applications' ingest key
    token: str  # the bearer token the Rollouts' analyses send (registered with the evaluator)

    @classmethod
    def fresh(cls) -> Keys:
        return cls(
            secrets.token_hex(16),
            secrets.token_hex(16),
            "hcaik_" + secrets.token_hex(29),
            secrets.token_hex(32),
        )


@dataclass(frozen=True)
class Stack:
    cluster: ControlPlane
    controller: argo.Controller
    emulator: Server
    evaluator: EvaluatorPod
    workload: Workload
    keys: Keys
    helm_install_output: str


def helm(tools: Tools, cluster: ControlPlane, *args: str) -> str:
    """helm against the control plane; its output (warnings included). Fails on a non-zero exit."""
    done = subprocess.run(
        [str(tools.helm), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.kubectl.env()},
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise StackError(f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def install_gate(cluster: ControlPlane, tools: Tools, keys: Keys, emulator_url: str) -> str:
    """The chart in namespace `gate`, as docs/kubernetes.md installs it; helm's output."""
    kubectl = cluster.kubectl
    kubectl.run("create", "namespace", GATE_NAMESPACE)
    # The strictest Pod Security Standard, enforced by the API server's PodSecurity admission.
    kubectl.run("label", "namespace", GATE_NAMESPACE, f"{POD_SECURITY}=restricted")
    key = f"--from-literal=api-key={keys.first}"
    kubectl.run("-n", GATE_NAMESPACE, "create", "secret", "generic", "honeycomb-api-key", key)
    digest = hashlib.sha256(keys.token.encode()).hexdigest()
    callers = json.dumps({"callers": [{"name": "e2e-rollouts", "token_sha256": digest}]})
    registry = f"--from-literal=callers.json={callers}"
    kubectl.run("-n", GATE_NAMESPACE, "create", "configmap", "honeycomb-evaluator-callers", registry)
    return helm(
        tools,
        cluster,
        "install", RELEASE, str(CHART), "--namespace", GATE_NAMESPACE, "--wait", "--timeout", "3m",
        "--set", "image.repository=registry.example.com/platform/honeycomb-evaluator",
        "--set", "honeycomb.existingSecret=honeycomb-api-key",
        "--set", "callers.existingConfigMap=honeycomb-evaluator-callers",
        "--set", f"honeycomb.apiUrl={emulator_url}",
        # One replica: the one local process is the whole Deployment, with the key's whole budget.
        "--set", "replicaCount=1",
    )  # fmt: skip


@contextlib.contextmanager
def running_stack(tools: Tools, workdir: Path) -> Iterator[Stack]:
    keys = Keys.fresh()
    emulator_flags = ["--demo", "--slos", str(DEMO_SLOS), "--api-key", f"first={keys.first}"]
    emulator_flags += ["--api-key", f"second={keys.second}", "--api-key", f"workload={keys.ingest}"]
    with start_control_plane(tools, workdir) as cluster, start_emulator(*emulator_flags) as emulator:
        argo.install(cluster, tools)
        api = ApiReader(cluster)
        with argo.serve_file(tools.plugin) as location, contextlib.closing(api):
            digest = argo.configure_plugin(cluster, location, tools.plugin)
            controller = argo.start_controller(cluster, tools, digest)
            output = install_gate(cluster, tools, keys, emulator.url)
            with (
                run_evaluator_pod(cluster, GATE_NAMESPACE, RELEASE) as evaluator,
                run_workload(api, emulator.url, keys.ingest) as workload,
            ):
                yield Stack(cluster, controller, emulator, evaluator, workload, keys, output)
    left = cluster.supervisor.survivors()
    if left:
        raise StackError(f"processes left running after the stack stopped: {left}")
