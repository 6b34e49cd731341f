"""A smaller calibration through the emulator over HTTP: real events, real queries, real state.

Each run gets its own pair of pod-template hashes and its own events (per minute: a Poisson
number of spans per version, log-normal durations, Bernoulli errors, optionally stored 1 in
`sample_rate` with that SampleRate), ingested through Honeycomb's batch API. Then the shipped
scorecard template is asked, look by look, exactly as Argo asks it (its jsonBody, with the
window pinned to the look's minute), through `honeycomb-evaluator serve` and its state store.

The same events are also judged in-process (the Honeycomb numbers computed here from the raw
events: weighted COUNT and AVG, nearest-rank P99) with the loop of runs.py: every look's verdict
must agree, which checks the whole path (query, weighting, buckets, history) against the
simulation the big grid relies on. And every look must cost exactly one query result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import yaml
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling, Side
from honeycomb_evaluator.judgement.history import merge

from tests.calibration.runs import Look, Template, outcome_of
from tests.calibration.templates import TEMPLATES, shipped
from tests.calibration.traffic import BASELINE_ERROR_RATE, BASELINE_MEDIAN_MS, ERRORS, P99, SIGMA
from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, start_emulator, start_evaluator

DATASET = "calibration"
PAUSE = 10  # minutes of canary traffic before the first look, as the shipped Rollout
SEED = 20_261_207


@dataclass(frozen=True)
class HttpScenario:
    name: str
    per_minute: float  # each version
    latency_ratio: float = 1.0
    error_ratio: float = 1.0
    sample_rate: int = 1
    runs: int = 20


SCENARIOS = (
    HttpScenario("identical", 200, runs=40),
    HttpScenario("identical, sampled 1/5 not stated", 1000, sample_rate=5, runs=20),
    HttpScenario("P99 1.3x", 200, latency_ratio=1.3),
    HttpScenario("errors 2x", 500, error_ratio=2.0),
)


def _events(
    scenario: HttpScenario, role: str, minutes: int, start: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    latency = scenario.latency_ratio if role == "canary" else 1.0
    errors = scenario.error_ratio if role == "canary" else 1.0
    out = []
    for minute in range(minutes):
        n = rng.poisson(scenario.per_minute)
        kept = rng.random(n) < 1 / scenario.sample_rate
        durations = BASELINE_MEDIAN_MS * latency * np.exp(SIGMA * rng.standard_normal(n))
        failed = rng.random(n) < BASELINE_ERROR_RATE * errors
        seconds = rng.random(n) * 60
        for i in np.flatnonzero(kept):
            out.append(
                {
                    "time": start + minute * 60 + float(seconds[i]),
                    "samplerate": scenario.sample_rate,
                    "data": {"duration_ms": round(float(durations[i]), 3), "error": bool(failed[i])},
                }
            )
    return out


def _buckets(
    canary: list[dict[str, Any]], baseline: list[dict[str, Any]], start: int, minutes: int
) -> list[Bucket]:
    """The per-minute numbers as Honeycomb computes them, from the raw events."""

    def side(events: list[dict[str, Any]]) -> Side | None:
        if not events:
            return None
        rate = events[0]["samplerate"]
        durations = np.sort([e["data"]["duration_ms"] for e in events])
        p99 = float(durations[math.ceil(0.99 * len(durations)) - 1])  # nearest rank, constant rate
        share = sum(e["data"]["error"] for e in events) / len(events)
        return Side(float(len(events) * rate), {P99: p99, ERRORS: share})

    out = []
    for minute in range(minutes):
        lo, hi = start + minute * 60, start + minute * 60 + 60
        sides = [side([e for e in events if lo <= e["time"] < hi]) for events in (canary, baseline)]
        if sides[0] is not None and sides[1] is not None:
            out.append(Bucket(lo, hi, sides[0], sides[1]))
    return out


def pinned_body(
    template_body: dict[str, Any], dataset: str, versions: tuple[str, str], end: int
) -> dict[str, Any]:
    """A template's jsonBody as Argo sends it for (canary, baseline), the window pinned to `end`."""
    body: dict[str, Any] = yaml.safe_load(yaml.safe_dump(template_body))
    body["dataset"] = dataset
    query = body["query"]
    length = int(query.pop("time_range"))
    query["start_time"], query["end_time"] = end - length, end
    canary, baseline = versions
    body["compare"] = {**body["compare"], "canary": canary, "baseline": baseline}
    body.pop("max_age_seconds", None)
    return body


