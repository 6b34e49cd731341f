"""Argo Rollouts installed as its release says, with the controller as a local process.

`kubectl apply -n argo-rollouts -f install.yaml` of the pinned release (CRDs, ServiceAccount,
ClusterRoles and bindings, the controller's Deployment, ConfigMap, Service) goes to the API server
as a user would send it. The Deployment is then scaled to 0: its Pod would be a kwok simulation
that runs nothing. The controller runs instead as a process on this machine, authenticated with a
token of the release's own ServiceAccount (`kubectl create token`), so it has exactly the RBAC
the release grants.

The metric plugin is installed the way docs/rollouts-plugin.md says: `argo-rollouts-config`
names it with an http location and its sha256; the controller downloads it at start (from a
local file server standing in for the release server), checks the digest, and starts it as
its own child through go-plugin.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cluster.controlplane import ControlPlane
from tests.cluster.kube import wait_for
from tests.cluster.processes import Process
from tests.cluster.tools import Tools
from tests.support.servers import free_port, serve_in_thread

NAMESPACE = "argo-rollouts"
PLUGIN_NAME = "honeycomb-rollouts/honeycomb"
CRDS = ("rollouts", "analysisruns", "analysistemplates", "clusteranalysistemplates", "experiments")


@dataclass(frozen=True)
class Controller:
    process: Process
    plugin_sha256: str


@contextlib.contextmanager
def serve_file(path: Path) -> Iterator[str]:
    """An HTTP server on loopback serving `path`'s directory; yields the file's URL."""
    handler = functools.partial(_QuietHandler, directory=str(path.parent))
    with serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield f"{url}/{path.name}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def install(cluster: ControlPlane, tools: Tools) -> None:
    kubectl = cluster.kubectl
    kubectl.run("create", "namespace", NAMESPACE)
    # Server-side apply: the Rollout CRD is too large for client-side apply's annotation.
    kubectl.run("apply", "--server-side", "-n", NAMESPACE, "-f", str(tools.argo_install))
    for crd in CRDS:
        kubectl.run("wait", "--for=condition=Established", f"crd/{crd}.argoproj.io", "--timeout=60s")
    kubectl.run("-n", NAMESPACE, "scale", "deployment/argo-rollouts", "--replicas=0")


def configure_plugin(cluster: ControlPlane, location: str, binary: Path) -> str:
    """Name the plugin in argo-rollouts-config (as plugin-configmap.yaml does); return its sha256."""
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    entry = f"- name: {PLUGIN_NAME}\n  location: {location}\n  sha256: {digest}\n"
    cluster.kubectl.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "argo-rollouts-config", "namespace": NAMESPACE},
                "data": {"metricProviderPlugins": entry},
            }
        ]
    )
    return digest


def start_controller(cluster: ControlPlane, tools: Tools, plugin_sha256: str) -> Controller:
    token = cluster.kubectl.run("-n", NAMESPACE, "create", "token", "argo-rollouts", "--duration=24h").strip()
    home = cluster.workdir / "rollouts-controller"
    home.mkdir(exist_ok=True)  # the controller installs plugins under ./plugin-bin
    kubeconfig = cluster.kubeconfig_for(token, home / "kubeconfig")
    metrics_port, healthz_port = free_port(), free_port()
    process = cluster.supervisor.start(
        "rollouts-controller",
        [
            tools.program("rollouts-controller"),
            f"--kubeconfig={kubeconfig}",
            f"--metricsPort={metrics_port}",
            f"--healthzPort={healthz_port}",
            "--loglevel=info",
        ],
        env={"POD_NAMESPACE": NAMESPACE},
        cwd=home,
    )
    _wait_healthy(process, f"http://127.0.0.1:{healthz_port}/healthz")
    return Controller(process, plugin_sha256)


def _wait_healthy(process: Process, url: str, timeout: float = 120) -> None:
    def healthy() -> bool:
        if not process.alive():
            raise RuntimeError(f"rollouts-controller exited:\n{process.tail()}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for("rollouts-controller /healthz", healthy, timeout=timeout, interval=0.5)
