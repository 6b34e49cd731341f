"""The shipped canary-vs-stable AnalysisTemplates, read from infra/argo-rollouts as Argo gets them.

The calibration judges with exactly the settings users copy: each metric's `judge` or
`scorecard`, its `significance`, `count` looks and the query's window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from honeycomb_evaluator.judgement.classify import Rule
from honeycomb_evaluator.models.judgement import JudgeRules, ScorecardMetric

from tests.calibration.runs import Metric, Template

TEMPLATES = Path(__file__).resolve().parents[2] / "infra" / "argo-rollouts"
SHIPPED = (
    ("scorecard", "analysistemplate-canary-vs-stable.yaml"),
    ("latency", "analysistemplate-canary-vs-stable-latency.yaml"),
    ("errors", "analysistemplate-canary-vs-stable-error-rate.yaml"),
)


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
    return [_template(name, yaml.safe_load((TEMPLATES / file).read_text())) for name, file in SHIPPED]