@dataclass
class Counts:
    runs: int = 0
    failed: int = 0
    passed: int = 0
    looks: int = 0
    agreed: int = 0
    results_created: int = 0


def _run(
    http: httpx.Client,
    servers: tuple[Server, Server],
    scenario: HttpScenario,
    which: tuple[int, int],
    card: Template,
) -> Counts:
    emulator, evaluator = servers
    number, run = which
    rng = np.random.default_rng([SEED, number, run])
    minutes = PAUSE + card.count
    start = (int(time.time()) // 60 - minutes - 30 - 25 * run) * 60  # whole minutes in the past
    canary_hash, baseline_hash = f"canary-{number}-{run}", f"stable-{number}-{run}"
    canary, baseline = (_events(scenario, role, minutes, start, rng) for role in ("canary", "baseline"))
    for hash_value, events in ((canary_hash, canary), (baseline_hash, baseline)):
        for e in events:
            e["data"]["rollouts_pod_template_hash"] = hash_value
        for i in range(0, len(events), 5000):
            answer = http.post(f"{emulator.url}/1/batch/{DATASET}", json=events[i : i + 5000],
                               headers={"X-Honeycomb-Team": DEFAULT_EMULATOR_KEY})  # fmt: skip
            answer.raise_for_status()
    expected = _buckets(canary, baseline, start, minutes)
    template_body = yaml.safe_load((TEMPLATES / "analysistemplate-canary-vs-stable.yaml").read_text())
    web_body = template_body["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]
    counts, kept = Counts(runs=1), list[Bucket]()
    for look in range(card.count):
        now = start + (PAUSE + look) * 60
        before = http.get(f"{emulator.url}/_emulator/stats").json()["query_results_created"]
        answer = http.post(
            f"{evaluator.url}/v1/evaluate",
            json=pinned_body(web_body, DATASET, (canary_hash, baseline_hash), now),
        )
        answer.raise_for_status()
        counts.results_created += (
            http.get(f"{emulator.url}/_emulator/stats").json()["query_results_created"] - before
        )
        verdict = answer.json()["verdict"]
        kept, _ = merge(kept, [b for b in expected if now - 600 <= b.start < now])
        mirrored = Look(kept, Sampling()).verdict(card)
        counts.looks += 1
        counts.agreed += verdict == mirrored
        outcome = outcome_of(verdict)
        if outcome is not None:
            counts.failed += outcome == "Failed"
            counts.passed += outcome == "Successful"
            break
    return counts


@contextmanager
def calibration_servers() -> Iterator[tuple[Server, Server]]:
    with ExitStack() as stack:
        emulator = stack.enter_context(
            start_emulator("--rate-limit-per-minute", "100000", "--result-delay-ms", "0")
        )
        env = {
            "HONEYCOMB_API_KEY": DEFAULT_EMULATOR_KEY,
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": "10000",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        evaluator = stack.enter_context(start_evaluator(env))
        yield emulator, evaluator


def main() -> int:
    started = time.perf_counter()
    card = next(t for t in shipped() if t.name == "scorecard")
    failures = 0
    with httpx.Client(timeout=30) as http, calibration_servers() as servers:
        for number, scenario in enumerate(SCENARIOS):
            total = Counts()
            for run in range(scenario.runs):
                one = _run(http, servers, scenario, (number, run), card)
                for name in vars(total):
                    setattr(total, name, getattr(total, name) + getattr(one, name))
            print(
                f"over HTTP | {scenario.name} | {scenario.per_minute:g} per minute per version: "
                f"{total.runs} runs, failed {total.failed}, passed {total.passed}; {total.looks} looks, "
                f"{total.agreed} agree with the in-process judgement, {total.results_created} query results",
                flush=True,
            )
            failures += total.agreed != total.looks or total.results_created != total.looks
    print(f"over HTTP: {time.perf_counter() - started:.0f} s; {'OK' if not failures else 'MISMATCH'}")
    return 1 if failures else 0
