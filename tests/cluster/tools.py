"""Where the control plane's programs are: `make e2e` builds them and passes their paths.

Every program is built from the Go module proxy (no binary downloads) into a cache outside the
clone, keyed by version (see the Makefile's "Local control plane" section):

- CLUSTER_BIN: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes
  at the version tests/argo/go.mod pins), rollouts-controller and kubectl-argo-rollouts
  (argo-rollouts at its pinned version), and etcd (tests/argo/cmd/etcd, embedding etcd's server);
- KWOK: sigs.k8s.io/kwok's kwok;
- HELM: helm (the chart's tests build it too);
- ROLLOUTS_PLUGIN: this repository's metric plugin, built for this machine;
- ARGO_ROLLOUTS_DIR: the pinned argo-rollouts module in the Go module cache (its install.yaml).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLUSTER_PROGRAMS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubectl-argo-rollouts",
    "rollouts-controller",
)


@dataclass(frozen=True)
class Tools:
    bin: Path  # CLUSTER_BIN: also put on PATH, so `kubectl argo rollouts` finds its plugin
    kwok: Path
    helm: Path
    plugin: Path
    argo_rollouts: Path

    def program(self, name: str) -> str:
        return str(self.bin / name)

    @property
    def argo_install(self) -> Path:
        return self.argo_rollouts / "manifests" / "install.yaml"

    def path_env(self) -> str:
        """PATH with kubectl, its argo plugin and helm first, as a user's shell would have them."""
        return os.pathsep.join([str(self.bin), str(self.helm.parent), os.environ.get("PATH", "")])


def from_environment() -> tuple[Tools | None, str]:
    """The tools, or None and what is missing (said when the suite is skipped or fails)."""
    variables = ("CLUSTER_BIN", "KWOK", "HELM", "ROLLOUTS_PLUGIN", "ARGO_ROLLOUTS_DIR")
    unset = [v for v in variables if not os.environ.get(v)]
    if unset:
        return None, f"{', '.join(unset)} not set: run `make e2e`, which builds the control plane"
    tools = Tools(
        bin=Path(os.environ["CLUSTER_BIN"]),
        kwok=Path(os.environ["KWOK"]),
        helm=Path(os.environ["HELM"]),
        plugin=Path(os.environ["ROLLOUTS_PLUGIN"]),
        argo_rollouts=Path(os.environ["ARGO_ROLLOUTS_DIR"]),
    )
    needed = [tools.bin / p for p in CLUSTER_PROGRAMS] + [tools.kwok, tools.helm, tools.plugin]
    needed.append(tools.argo_install)
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        return None, f"not built: {', '.join(missing)} (run `make e2e`)"
    return tools, ""
