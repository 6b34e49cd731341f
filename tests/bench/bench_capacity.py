"""Fleet capacity (issues 12, 21, 24): 100 and 1,000 canaries x 2 metrics on one key, real-time minutes.

Each run is tests/sharing/capacity.py's simulation: 20 clusters, each canary checking an error
rate and a P99 of its own pod-template hash once a minute for 3 minutes (the first is the fleet's
start), against the emulator at 10 creations in any 60 s: 100 canaries through 4 evaluators on
DynamoDB (moto), 1,000 through one evaluator on the memory backend, 4 on DynamoDB and 4 on Redis;
then 100 canaries each asking the slices template's comparison (hash x route x plan) once a
minute, on DynamoDB. A run in which a check of any minute was not answered (a value or null; a
sliced fleet's from its third minute), a minute took more than 10 runs or Honeycomb answered 429
fails the benchmark. `make bench` runs it with the others; `.venv/bin/python -m tests.bench
capacity` alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.sharing.capacity import Plan, simulate

RUNS = (
    Plan(100, "dynamodb"),
    Plan(1000, "memory"),
    Plan(1000, "dynamodb"),
    Plan(1000, "redis"),
    Plan(100, "dynamodb", sliced=True),
)


def main() -> None:
    problems = []
    for plan in RUNS:
        with tempfile.TemporaryDirectory() as workdir:
            report = simulate(Path(workdir), plan)
        print("\n".join(report.lines()), flush=True)
        runs = [m.runs for m in report.minutes]
        print(
            f"  every minute: answered {min(m.answered for m in report.minutes)}+ of "
            f"{plan.checks_per_canary * plan.canaries}, runs/min {runs}, "
            f"upstream 429 {sum(m.honeycomb_429 for m in report.minutes)}",
            flush=True,
        )
        name = f"{plan.canaries}{' sliced' if plan.sliced else ''} on {plan.backend}"
        problems += [f"{name}: {p}" for p in report.problems()]
    if problems:
        raise RuntimeError("the fleet did not get the answers it was meant to: " + "; ".join(problems))


if __name__ == "__main__":
    main()
