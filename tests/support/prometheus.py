"""Reading what `serve` exposes at /metrics the way Prometheus does, and what the docs promise."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

OPERATIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
# Sample names end in these for counters and histograms; the docs name the family.
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def documented_metrics() -> list[str]:
    """The metric families docs/operations.md's Prometheus table lists (first column)."""
    names = re.findall(r"^\| `(honeycomb_evaluator_[a-z_]+)`", OPERATIONS_DOC.read_text(), re.MULTILINE)
    assert names, "docs/operations.md lists no honeycomb_evaluator_* metric"
    return names


def scrape(url: str) -> dict[str, float]:
    """Every sample of GET /metrics as `name{label="v",...}` → value, parsed by prometheus_client."""
    answer = httpx.get(url + "/metrics", timeout=10)
    answer.raise_for_status()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def family_total(samples: dict[str, float], family: str) -> float | None:
    """The sum of a family's samples (counters' `_total`, histograms' `_count`, gauges as they
    are), or None when the scrape has no sample of it."""
    values = []
    for key, value in samples.items():
        name = key.split("{", 1)[0]
        if name == family or (name.startswith(family) and name[len(family) :] in ("_total", "_count")):
            values.append(value)
    return sum(values) if values else None
