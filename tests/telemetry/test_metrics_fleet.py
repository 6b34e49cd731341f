"""Every documented Prometheus metric is present and moves under the fleet simulation.

A smaller run of tests/sharing/fleet.py (2 evaluators on Redis, 6 clusters, judged canaries
with markers on) with the faults a fleet meets: Honeycomb answering 429 and 503 for a while,
a marker refused, Redis paused. /metrics is scraped before, every half second during, and after,
with prometheus_client's own text parser. Each family documented in docs/operations.md must be
in the last scrape, and its total (summed over labels) must differ from the first scrape's in
some scrape of some instance. `build_info` is the one constant (its value is always 1).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.sharing.fleet import drive, fleet_servers, plan
from tests.support.evaluations import VERSIONS, evaluation, judged
from tests.support.prometheus import documented_metrics, family_total, scrape
from tests.support.servers import Server


@pytest.mark.slow
@pytest.mark.servers
def test_every_documented_metric_moves_under_the_fleet_simulation(tmp_path: Path) -> None:
    with fleet_servers(tmp_path, 2, 6, backend="redis") as (emulator, servers, tokens):
        before = [scrape(server.url) for server in servers]
        samples: list[list[dict[str, float]]] = [[] for _ in servers]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                for index, server in enumerate(servers):
                    samples[index].append(scrape(server.url))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _disturb(emulator, servers, tokens)
        finally:
            done.set()
            sampler.join()
        after = [scrape(server.url) for server in servers]

    missing, still = [], []
    for family in documented_metrics():
        if any(family_total(last, family) is None for last in after):
            missing.append(family)
            continue
        moved = any(
            family_total(scraped, family) != family_total(first, family)
            for first, during, last in zip(before, samples, after, strict=True)
            for scraped in [*during, last]
        )
        if not moved and family != "honeycomb_evaluator_build_info":
            still.append(family)
    assert missing == [] and still == [], f"absent: {missing}; did not move: {still}"


def _disturb(emulator: Server, servers: list[Server], tokens: dict[str, str]) -> None:
    """Judged canaries with markers, Honeycomb failing, Redis paused, then the fleet."""
    headers = {"Authorization": f"Bearer {tokens['cluster-00']}"}

    def post(body: dict[str, object], server: int = 0) -> httpx.Response:
        return httpx.post(servers[server].url + "/v1/evaluate", json=body, headers=headers, timeout=40)

    def fault(**rule: object) -> None:
        httpx.post(emulator.url + "/_emulator/faults", json=rule, timeout=5).raise_for_status()

    # A refused marker, then the judged canaries with their markers.
    fault(method="POST", path_prefix="/1/markers", count=1, status=500)
    for canary in (VERSIONS["bad"], VERSIONS["good"], VERSIONS["bad"]):
        assert post(judged(canary)).status_code == 200
    # Honeycomb fails for a moment while the budget has tokens: a 503 (retried), then a 429
    # (a poll that would have to wait past the deadline: this evaluation gets 503).
    fault(method="GET", path_prefix="/1/query_results", count=1, status=503)
    fault(method="GET", path_prefix="/1/query_results", count=1, status=429)
    post(evaluation(VERSIONS["stable"], time_range=900))
    # Redis pauses longer than the client's read timeout and its one retry: a check of a new
    # canary (fusion notes its value in the store first) fails with a state-store error, and
    # the pod is not ready meanwhile.
    with redis.Redis.from_url(servers[0].extra["EVALUATOR_REDIS_URL"]) as client:
        client.execute_command("CLIENT", "PAUSE", "10000", "ALL")
    resumes = time.monotonic() + 10.5
    assert httpx.get(servers[0].url + "/readyz", timeout=10).status_code == 503
    paused = post(evaluation("a1b2c3d4e5", timeout_seconds=20))
    assert paused.status_code == 502 and "Redis" in paused.json()["error"]["message"], paused.text
    time.sleep(max(0.0, resumes - time.monotonic()))
    # The fleet itself: 6 clusters x 5 rollouts, 3 intervals.
    report = asyncio.run(drive(servers, tokens, plan(6, 5, seed=5), intervals=3, every_s=5))
    assert report.transport_errors == 0 and set(report.statuses) <= {200, 503}
    time.sleep(3)
