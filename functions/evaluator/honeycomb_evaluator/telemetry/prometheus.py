"""Prometheus metrics for `serve`, exposed at GET /metrics by prometheus_client.

Each app gets its own registry (several apps in one test process never collide). Counters and
histograms move as requests finish (`observe`, one call per request record); the gauges of the
query budget, the result cache and the in-flight requests are read when Prometheus scrapes.
docs/operations.md "Prometheus metrics" lists every metric; tests/sharing/test_metrics_fleet.py
scrapes them with prometheus_client's own parser under the fleet simulation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from honeycomb_evaluator import __version__
from honeycomb_evaluator.markers import FAILED, JUDGED, MARKER_OUTCOMES
from honeycomb_evaluator.state.base import StateStore

if TYPE_CHECKING:
    from honeycomb_evaluator.budget import RateBudget
    from honeycomb_evaluator.record import EvaluationRecord

PREFIX = "honeycomb_evaluator"
# From a memory-cache hit (~1 ms) to a deadline (25 s at most).
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0)
ROUTES = frozenset(
    {"/v1/evaluate", "/oauth/v1/evaluate", "/v1/slo", "/v1/flagger", "/healthz", "/readyz", "/openapi.json"}
)
# Every operation of the state-store protocol (state/base.py), so a new one is counted too.
STATE_OPERATIONS = tuple(
    name for name, member in vars(StateStore).items() if inspect.iscoroutinefunction(member)
)


class _LiveGauges(Collector):
    """Gauges computed at scrape time: the query budget's tokens, the result cache's bytes and
    the executions running."""

    def __init__(
        self, budget: RateBudget, cache_bytes: Callable[[], int], executions: Callable[[], int]
    ) -> None:
        self.budget = budget
        self.cache_bytes = cache_bytes
        self.executions = executions

    def collect(self) -> Iterator[Metric]:
        free = GaugeMetricFamily(
            f"{PREFIX}_query_budget_tokens_free",
            "Query-result creations this key may still make now (as this instance last read the bucket).",
            labels=["key_id", "budget"],
        )
        capacity = GaugeMetricFamily(
            f"{PREFIX}_query_budget_tokens",
            "Query-result creations the evaluator spends per window for this key (limit - headroom).",
            labels=["key_id", "budget"],
        )
        for bucket, (left, size) in sorted(self.budget.free_tokens().items()):
            budget, _, key_id = bucket.partition("#")
            free.add_metric([key_id, budget], left)
            capacity.add_metric([key_id, budget], size)
        yield free
        yield capacity
        cache = GaugeMetricFamily(
            f"{PREFIX}_result_cache_bytes",
            "Bytes (as JSON) of completed query results this instance keeps (EVALUATOR_RESULT_CACHE_BYTES).",
        )
        cache.add_metric([], self.cache_bytes())
        yield cache
        running = GaugeMetricFamily(
            f"{PREFIX}_executions_in_progress",
            "Executions (distinct queries read, created or polled) running in this instance now "
            "(EVALUATOR_MAX_CONCURRENT_EXECUTIONS); requests joining them are not counted.",
        )
        running.add_metric([], self.executions())
        yield running


class PrometheusMetrics:
    def __init__(self, state_backend: str) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Gauge(f"{PREFIX}_build_info", "The running version.", ["version"], registry=registry).labels(
            __version__
        ).set(1)
        counter = self._counter
        self.evaluations = counter(
            "evaluations",
            "Requests to the gates (evaluate, slo, flagger) by outcome, how they were served and caller.",
            "outcome",
            "served",
            "caller",
        )
        self.duration = Histogram(
            f"{PREFIX}_evaluation_duration_seconds",
            "Time from a gate request's arrival to its answer, by how it was served.",
            ["served"],
            buckets=SECONDS,
            registry=registry,
        )
        self.honeycomb_wait = Histogram(
            f"{PREFIX}_honeycomb_wait_seconds",
            "Time an evaluation spent on its execution: Honeycomb's calls and polls, or another's.",
            buckets=SECONDS,
            registry=registry,
        )
        self.honeycomb_requests = counter(
            "honeycomb_requests", "HTTP requests to Honeycomb (retries included)."
        )
        self.honeycomb_polls = counter("honeycomb_polls", "Polls of query results.")
        self.honeycomb_429 = counter("honeycomb_rate_limited", "Answers 429 from Honeycomb.")
        # Unlabelled, so it is present at 0 on an instance that has created nothing yet; by caller
        # it is evaluations{served="created"}.
        self.created = counter(
            "query_results_created",
            "Query results this instance created (each spends a token of the key's budget).",
        )
        self.state_errors = counter(
            "state_store_errors",
            "State store operations that failed (Redis or DynamoDB unreachable or refusing).",
            "backend",
            "operation",
        )
        self.markers = counter(
            "markers",
            "Honeycomb marker events by event and outcome (written, duplicate, failed, postponed).",
            "event",
            "outcome",
        )
        self.http = counter(
            "http_requests",
            "HTTP answers of `serve` by route and status (overload and read-timeout refusals too).",
            "route",
            "status",
        )
        self.in_progress = Gauge(
            f"{PREFIX}_http_requests_in_progress", "HTTP requests being answered now.", registry=registry
        )
        self.asgi = make_asgi_app(registry)
        # Present at 0 on every instance, so rate() and alerts work from the first scrape.
        for operation in STATE_OPERATIONS:
            self.state_errors.labels(state_backend, operation)
        for event in (JUDGED, FAILED):
            for outcome in MARKER_OUTCOMES:
                self.markers.labels(event, outcome)

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)

    def watch(
        self, budget: RateBudget, cache_bytes: Callable[[], int], executions: Callable[[], int]
    ) -> None:
        """Show the budget's tokens, the result cache's bytes and the executions running (read at
        each scrape)."""
        self.registry.register(_LiveGauges(budget, cache_bytes, executions))

    def count_state_error(self, backend: str, operation: str) -> None:
        self.state_errors.labels(backend, operation).inc()

    def answered(self, path: str, status: int) -> None:
        self.http.labels(path if path in ROUTES else "other", str(status)).inc()

    def observe(self, record: EvaluationRecord) -> None:
        """One finished request (after its log line)."""
        caller = record.caller.name if record.caller else "unidentified"
        served = record.served.value if record.served else "none"
        self.evaluations.labels(record.outcome, served, caller).inc()
        self.duration.labels(served).observe(record.elapsed_ms / 1000)
        if record.served is not None:
            self.honeycomb_wait.observe(record.execute_seconds)
            if not record.cached:
                self.created.inc()
        stats = record.stats
        self.honeycomb_requests.inc(stats.requests)
        self.honeycomb_polls.inc(stats.polls)
        self.honeycomb_429.inc(stats.rate_limited)
        for event, outcome in record.markers.items():
            self.markers.labels(event, outcome).inc()
