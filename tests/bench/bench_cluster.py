"""From `kubectl argo rollouts set image` to the abort of a bad canary, on the local control plane.

The stack of `make e2e` (tests/cluster/stack.py): kube-apiserver, the controllers, kwok, the Argo
Rollouts controller process, the chart's evaluator and the emulator. A Rollout shaped like
infra/argo-rollouts/rollout.yaml with the shipped step templates (error rate, p99, error count;
`interval: 1m`, `failureLimit: 1`), but only `setWeight: 20`, the suite's pause before the
analysis (90 s: the evaluator snaps windows to whole minutes, so a canary needs more than a
minute of spans before it can be judged) and the analysis step. Its canary is bad (8 % errors,
p99 about 1.2 s), so the analysis fails at its second measurement and the controller aborts.

Per run, from the API server and the evaluator's log:

- total: `set image` to the first time the Rollout reads `abort: true` (polled every 0.2 s);
- canary ready: to the first Ready canary Pod (the ReplicaSet, the scheduler, kwok);
- pause: the Rollout's pause step, as configured;
- Argo's waits: between measurement rounds, `interval` (60 s) after a result, 10 s after an
  Error (Argo's retry), as the error-rate metric's measurements show;
- ours: the evaluator's slowest answer in each round of measurements (the three metrics are
  measured together and share one query), of which the emulator's (Honeycomb's) part is
  `honeycomb_ms`. Argo counts `interval` from the start of a measurement, so only the last
  round's answer is on the critical path; earlier rounds overlap the interval;
- the rest: the controllers' own reaction (reconciling, creating the AnalysisRun, acting on it).
  Argo records the pause's start and each measurement's start in whole seconds, so its waits can
  end up to a second early each and this residue is only good to about +-2 s.

The benchmark fails unless every run ended in an abort caused by a Failed AnalysisRun.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.cluster.kube import Kubectl, is_ready, wait_for
from tests.cluster.kubelet import ApiReader
from tests.cluster.rollouts import analysis_runs, deploy, first_revision, measurements, set_image
from tests.cluster.scenarios import PAUSES, Outcome, Scenario
from tests.cluster.stack import Stack, running_stack
from tests.cluster.tools import from_environment

RUNS = 3
PAUSE = PAUSES["threshold"][0]
PAUSE_SECONDS = int(PAUSE.removesuffix("s"))
INTERVAL_SECONDS, ERROR_RETRY_SECONDS = 60, 10  # the templates' interval; Argo's retry after an Error


def _timestamp(text: str) -> float:
    """Kubernetes' `2026-12-06T21:10:02Z` or the evaluator log's `2026-12-06 21:10:02,715+0000`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(",", ".")).timestamp()


def _evaluations(stack: Stack, start: float, end: float) -> list[dict[str, Any]]:
    """The evaluator's log lines of the evaluations that ended in [start, end]."""
    lines = []
    for line in stack.evaluator.process.log.read_text().splitlines():
        if '"evaluation' in line and start <= _timestamp(json.loads(line)["timestamp"]) <= end:
            lines.append(json.loads(line))
    return lines


