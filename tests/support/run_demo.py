"""`make run`: the emulator with demo data and the evaluator, one real evaluation, a curl command.

    python tests/support/run_demo.py [--once] [--serve]

Starts `honeycomb-emulator --demo` and `honeycomb-evaluator serve` as subprocesses (ports 8081
and 8080 when free, otherwise free ones), evaluates the demo canaries (stable vs the bad
canary), judges each canary against stable with the canary-vs-stable AnalysisTemplate of
infra/argo-rollouts (and says what Argo would decide), judges two of them slice by slice with
the slices template (where a canary regressed, new error types), prints a ready curl command and keeps
both servers running until Ctrl-C.

With HONEYCOMB_API_KEY set it starts no emulator: the evaluator talks to Honeycomb
(HONEYCOMB_API_URL, default US) and the demo queries DEMO_DATASET (default `checkout`).

Without a terminal (CI, pipes) it stops after printing instead of serving forever; `--once`
forces that, `--serve` forces serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from honeycomb_emulator.demo import DEMO_HASHES

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.servers import DEFAULT_EMULATOR_KEY, VENV_BIN, Server, free_port, start_process

CANARIES = [
    ("stable", "v1.4.2", DEMO_HASHES["stable"]),
    ("bad canary", "v1.5.0", DEMO_HASHES["bad"]),
    ("good canary", "v1.5.1", DEMO_HASHES["good"]),
    ("no traffic", "-", DEMO_HASHES["none"]),
]


def port_or_free(preferred: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


REPO = Path(__file__).resolve().parents[2]
STABLE_HASH = CANARIES[0][2]
# The canary-vs-stable scorecard template (its jsonBody is what Argo sends) and what Argo does
# with a look's verdict: successCondition `result == "pass"` ends the run Successful at once
# (consecutiveSuccessLimit 1), failureCondition `result == "high"` fails it; anything else is an
# Inconclusive look, and the run goes on (up to 15 looks, then Inconclusive: the Rollout pauses).
JUDGED_TEMPLATE = "analysistemplate-canary-vs-stable.yaml"
ARGO_PHASE = {
    "pass": "Successful",
    "high": "Failed",
    "low": "Inconclusive look",
    "inconclusive": "Inconclusive look (the run goes on)",
    "nodata": "Inconclusive look (the run goes on)",
}

ERROR_RATE = "AVG(is_error)"
P99 = "P99(duration_ms)"


def canary_request(dataset: str, calculation: str, pod_hash: str) -> dict[str, Any]:
    """One query for every version (so one Honeycomb run serves them all), one selected number."""
    return {
        "dataset": dataset,
        "query": {
            "calculations": [{"op": "AVG", "column": "is_error"}, {"op": "P99", "column": "duration_ms"}],
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
            "breakdowns": ["rollouts_pod_template_hash"],
            "time_range": 600,
        },
        "select": {"calculation": calculation, "match": {"rollouts_pod_template_hash": pod_hash}},
        # Reuse the result for a minute: the Query Data API allows only 10 query runs per minute.
        "max_age_seconds": 60,
    }


@contextlib.contextmanager
def servers(real_honeycomb: bool) -> Iterator[tuple[Server | None, Server]]:
    env = {"EVALUATOR_ALLOW_ANONYMOUS": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with contextlib.ExitStack() as stack:
        emulator: Server | None = None
        if not real_honeycomb:
            port = port_or_free(8081)
            argv = [
                str(VENV_BIN / "honeycomb-emulator"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--demo",
            ]
            emulator = stack.enter_context(start_process(argv, port, "/_emulator/health", timeout=60))
            env |= {"HONEYCOMB_API_KEY": DEFAULT_EMULATOR_KEY, "HONEYCOMB_API_URL": emulator.url}
        port = port_or_free(8080)
        argv = [str(VENV_BIN / "honeycomb-evaluator"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        evaluator = stack.enter_context(start_process(argv, port, "/healthz", env=env))
        yield emulator, evaluator


def show(label: str, answer: httpx.Response, unit: str) -> None:
    body = answer.json()
    if answer.status_code != 200:
        print(
            f"  {label:<12} HTTP {answer.status_code} {body.get('error', {}).get('code')}: "
            f"{body.get('error', {}).get('message')}"
        )
        return
    value = body["value"]
    shown = "null (no data)" if value is None else (f"{value:.2%}" if unit == "%" else f"{value:,.0f} ms")
    print(f"  {label:<22} {shown:<16} {'cached' if body['cached'] else 'ran'} in {body['elapsed_ms']:.0f} ms")


def evaluate(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """POST one evaluation; when the key's query budget is spent, wait as told and ask once more.

    The demo needs 6 of the key's 10 query runs a minute, 7 when it starts just before a minute
    boundary (its first query is then asked again in the new window), and a comparison with company
    leaves 3 tokens free for the rest of a fleet: that run's last comparison is told to come back.
    """
    answer = client.post("/v1/evaluate", json=body)
    wait = answer.json().get("error", {}).get("retry_after_seconds") if answer.status_code == 503 else None
    if wait is None:
        return answer
    spent = "the key's 10 query runs a minute are spent"
    print(f"\n  ({spent}: waiting {wait:.0f} s, as Argo's next look would)")
    time.sleep(wait)
    return client.post("/v1/evaluate", json=body)


def demo(evaluator: Server, dataset: str) -> None:
    with httpx.Client(base_url=evaluator.url, timeout=30) as client:
        print("\nLast 10 minutes, per rollouts_pod_template_hash (one Honeycomb query, cached for 60 s):")
        for calculation, unit in ((ERROR_RATE, "%"), (P99, "ms")):
            print(f"\n{calculation}:")
            for label, version, pod_hash in CANARIES:
                answer = evaluate(client, canary_request(dataset, calculation, pod_hash))
                show(f"{label} ({version})", answer, unit)


def judged_request(template_file: str, dataset: str, canary_hash: str) -> dict[str, Any]:
    """The template's jsonBody with the args Argo would fill in (Latest and Stable pod template hashes)."""
    text = (REPO / "infra" / "argo-rollouts" / template_file).read_text()
    for arg, value in (("canary-hash", canary_hash), ("stable-hash", STABLE_HASH), ("dataset", dataset)):
        text = text.replace(f"{{{{args.{arg}}}}}", value)
    body: dict[str, Any] = yaml.safe_load(text)["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]
    return body


def judgement_demo(evaluator: Server, dataset: str) -> None:
    print("\nEach canary against stable (one Honeycomb query per comparison, judged by the evaluator):")
    with httpx.Client(base_url=evaluator.url, timeout=30) as client:
        for label, version, pod_hash in CANARIES[1:]:
            print(f"\n{label} ({version}) vs stable:")
            answer = evaluate(client, judged_request(JUDGED_TEMPLATE, dataset, pod_hash))
            body = answer.json()
            if answer.status_code != 200:
                print(f"  HTTP {answer.status_code}: {body.get('error', {}).get('message')}")
                continue
            phase = ARGO_PHASE[body["verdict"]]
            print(f"  {body['verdict']:<12} → Argo: {phase} (decided by {body['deciding_metric']})")
            for metric in body["metrics"]:
                low, high = metric["ratio_ci"] or [None, None]
                shown = "no estimate yet"
                if metric["estimate"] is not None:
                    upper = "∞" if high is None else f"{high:.2f}"
                    shown = f"{metric['estimate']:.2f}x, CI {low or 0:.2f}-{upper}"
                print(f"  {metric['name']:<12} {metric['verdict']:<12} {shown}")
                print(f"  {'':<12} {metric['reason']}")


# The slices template (a background analysis: it only ever fails a canary) and the canaries whose
# slices it is there for: one regressed in one slice, one throwing a new error type. (Two, with the
# queries above, stay within the key's 10 runs a minute but for the minute-boundary case `evaluate`
# waits out: a comparison of a family others were asked of runs only while 3 tokens stay free.)
SLICED_TEMPLATE = "analysistemplate-canary-slices.yaml"
SLICED_CANARIES = [
    ("slice-regressed canary", "v1.5.2", DEMO_HASHES["slice"]),
    ("new-exception canary", "v1.5.3", DEMO_HASHES["new_exception"]),
]


def slices_demo(evaluator: Server, dataset: str) -> None:
    print("\nWhere the canary regressed: each canary against stable per route, plan and route x plan")
    print("(the slices template, a background analysis that can only fail a canary; one query each):")
    with httpx.Client(base_url=evaluator.url, timeout=30) as client:
        for label, version, pod_hash in SLICED_CANARIES:
            answer = evaluate(client, judged_request(SLICED_TEMPLATE, dataset, pod_hash))
            body = answer.json()
            print(f"\n{label} ({version}) vs stable:")
            if answer.status_code != 200:
                print(f"  HTTP {answer.status_code}: {body.get('error', {}).get('message')}")
                continue
            phase = "Failed" if body["verdict"] in ("high", "low") else "Successful look"
            block = body["slices"]
            print(
                f"  {body['verdict']:<12} → Argo: {phase}; {block['judged']} slices judged, "
                f"{block['regressed']} regressed (q = {block['significance']:g})"
            )
            if body["deciding_slice"]:
                print(f"  {body['reason']}")
            for entry in block["top"][:3]:
                low, high = entry["ratio_ci"]
                estimate = "unbounded" if entry["estimate"] is None else f"{entry['estimate']:.2f}x"
                interval = f"CI {low or 0:.2f}-{'∞' if high is None else f'{high:.2f}'}"
                counts = f"{entry['canary']['count']:,} vs {entry['baseline']['count']:,} events"
                print(
                    f"  {entry['label']:<44} {entry['metric']:<8} {entry['verdict']:<12} {estimate}, "
                    f"{interval}, {counts}, q={entry['q_value']:.2g}"
                )
            for named in block["new_errors"]:
                print(
                    f"  new error type {named['type']}: {named['canary_count']:,.0f} in the canary, "
                    f"{named['baseline_count']:,.0f} in stable ({named['verdict']})"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--once", action="store_true", help="stop after the demo evaluations")
    parser.add_argument("--serve", action="store_true", help="keep serving even without a terminal")
    args = parser.parse_args()
    real = bool(os.environ.get("HONEYCOMB_API_KEY"))
    dataset = os.environ.get("DEMO_DATASET", "checkout")
    keep_serving = args.serve or (not args.once and sys.stdin.isatty() and sys.stdout.isatty())

    with servers(real) as (emulator, evaluator):
        source = "Honeycomb" if real else f"the emulator at {emulator.url if emulator else ''} (demo data)"
        print(f"Evaluator at {evaluator.url}, querying {source}.")
        demo(evaluator, dataset)
        judgement_demo(evaluator, dataset)
        slices_demo(evaluator, dataset)
        request = canary_request(dataset, ERROR_RATE, CANARIES[1][2])
        with httpx.Client(base_url=evaluator.url, timeout=30) as client:
            answer = evaluate(client, request).json()
        print("\nOne full answer (the bad canary's error rate); an Argo web metric reads {$.value}:")
        print(json.dumps(answer, indent=2))
        body = json.dumps(request, separators=(",", ":"))
        print("\nTry it yourself:")
        print(
            f"  curl -s -X POST {evaluator.url}/v1/evaluate -H 'Content-Type: application/json' \\\n"
            f"    -d {shlex.quote(body)}"
        )
        if not keep_serving:
            print("\n(no terminal or --once: stopping the servers)")
            return 0
        print("\nServing until Ctrl-C.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print("\nstopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
