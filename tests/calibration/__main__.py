"""`make calibrate`: whole AnalysisRuns of the shipped templates over the calibration grid.

    python -m tests.calibration            # the full grid (about half an hour on one core)
    python -m tests.calibration --quick    # the scenarios make test checks
    python -m tests.calibration --http     # a smaller run through the emulator over HTTP

Prints one line per scenario and the tables for docs/canary-judgement.md, with the seed, the
runs and the run time; `--write` also puts the tables into that page between its markers.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from pathlib import Path

from tests.calibration.grid import Scenario, identical, quick, regressions
from tests.calibration.report import Result, tables, write_into_docs
from tests.calibration.runs import calibrate
from tests.calibration.templates import shipped

SEED = 20_261_206
DOCS = Path(__file__).resolve().parents[2] / "docs" / "canary-judgement.md"


def _one(numbered: tuple[int, Scenario]) -> tuple[Result, float]:
    """One scenario, its seed fixed by its place in the grid (the same with any --workers)."""
    number, scenario = numbered
    started = time.perf_counter()
    tallies = calibrate(shipped(), scenario.traffic, scenario.runs, scenario.stated, SEED + number)
    return Result(scenario, tallies), time.perf_counter() - started


def run(scenarios: list[Scenario], workers: int = 1) -> list[Result]:
    results = []
    with multiprocessing.Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        mapped = (
            pool.imap(_one, enumerate(scenarios)) if pool is not None else map(_one, enumerate(scenarios))
        )
        for result, seconds in mapped:
            results.append(result)
            print(f"{result.line()}  ({seconds:.1f} s)", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.calibration")
    parser.add_argument("--quick", action="store_true", help="only the scenarios make test checks")
    parser.add_argument("--http", action="store_true", help="a smaller run through the emulator over HTTP")
    parser.add_argument("--write", action="store_true", help="write the tables into docs/canary-judgement.md")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1: the machine is shared)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.http:
        from tests.calibration.over_http import main as over_http

        return over_http()
    scenarios = quick() if args.quick else [*identical(), *regressions()]
    results = run(scenarios, args.workers)
    elapsed = time.perf_counter() - started
    text = tables(results, seed=SEED, seconds=elapsed, workers=args.workers)
    print(text)
    if args.write:
        write_into_docs(DOCS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
