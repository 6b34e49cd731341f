"""The sliced template through the emulator over HTTP: real events with dimensions, real queries.

Each run gets its own pair of hashes and its own events (per minute and version a Poisson number
of spans, each with a value of every dimension, log-normal durations, Bernoulli errors; the
seeded slice slower or failing more in the canary), ingested through Honeycomb's batch API; the
sliced template's body is asked look by look through `honeycomb-evaluator serve`.

- 2 dimensions of 20 values (400 combinations: every group fits Honeycomb's limit): every look's
  verdict must equal the in-process judgement of the same events (slice_runs.look_verdicts), and
  cost one query result.
- 4 dimensions of 20 values with identical versions: more groups than Honeycomb returns, so each
  look must report them (`coverage.truncated`, the events beyond the limit) and cost one result;
  the runs count how often identical versions were failed on what was covered.
- A canary throwing an error type 5 times in the window, which stable never throws: it is named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import yaml

from tests.calibration.over_http import calibration_servers, pinned_body
from tests.calibration.slice_runs import SliceTemplate, look_verdicts
from tests.calibration.slice_traffic import SHARES, SliceTraffic
from tests.calibration.templates import SLICED, TEMPLATES, sliced_for
from tests.calibration.traffic import BASELINE_MEDIAN_MS, SIGMA
from tests.support.servers import DEFAULT_EMULATOR_KEY, Server

DATASET = "slices"
HEADER = (
    "\n| scenario | runs | failed | the seeded slice named | looks | agree | past the group limit "
    "| query results |"
)
PAUSE = 10
SEED = 20_261_222
HASH = "rollouts_pod_template_hash"


@dataclass(frozen=True)
class HttpSliceScenario:
    name: str
    traffic: SliceTraffic
    runs: int
    compare_looks: bool  # every look must agree with the in-process judgement


SCENARIOS = (
    HttpSliceScenario(
        "latency 1.4x in 5 %", SliceTraffic(dimensions=2, seeded_share=0.05, latency_ratio=1.4), 6, True
    ),
    HttpSliceScenario(
        "errors 3x in 5 %, 2 % stable",
        SliceTraffic(dimensions=2, seeded_share=0.05, error_ratio=3, error_rate=0.02),
        6,
        True,
    ),
    HttpSliceScenario(
        "latency 1.4x in 1 %", SliceTraffic(dimensions=2, seeded_share=0.01, latency_ratio=1.4), 6, True
    ),
    HttpSliceScenario(
        "errors 3x in 1 %, 10 % stable",
        SliceTraffic(dimensions=2, seeded_share=0.01, error_ratio=3, error_rate=0.1),
        4,
        True,
    ),
    HttpSliceScenario("identical, 2 x 20", SliceTraffic(dimensions=2), 2, True),
    HttpSliceScenario("identical, 4 x 20", SliceTraffic(), 3, False),
)


def _events(
    traffic: SliceTraffic, canary: bool, minutes: int, start: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    out = []
    for minute in range(minutes):
        n = rng.poisson(traffic.per_minute)
        values = rng.choice(len(SHARES), size=(traffic.dimensions, n), p=SHARES)
        durations = BASELINE_MEDIAN_MS * np.exp(SIGMA * rng.standard_normal(n))
        rate = np.full(n, traffic.error_rate)
        if canary and traffic.seeded_value is not None:
            seeded = values[0] == traffic.seeded_value
            durations = np.where(seeded, durations * traffic.latency_ratio, durations)
            rate = np.where(seeded, rate * traffic.error_ratio, rate)
        failed = rng.random(n) < rate
        # Whole milliseconds, none on a minute's edge: the emulator and the mirror put every event
        # in the same minute (a float a hair below 60 s may be stored as the next minute's 0).
        seconds = np.round(0.001 + rng.random(n) * 59.998, 3)
        for i in range(n):
            data: dict[str, Any] = {"duration_ms": round(float(durations[i]), 4), "error": bool(failed[i])}
            data.update({f"dim{d}": f"v{values[d, i]}" for d in range(traffic.dimensions)})
            out.append({"time": start + minute * 60 + float(seconds[i]), "data": data})
    return out


def _minutes(
    canary: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    traffic: SliceTraffic,
    start: int,
    minutes: int,
) -> Any:
    """The same events summed per minute and slice, as slice_traffic.Minutes (for the mirror)."""
    from tests.calibration.slice_traffic import VALUES, Minutes

    slices = traffic.dimensions * VALUES
    arrays = [np.zeros((2, minutes)) for _ in range(3)] + [np.zeros((2, minutes, slices)) for _ in range(3)]
    for version, events in enumerate((canary, baseline)):
        for e in events:
            m = int((e["time"] - start) // 60)
            d, err = e["data"]["duration_ms"], float(e["data"]["error"])
            for target, amount in ((0, 1.0), (1, d), (2, err)):
                arrays[target][version, m] += amount
            for dim in range(traffic.dimensions):
                index = dim * VALUES + int(e["data"][f"dim{dim}"][1:])
                for target, amount in ((3, 1.0), (4, d), (5, err)):
                    arrays[target][version, m, index] += amount
    return Minutes(*arrays)


def _body(template: SliceTemplate, canary: str, baseline: str, end: int) -> dict[str, Any]:
    document = yaml.safe_load((TEMPLATES / SLICED).read_text())
    body = pinned_body(
        document["spec"]["metrics"][0]["provider"]["web"]["jsonBody"], DATASET, (canary, baseline), end
    )
    body["slices"] = template.spec.model_dump(mode="json", exclude_none=True)
    return body


@dataclass
class Counts:
    runs: int = 0
    failed: int = 0
    named_seeded: int = 0
    looks: int = 0
    agreed: int = 0
    results_created: int = 0
    truncated_looks: int = 0


def _ingest(http: httpx.Client, emulator: Server, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 5000):
        answer = http.post(
            f"{emulator.url}/1/batch/{DATASET}",
            json=events[i : i + 5000],
            headers={"X-Honeycomb-Team": DEFAULT_EMULATOR_KEY},
        )
        answer.raise_for_status()


def _created(http: httpx.Client, emulator: Server) -> int:
    return int(http.get(f"{emulator.url}/_emulator/stats").json()["query_results_created"])


def _run(
    http: httpx.Client, servers: tuple[Server, Server], scenario: HttpSliceScenario, which: tuple[int, int]
) -> Counts:
    emulator, evaluator = servers
    number, run = which
    rng = np.random.default_rng([SEED, number, run])
    template = sliced_for(scenario.traffic.dimensions)
    minutes = PAUSE + template.card.count
    start = (int(time.time()) // 60 - minutes - 30 - 45 * (number * 10 + run)) * 60
    canary_hash, baseline_hash = f"canary-{number}-{run}", f"stable-{number}-{run}"
    canary = _events(scenario.traffic, True, minutes, start, rng)
    baseline = _events(scenario.traffic, False, minutes, start, rng)
    for hash_value, events in ((canary_hash, canary), (baseline_hash, baseline)):
        for e in events:
            e["data"][HASH] = hash_value
        _ingest(http, emulator, events)
    mirror = look_verdicts(template, _minutes(canary, baseline, scenario.traffic, start, minutes), PAUSE)
    counts = Counts(runs=1)
    for look in range(template.card.count):
        end = start + (PAUSE + look) * 60
        before = _created(http, emulator)
        answer = http.post(
            f"{evaluator.url}/v1/evaluate", json=_body(template, canary_hash, baseline_hash, end)
        )
        answer.raise_for_status()
        body = answer.json()
        counts.results_created += _created(http, emulator) - before
        counts.looks += 1
        counts.truncated_looks += bool(body["slices"]["coverage"]["truncated"])
        expected, named = next(mirror)
        counts.agreed += (body["verdict"], body["deciding_slice"] or "") == (expected, named)
        if body["verdict"] in ("high", "low"):
            counts.failed += 1
            seeded = scenario.traffic.seeded_value
            counts.named_seeded += seeded is not None and body["deciding_slice"] == f"dim0=v{seeded}"
            break
    return counts


def _new_error_type_is_named(http: httpx.Client, servers: tuple[Server, Server]) -> bool:
    emulator, evaluator = servers
    end = (int(time.time()) // 60 - 20) * 60
    events = []
    for role in ("canary", "stable"):
        for i in range(600):
            kind = (
                "BrandNewError"
                if role == "canary" and i % 120 == 0
                else ("OldError" if i % 100 == 0 else None)
            )
            data = {
                HASH: f"{role}-new-type",
                "duration_ms": 100.0 + i % 7,
                "error": kind is not None,
                "dim0": "v0",
            }
            if kind is not None:
                data["exception.type"] = kind
            events.append({"time": end - 600 + i, "data": data})
    _ingest(http, emulator, events)
    body = _body(sliced_for(1), "canary-new-type", "stable-new-type", end)
    body["slices"]["errors"] = {"column": "exception.type", "min_count": 5}
    answer = http.post(f"{evaluator.url}/v1/evaluate", json=body).json()
    named = answer["slices"]["new_errors"]
    print(f"over HTTP | a type seen 5 times in the canary, never in stable: named {named}", flush=True)
    return [n["type"] for n in named] == ["BrandNewError"] and named[0]["canary_count"] == 5


def main() -> int:
    started = time.perf_counter()
    failures = 0
    rows: list[str] = []
    with httpx.Client(timeout=60) as http, calibration_servers() as servers:
        failures += not _new_error_type_is_named(http, servers)
        for number, scenario in enumerate(SCENARIOS):
            total = Counts()
            for run in range(scenario.runs):
                one = _run(http, servers, scenario, (number, run))
                for name in vars(total):
                    setattr(total, name, getattr(total, name) + getattr(one, name))
            agreed = (
                f"{total.agreed} agree with the in-process judgement"
                if scenario.compare_looks
                else "not mirrored"
            )
            print(
                f"over HTTP | {scenario.name} | {scenario.traffic.per_minute:g} per minute per version: "
                f"{total.runs} runs, failed {total.failed} (the seeded slice named in {total.named_seeded}); "
                f"{total.looks} looks, {agreed}, {total.truncated_looks} past Honeycomb's group limit "
                f"(reported), {total.results_created} query results",
                flush=True,
            )
            agreed_cell = f"{total.agreed:,}" if scenario.compare_looks else "not mirrored"
            cells = [scenario.name, total.runs, total.failed, total.named_seeded, f"{total.looks:,}"]
            cells += [agreed_cell, f"{total.truncated_looks:,}", f"{total.results_created:,}"]
            rows.append("| " + " | ".join(str(c) for c in cells) + " |")
            failures += total.results_created != total.looks
            failures += scenario.compare_looks and total.agreed != total.looks
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"over HTTP, slices: {time.perf_counter() - started:.0f} s; {'OK' if not failures else 'MISMATCH'}")
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
