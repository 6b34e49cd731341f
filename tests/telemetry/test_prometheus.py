"""GET /metrics of `serve`: Prometheus text that prometheus_client's own parser reads, with every
family docs/operations.md lists (tests/telemetry/test_metrics_fleet.py shows each one move)."""

from __future__ import annotations

import httpx
import pytest

from tests.evaluator.conftest import Stack
from tests.support.prometheus import documented_metrics, family_total, scrape
from tests.telemetry.test_tracing import judged_body

pytestmark = pytest.mark.servers


def test_metrics_parse_as_prometheus_text_and_list_every_documented_family(stack: Stack) -> None:
    evaluator = stack.evaluator
    httpx.post(evaluator.url + "/v1/evaluate", json=judged_body(), timeout=30).raise_for_status()
    samples = scrape(evaluator.url)
    missing = [name for name in documented_metrics() if family_total(samples, name) is None]
    assert missing == []
    assert family_total(samples, "honeycomb_evaluator_evaluations") >= 1
    assert any(k.startswith("process_resident_memory_bytes") for k in samples)
