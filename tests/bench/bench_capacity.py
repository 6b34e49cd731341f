"""Fleet capacity (issue 12): N = 10, 50, 100, 200 canaries on one key; figures for docs/performance.md.

Each N runs tests/sharing/capacity.py's simulation: 20 clusters, 4 evaluators on one DynamoDB
table (moto), each canary checking an error rate and a P99 of its own pod-template hash once a
(compressed, 30 s) minute, for 4 minutes, against the emulator at 10 creations a minute; then
100 canaries each asking the slices template's comparison (hash x route x plan) once a minute.
`make bench` runs it with the others; `.venv/bin/python -m tests.bench capacity` alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.sharing.capacity import Plan, simulate

FLEET_SIZES = (10, 50, 100, 200)


def main() -> None:
    fleets = [(n, False) for n in FLEET_SIZES] + [(100, True)]  # and 100 sliced comparisons
    for canaries, sliced in fleets:
        with tempfile.TemporaryDirectory() as workdir:
            report = simulate(Path(workdir), Plan(canaries=canaries, minutes=4, sliced=sliced))
        print("\n".join(report.lines()), flush=True)
        warm = report.steady()
        asked = sum(m.asked for m in warm)
        print(
            f"  after the first minute: asked {asked}, with a value {sum(m.valued for m in warm)}, "
            f"503 {sum(m.refused for m in warm)}, runs/min max {max(m.runs for m in warm)}, "
            f"upstream 429 {sum(m.honeycomb_429 for m in report.minutes)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