def _rounds(evaluations: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Evaluations grouped by measurement round: a gap of more than 3 s starts a new one."""
    rounds: list[list[dict[str, Any]]] = []
    last = -1e9
    for evaluation in sorted(evaluations, key=lambda e: _timestamp(e["timestamp"])):
        at = _timestamp(evaluation["timestamp"])
        if at - last > 3:
            rounds.append([])
        rounds[-1].append(evaluation)
        last = at
    return rounds


def _bench_rollout_steps(manifest: dict[str, Any]) -> None:
    canary = manifest["spec"]["strategy"]["canary"]
    canary.pop("analysis")  # the step analysis alone decides
    analysis = next(step for step in canary["steps"] if "analysis" in step)
    canary["steps"] = [{"setWeight": 20}, {"pause": {"duration": PAUSE}}, analysis]


class _Watch:
    """Polls the API server every 0.2 s (plain GETs: cheaper than a kubectl process each time)."""

    def __init__(self, stack: Stack, namespace: str, name: str, stable: str) -> None:
        self.api, self.namespace, self.name, self.stable = ApiReader(stack.cluster), namespace, name, stable
        self.canary_ready: float | None = None

    def aborted(self) -> dict[str, Any] | None:
        path = f"/apis/argoproj.io/v1alpha1/namespaces/{self.namespace}/rollouts/{self.name}"
        status: dict[str, Any] = self.api.get(path).get("status", {})
        canary = status.get("currentPodHash")
        if self.canary_ready is None and canary not in (None, self.stable):
            selector = f"rollouts-pod-template-hash={canary}"
            pods = self.api.get(f"/api/v1/namespaces/{self.namespace}/pods?labelSelector={selector}")["items"]
            if any(is_ready(p) for p in pods):
                self.canary_ready = time.time()
        return status if status.get("abort") else None


def one_run(stack: Stack, index: int) -> dict[str, float]:
    kubectl: Kubectl = stack.cluster.kubectl
    scenario = Scenario(f"bench-{index}", "rollout.yaml", "bad", Outcome.ABORTED)
    urls = {"evaluate-url": f"{stack.evaluator.url}/v1/evaluate", "slo-url": f"{stack.evaluator.url}/v1/slo"}
    name = deploy(kubectl, scenario, stack.keys.token, urls, shape=_bench_rollout_steps)
    watch = _Watch(stack, scenario.namespace, name, first_revision(kubectl, scenario.namespace, name))
    started = set_image(kubectl, scenario, name)
    status = wait_for("the abort", watch.aborted, timeout=600, interval=0.2)
    ended = time.time()
    watch.api.close()
    run = analysis_runs(kubectl, scenario.namespace, status["currentPodHash"])["Step"]
    # The traffic got the answer it meant to measure: the analysis failed on the bad canary's figures.
    assert run["status"]["phase"] == "Failed", run["status"]
    assert watch.canary_ready is not None
    phases = [m["phase"] for m in measurements(run)["error-rate"]]
    argo_waits = sum(ERROR_RETRY_SECONDS if p == "Error" else INTERVAL_SECONDS for p in phases[:-1])
    rounds = _rounds(_evaluations(stack, started, ended))
    slowest = [max(e["elapsed_ms"] for e in r) / 1000 for r in rounds]
    honeycomb = max(e["honeycomb_ms"] for e in rounds[-1]) / 1000
    kubectl.run("delete", "namespace", scenario.namespace, "--wait=false")
    return {
        "total": ended - started,
        "canary ready": watch.canary_ready - started,
        "pause": PAUSE_SECONDS,
        "argo's waits": argo_waits,
        "evaluator, last round": slowest[-1],
        "of which honeycomb": honeycomb,
        "evaluator, all rounds": sum(slowest),
        "rest (controllers)": ended - watch.canary_ready - PAUSE_SECONDS - argo_waits - slowest[-1],
        "rounds": len(rounds),
        "error rounds": phases.count("Error"),
    }


def main() -> None:
    tools, missing = from_environment()
    if tools is None:
        raise SystemExit(f"bench_cluster: {missing}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as workdir,
        running_stack(tools, Path(workdir)) as stack,
    ):
        results = [one_run(stack, i) for i in range(RUNS)]
    for key in results[0]:
        values = [r[key] for r in results]
        shown = ", ".join(f"{v:.3f}" for v in values)
        print(f"{key:>22}: median {statistics.median(values):8.3f}   runs: {shown}")
    total = statistics.median(r["total"] for r in results)
    ours = statistics.median(r["evaluator, last round"] for r in results)
    share = f"{ours:.3f} s ({100 * ours / total:.2f} %)"
    print(f"set image -> abort: {total:.1f} s median; the evaluator's share {share}")
