"""The Rollouts the suite runs: the shipped manifests of infra/argo-rollouts, each in a namespace.

The AnalysisTemplates are applied exactly as shipped; the Rollouts pass them only what a user
must set (`evaluate-url`, `slo-url`, the plugin's `token-file`, the SLO's id). A Rollout is the
shipped one with three changes a test needs: the pod template carries the workload's labels (so
tests/cluster/workload.py sends its spans, at the scenario's rate), its pauses are shorter
(`PAUSES`), and the canary's image tag says how the new version behaves (`-good`, `-bad`,
`-quiet`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.workload import RATE_LABEL, WORKLOAD_LABEL

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "infra" / "argo-rollouts"
IMAGE = "ghcr.io/example/checkout"
# The shipped Rollouts pause before the analysis step (5 minutes; 10 for the judgement, its
# window) and 5 minutes after it. Before: long enough for the canary's spans to reach a window the
# evaluator snaps to whole minutes (90 s: at least 30 s of them), and for the judgement a couple
# of whole one-minute buckets; after: it only delays the promotion.
PAUSES = {"threshold": ("90s", "5s"), "judgement": ("2m", "5s")}
# Spans a second per Pod for the judged canaries that get traffic: the judgement's error rate needs
# about 2,000 spans a minute per version to be shown inside 2x stable within a few looks
# (docs/canary-judgement.md, "Which template"): 40 a second on the one canary Pod of five.
JUDGED_TRAFFIC = 40


class Outcome(Enum):
    PROMOTED = "promoted"  # the controller finished the steps: Healthy, stable is the canary
    ABORTED = "aborted"  # an analysis Failed or Errored: the controller aborted, Degraded
    PAUSED = "paused"  # an analysis was Inconclusive: Paused, waiting for a person


@dataclass(frozen=True)
class Scenario:
    namespace: str
    rollout_file: str
    canary: str  # the new version's behaviour: good, bad or quiet
    outcome: Outcome
    kind: str = "threshold"  # which PAUSES
    slo_id: str | None = None
    plugin: bool = False
    # Per Pod, stable and canary alike. Three a second give the canary's first window a few
    # hundred spans: the P99 of fewer than 100 is their maximum, which one slow span decides.
    spans_per_second: int = 3

    @property
    def canary_image(self) -> str:
        return f"{IMAGE}:v1.6.0-{self.canary}"


SCENARIOS = (
    # Scenario 2: the web-metric templates of rollout.yaml (step and background analysis).
    Scenario("web-good", "rollout.yaml", "good", Outcome.PROMOTED),
    Scenario("web-bad", "rollout.yaml", "bad", Outcome.ABORTED),
    Scenario("web-quiet", "rollout.yaml", "quiet", Outcome.ABORTED),
    # Scenario 3: the same gate through the metric plugin, loaded by the controller.
    Scenario("plugin-good", "rollout.yaml", "good", Outcome.PROMOTED, plugin=True),
    Scenario("plugin-bad", "rollout.yaml", "bad", Outcome.ABORTED, plugin=True),
    Scenario("plugin-quiet", "rollout.yaml", "quiet", Outcome.ABORTED, plugin=True),
    # Scenario 4: canary against stable (rollout-canary-judgement.yaml) and the SLO gate.
    Scenario(
        "judged-good",
        "rollout-canary-judgement.yaml",
        "good",
        Outcome.PROMOTED,
        "judgement",
        spans_per_second=JUDGED_TRAFFIC,
    ),
    Scenario(
        "judged-bad",
        "rollout-canary-judgement.yaml",
        "bad",
        Outcome.ABORTED,
        "judgement",
        spans_per_second=JUDGED_TRAFFIC,
    ),
    Scenario("judged-quiet", "rollout-canary-judgement.yaml", "quiet", Outcome.PAUSED, "judgement"),
    # The demo SLO CheckoutOk1 has overspent its budget: the background SLO gate stops a good canary.
    Scenario("slo-spent", "rollout.yaml", "good", Outcome.ABORTED, slo_id="CheckoutOk1"),
)
PLUGIN_TEMPLATE = "honeycomb-error-rate-plugin-bearer"
PLUGIN_FILE = "plugin-analysistemplate-bearer"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def analysis_templates() -> list[dict[str, Any]]:
    """Every shipped AnalysisTemplate, unchanged."""
    files = [
        *sorted(MANIFESTS.glob("analysistemplate-*.yaml")),
        MANIFESTS / "plugin-analysistemplate-bearer.yaml",
    ]
    return [d for f in files for d in documents(f.name) if d["kind"] == "AnalysisTemplate"]


def token_secret(token: str) -> dict[str, Any]:
    """secret.yaml's `honeycomb-evaluator` Secret with a registered token instead of the placeholder."""
    secret = next(d for d in documents("secret.yaml") if d["metadata"]["name"] == "honeycomb-evaluator")
    secret = copy.deepcopy(secret)
    secret["stringData"]["token"] = token
    return secret


def rollout(scenario: Scenario, urls: dict[str, str]) -> dict[str, Any]:
    """The scenario's Rollout: the shipped one, with the args a user sets and the test's changes.

    `urls` holds the args every analysis gets: evaluate-url, slo-url and token-file.
    """
    manifest = copy.deepcopy(documents(scenario.rollout_file)[0])
    spec = manifest["spec"]
    # The namespace in the pod template also makes each scenario's pod template hash its own.
    labels = spec["template"]["metadata"]["labels"]
    labels[WORKLOAD_LABEL] = scenario.namespace
    labels[RATE_LABEL] = str(scenario.spans_per_second)
    canary = spec["strategy"]["canary"]
    pauses = iter(PAUSES[scenario.kind])
    for step in canary["steps"]:
        if "pause" in step:
            step["pause"] = {"duration": next(pauses)}
    if scenario.plugin:
        canary.pop("analysis", None)
        for step in canary["steps"]:
            if "analysis" in step:
                step["analysis"]["templates"] = [{"templateName": PLUGIN_TEMPLATE}]
    blocks = [canary["analysis"]] if "analysis" in canary else []
    blocks += [step["analysis"] for step in canary["steps"] if "analysis" in step]
    for block in blocks:
        args = block.setdefault("args", [])
        if scenario.slo_id:
            args[:] = [a for a in args if a["name"] != "slo-id"] + [
                {"name": "slo-id", "value": scenario.slo_id}
            ]
        args += [{"name": name, "value": value} for name, value in urls.items()]
    return manifest
