"""A local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
and kwok's simulated nodes, each a process on free loopback ports.

- kube-apiserver serves TLS with a certificate made for this run, authenticates one admin
  token (group system:masters) from a token file, authorizes with RBAC, and signs
  service-account tokens with a fresh key pair, so `kubectl create token` works and the Argo
  Rollouts controller can run as its own ServiceAccount.
- kube-controller-manager runs the built-in controllers (ReplicaSets make Pods, Deployments roll,
  namespaces get their `default` ServiceAccount, the garbage collector deletes what `helm
  uninstall` leaves to it, PodDisruptionBudgets get their status).
- kube-scheduler binds Pods to Nodes.
- kwok plays the kubelet of two Nodes: it keeps them Ready and marks their Pods Running and
  Ready, so ReplicaSets become available without a container runtime. Containers do not run.
"""

from __future__ import annotations

import contextlib
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.cluster.kube import Kubectl, is_ready, wait_for
from tests.cluster.pki import Pki, make_pki
from tests.cluster.processes import Process, Supervisor
from tests.cluster.tools import Tools
from tests.support.servers import free_port

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
NODES = (("kwok-node-a", "zone-a"), ("kwok-node-b", "zone-b"))


@dataclass
class ControlPlane:
    url: str
    kubeconfig: Path
    kubectl: Kubectl
    supervisor: Supervisor
    workdir: Path
    ca_cert: Path
    admin_token: str

    def kubeconfig_for(self, token: str, path: Path) -> Path:
        """A kubeconfig for this API server with another identity's bearer token."""
        write_kubeconfig(path, self.url, self.ca_cert, token)
        return path

    def component_logs(self) -> str:
        return "\n".join(f"--- {p.name} (last lines)\n{p.tail(25)}" for p in self.supervisor.started)


def write_kubeconfig(path: Path, server: str, ca_cert: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": "e2e", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "e2e"}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def _wait_http(process: Process, url: str, timeout: float, **client: Any) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited {process.popen.returncode}:\n{process.tail()}")
        try:
            answer = httpx.get(url, timeout=2.0, **client)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as e:
            last = repr(e)
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready after {timeout} s ({last}):\n{process.tail()}")


def _node(name: str, zone: str) -> dict[str, Any]:
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            # kwok manages the Nodes that carry this annotation (its --manage-nodes-with-annotation-selector).
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


@contextlib.contextmanager
def start_control_plane(tools: Tools, workdir: Path) -> Iterator[ControlPlane]:
    supervisor = Supervisor(workdir / "logs")
    try:
        yield _start(tools, workdir, supervisor)
    finally:
        supervisor.stop_all()


@dataclass(frozen=True)
class _Start:
    """What every component's start needs."""

    tools: Tools
    workdir: Path
    supervisor: Supervisor
    pki: Pki


def _etcd(start: _Start) -> str:
    """etcd's client URL, once it answers /health."""
    url = f"http://127.0.0.1:{free_port()}"
    argv = [start.tools.program("etcd"), "-data-dir", str(start.workdir / "etcd"), "-client", url]
    etcd = start.supervisor.start("etcd", [*argv, "-peer", f"http://127.0.0.1:{free_port()}"])
    _wait_http(etcd, f"{url}/health", timeout=60)
    return url


def _apiserver(start: _Start, etcd_url: str, admin_token: str) -> str:
    """kube-apiserver's URL, once /readyz answers the admin."""
    pki = start.pki
    tokens = start.workdir / "pki" / "tokens.csv"
    tokens.write_text(f'{admin_token},e2e-admin,e2e-admin,"system:masters"\n')
    tokens.chmod(0o600)
    port = free_port()
    apiserver = start.supervisor.start(
        "kube-apiserver",
        [
            start.tools.program("kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints refuse;
            # nothing here reaches the API server through that Service.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ],
    )
    url = f"https://127.0.0.1:{port}"
    _wait_http(
        apiserver,
        f"{url}/readyz",
        timeout=120,
        verify=ssl.create_default_context(cafile=pki.ca_cert),
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    return url


def _controllers(start: _Start, kubeconfig: Path) -> None:
    """kube-controller-manager and kube-scheduler (no HTTPS of their own: nothing probes them)."""
    start.supervisor.start(
        "kube-controller-manager",
        [
            start.tools.program("kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--service-account-private-key-file={start.pki.service_account_key}",
            f"--root-ca-file={start.pki.ca_cert}",
            "--use-service-account-credentials=false",
            f"--cluster-cidr={POD_CIDR}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--secure-port=0",
        ],
    )
    scheduler = [start.tools.program("kube-scheduler"), f"--kubeconfig={kubeconfig}"]
    start.supervisor.start("kube-scheduler", [*scheduler, "--leader-elect=false", "--secure-port=0"])


def _kwok(start: _Start, kubeconfig: Path) -> None:
    config = start.workdir / "kwok.yaml"
    config.write_text("")  # kwok would otherwise read ~/.kwok/kwok.yaml
    start.supervisor.start(
        "kwok",
        [
            str(start.tools.kwok),
            f"--config={config}",
            f"--kubeconfig={kubeconfig}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{free_port()}",
        ],
    )


def _start(tools: Tools, workdir: Path, supervisor: Supervisor) -> ControlPlane:
    start = _Start(tools, workdir, supervisor, make_pki(workdir / "pki"))
    etcd_url = _etcd(start)
    admin_token = secrets.token_hex(24)
    url = _apiserver(start, etcd_url, admin_token)

    kubeconfig = workdir / "admin.kubeconfig"
    write_kubeconfig(kubeconfig, url, start.pki.ca_cert, admin_token)
    kubectl = Kubectl(tools.program("kubectl"), kubeconfig, tools.path_env())
    _controllers(start, kubeconfig)
    _kwok(start, kubeconfig)
    kubectl.apply([_node(name, zone) for name, zone in NODES])
    wait_for("kwok Nodes Ready", lambda: all(is_ready(n) for n in kubectl.get("nodes")), timeout=120)
    # The controller-manager's ServiceAccount controller: Pods cannot be created before it ran.
    wait_for(
        "ServiceAccount default/default",
        lambda: kubectl.find("serviceaccount", "default", namespace="default"),
        timeout=120,
    )
    return ControlPlane(
        url=url,
        kubeconfig=kubeconfig,
        kubectl=kubectl,
        supervisor=supervisor,
        workdir=workdir,
        ca_cert=start.pki.ca_cert,
        admin_token=admin_token,
    )
