"""The shipped canary-vs-stable AnalysisTemplate, read from infra/argo-rollouts as Argo gets it.

The calibration judges with exactly the settings users copy: the scorecard's metrics, its
`significance`, `count` looks and the query's window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from honeycomb_evaluator.judgement.classify import Rule
from honeycomb_evaluator.models.judgement import JudgeRules, ScorecardMetric

from tests.calibration.runs import Metric, Template

if TYPE_CHECKING:
    from tests.calibration.slice_runs import SliceTemplate

TEMPLATES = Path(__file__).resolve().parents[2] / "infra" / "argo-rollouts"
SHIPPED = "analysistemplate-canary-vs-stable.yaml"


def _metric(calculation: str, rules: JudgeRules, critical: bool = True) -> Metric:
    test = "proportions" if rules.test == "proportions" else "paired"
    return Metric(calculation, test, Rule.of(rules), critical)


def _template(name: str, document: dict[str, Any]) -> Template:
    (metric,) = document["spec"]["metrics"]
    if metric.get("consecutiveSuccessLimit") != 1 or metric.get("failureLimit") != 0:
        raise ValueError(f"{name}: the calibration models failureLimit 0 and consecutiveSuccessLimit 1")
    body = metric["provider"]["web"]["jsonBody"]
    window = int(body["query"]["time_range"]) // 60
    if "scorecard" in body:
        card = body["scorecard"]
        metrics = tuple(
            _metric(m["calculation"], ScorecardMetric.model_validate(m), m.get("critical", True))
            for m in card["metrics"]
        )
        alpha = float(card["significance"])
    else:
        judge = JudgeRules.model_validate({k: v for k, v in body["judge"].items() if k != "significance"})
        metrics = (_metric(body["select"]["calculation"], judge),)
        alpha = float(body["judge"]["significance"])
    return Template(name, metrics, alpha, int(metric["count"]), window)


def shipped() -> list[Template]:
    """The scorecard template, and each of its metrics judged alone (a `judge` with the same band
    and significance: what a user who keeps one metric gets)."""
    card = _template("scorecard", yaml.safe_load((TEMPLATES / SHIPPED).read_text()))
    latency, errors = card.metrics
    return [
        card,
        Template("latency", (latency,), card.alpha, card.count, card.window_minutes),
        Template("errors", (errors,), card.alpha, card.count, card.window_minutes),
    ]


SLICED = "analysistemplate-canary-slices.yaml"


def sliced(**overrides: object) -> SliceTemplate:
    """The sliced template, its slices' settings with `overrides` (the simulation's dimensions)."""
    from honeycomb_evaluator.judgement.query import Judged, chosen_test
    from honeycomb_evaluator.models.slices import Slices

    from tests.calibration.slice_runs import SliceTemplate

    document = yaml.safe_load((TEMPLATES / SLICED).read_text())
    (metric,) = document["spec"]["metrics"]
    body = metric["provider"]["web"]["jsonBody"]
    card = body["scorecard"]
    metrics = [ScorecardMetric.model_validate(m) for m in card["metrics"]]
    judged = tuple(
        Judged(m.label, m.calculation, m, chosen_test(m, m.calculation, "scorecard"), m.critical)
        for m in metrics
    )
    template = Template(
        "sliced",
        tuple(_metric(m.calculation, m, m.critical) for m in metrics),
        float(card["significance"]),
        int(metric["count"]),
        int(body["query"]["time_range"]) // 60,
    )
    spec = Slices.model_validate({**body["slices"], **overrides})
    return SliceTemplate(template, judged, spec)


def sliced_for(dimensions: int) -> SliceTemplate:
    """The sliced template with the simulation's dimensions (each value a slice, all of them judged)."""
    from tests.calibration.slice_traffic import VALUES

    return sliced(
        dimensions=[f"dim{i}" for i in range(dimensions)],
        depth=1,
        max_slices=dimensions * VALUES,
        errors=None,
    )
