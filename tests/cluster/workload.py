"""The applications' telemetry: what the simulated Pods would send to Honeycomb.

kwok runs no containers, so the spans a real `checkout` Pod would export come from here. Every
second it lists the Running Pods that carry the label `e2e.honeycomb.io/workload` and sends, for
each, the spans its image would produce, as OTLP/HTTP JSON to the emulator's `/v1/traces` with an
ingest key: the way an OpenTelemetry SDK in the Pod exports them. The resource attributes are the
Pod's own `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, with `$(VAR)` references and
Downward API `fieldRef`s resolved as the kubelet resolves them, so the spans carry the
`rollouts_pod_template_hash` the controller actually assigned.

What an image does is decided by its tag (`BEHAVIOURS`): a good version, a bad one (errors and
slow), a quiet one that gets no traffic. How many spans a second a Pod sends is its label
`e2e.honeycomb.io/spans-per-second` (1 without it).
"""

from __future__ import annotations

import contextlib
import random
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.cluster.kube import is_ready
from tests.cluster.kubelet import ApiReader

WORKLOAD_LABEL = "e2e.honeycomb.io/workload"
RATE_LABEL = "e2e.honeycomb.io/spans-per-second"  # per Pod; 1 when absent
SIGMA = 0.45  # log-normal shape, as the emulator's demo data: p99 is about 2.85x the median


@dataclass(frozen=True)
class Behaviour:
    traffic: float  # 1: the Pod's spans a second; 0: it serves no traffic
    error_rate: float
    median_ms: float


BEHAVIOURS = {
    "good": Behaviour(traffic=1.0, error_rate=0.005, median_ms=80.0),  # p99 ~230 ms
    "bad": Behaviour(traffic=1.0, error_rate=0.08, median_ms=420.0),  # p99 ~1200 ms
    "quiet": Behaviour(traffic=0.0, error_rate=0.0, median_ms=0.0),
}


def behaviour_of(image: str) -> Behaviour:
    """`ghcr.io/example/checkout:v1.6.0-bad` -> BEHAVIOURS["bad"]; an unknown tag behaves well."""
    tag = image.rsplit(":", 1)[-1]
    return BEHAVIOURS.get(tag.rsplit("-", 1)[-1], BEHAVIOURS["good"])


def _field(pod: dict[str, Any], path: str) -> str:
    labels = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
    if labels:
        return str(pod["metadata"].get("labels", {}).get(labels.group(1), ""))
    return str(
        {"metadata.name": pod["metadata"]["name"], "metadata.namespace": pod["metadata"]["namespace"]}[path]
    )


def container_env(pod: dict[str, Any]) -> dict[str, str]:
    """The first container's env as the kubelet gives it: fieldRefs and $(VAR) resolved."""
    env: dict[str, str] = {}
    for variable in pod["spec"]["containers"][0].get("env", []):
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), variable["value"]
            )
        elif "fieldRef" in variable.get("valueFrom", {}):
            env[variable["name"]] = _field(pod, variable["valueFrom"]["fieldRef"]["fieldPath"])
    return env


def resource_attributes(pod: dict[str, Any]) -> dict[str, str]:
    env = container_env(pod)
    attributes = dict(
        pair.split("=", 1) for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",") if "=" in pair
    )
    attributes["service.name"] = env.get("OTEL_SERVICE_NAME", "unknown_service")
    return attributes


@dataclass
class PodTraffic:
    behaviour: Behaviour
    attributes: dict[str, str]
    spans_per_second: float
    owed: float = 0.0  # spans due but not yet sent (fractions carry over)
    errors_owed: float = 0.0  # the same carry for errors, so a window holds the rate's share


def _span(traffic: PodTraffic, end_ns: int, rng: random.Random) -> dict[str, Any]:
    traffic.errors_owed += traffic.behaviour.error_rate
    failed = traffic.errors_owed >= 1.0
    if failed:
        traffic.errors_owed -= 1.0
    duration_ns = int(rng.lognormvariate(0.0, SIGMA) * traffic.behaviour.median_ms * 1e6)
    return {
        "traceId": secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": "POST /checkout",
        "kind": 2,
        "startTimeUnixNano": str(end_ns - duration_ns),
        "endTimeUnixNano": str(end_ns),
        "status": {"code": 2} if failed else {},
    }


def _otlp(batches: list[tuple[PodTraffic, list[dict[str, Any]]]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": k, "value": {"stringValue": v}} for k, v in sorted(traffic.attributes.items())
                    ]
                },
                "scopeSpans": [{"scope": {"name": "e2e-workload"}, "spans": spans}],
            }
            for traffic, spans in batches
            if spans
        ]
    }


class Workload:
    """Sends the Pods' spans every second until stopped; `sent` counts spans per pod template hash."""

    def __init__(self, api: ApiReader, emulator_url: str, ingest_key: str) -> None:
        self._api = api
        self._client = httpx.Client(
            base_url=emulator_url, headers={"X-Honeycomb-Team": ingest_key}, timeout=10
        )
        self._pods: dict[str, PodTraffic] = {}
        self._rng = random.Random(20261202)
        self.sent: dict[str, int] = {}
        self.failures: list[str] = []

    def tick(self, seconds: float) -> None:
        listed = self._api.get(f"/api/v1/pods?labelSelector={WORKLOAD_LABEL}")["items"]
        running = {p["metadata"]["uid"]: p for p in listed if _serving(p)}
        self._pods = {uid: self._pods.get(uid) or _traffic(pod) for uid, pod in running.items()}
        end_ns = time.time_ns()
        batches = []
        for traffic in self._pods.values():
            traffic.owed += traffic.behaviour.traffic * traffic.spans_per_second * seconds
            count = int(traffic.owed)
            traffic.owed -= count
            batches.append((traffic, [_span(traffic, end_ns, self._rng) for _ in range(count)]))
        document = _otlp(batches)
        if not document["resourceSpans"]:
            return
        answer = self._client.post("/v1/traces", json=document)
        if answer.status_code != 200:
            self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            return
        for traffic, spans in batches:
            key = traffic.attributes.get("rollouts_pod_template_hash", "")
            self.sent[key] = self.sent.get(key, 0) + len(spans)

    def close(self) -> None:
        self._client.close()


def _serving(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":
        return False
    return is_ready(pod)


def _traffic(pod: dict[str, Any]) -> PodTraffic:
    rate = float(pod["metadata"].get("labels", {}).get(RATE_LABEL, "1"))
    return PodTraffic(behaviour_of(pod["spec"]["containers"][0]["image"]), resource_attributes(pod), rate)


@contextlib.contextmanager
def run_workload(api: ApiReader, emulator_url: str, ingest_key: str) -> Iterator[Workload]:
    workload = Workload(api, emulator_url, ingest_key)
    stop = threading.Event()

    def loop() -> None:
        last = time.monotonic()
        while not stop.wait(1.0):
            now = time.monotonic()
            try:
                workload.tick(now - last)
            except httpx.HTTPError as e:
                workload.failures.append(repr(e))
            last = now

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield workload
    finally:
        stop.set()
        thread.join()
        workload.close()
