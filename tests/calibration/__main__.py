"""`make calibrate`: whole AnalysisRuns of the shipped templates over the calibration grid.

    python -m tests.calibration            # both grids (about an hour and a half on one core)
    python -m tests.calibration --slices   # only the sliced template's grid
    python -m tests.calibration --quick    # the scenarios make test checks
    python -m tests.calibration --http     # smaller runs through the emulator over HTTP

Prints one line per scenario and the tables for docs/canary-judgement.md, with the seed, the
runs and the run time; `--write` also puts the tables into that page between its markers.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.calibration import slice_grid, slice_report
from tests.calibration.grid import Scenario, identical, quick, regressions
from tests.calibration.report import Result, tables, write_into_docs
from tests.calibration.runs import calibrate
from tests.calibration.slice_runs import calibrate_slices
from tests.calibration.templates import shipped, sliced_for

SEED = 20_261_206
SLICES_SEED = 20_261_221
DOCS = Path(__file__).resolve().parents[2] / "docs" / "canary-judgement.md"


def _one(numbered: tuple[int, Scenario]) -> tuple[Result, float]:
    """One scenario, its seed fixed by its place in the grid (the same with any --workers)."""
    number, scenario = numbered
    started = time.perf_counter()
    tallies = calibrate(shipped(), scenario.traffic, scenario.runs, scenario.stated, SEED + number)
    return Result(scenario, tallies), time.perf_counter() - started


def _one_sliced(numbered: tuple[int, slice_grid.SliceScenario]) -> tuple[slice_report.SliceResult, float]:
    number, scenario = numbered
    started = time.perf_counter()
    template = sliced_for(scenario.traffic.dimensions)
    tally = calibrate_slices(template, scenario.traffic, scenario.runs, SLICES_SEED + number)
    oracle = slice_report.oracle_power(scenario, template)
    return slice_report.SliceResult(scenario, tally, oracle), time.perf_counter() - started


def run(scenarios: list[Any], workers: int = 1, one: Callable[[Any], Any] = _one) -> list[Any]:
    results = []
    with multiprocessing.Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        numbered = enumerate(scenarios)
        mapped = pool.imap(one, numbered) if pool is not None else map(one, numbered)
        for result, seconds in mapped:
            results.append(result)
            print(f"{result.line()}  ({seconds:.1f} s)", flush=True)
    return results


def run_slices(workers: int, quick: bool, write: bool) -> None:
    started = time.perf_counter()
    scenarios = slice_grid.quick() if quick else [*slice_grid.identical(), *slice_grid.regressions()]
    results = run(scenarios, workers, _one_sliced)
    text = slice_report.slice_tables(results, SLICES_SEED, time.perf_counter() - started, sliced_for(4))
    print(text)
    if write:
        write_into_docs(DOCS, text, (slice_report.START, slice_report.END))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.calibration")
    parser.add_argument("--quick", action="store_true", help="only the scenarios make test checks")
    parser.add_argument("--http", action="store_true", help="a smaller run through the emulator over HTTP")
    parser.add_argument("--write", action="store_true", help="write the tables into docs/canary-judgement.md")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1: the machine is shared)")
    parser.add_argument("--slices", action="store_true", help="only the sliced template's grid")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.http:
        from tests.calibration.over_http import main as over_http
        from tests.calibration.over_http_slices import main as over_http_slices

        return over_http() or over_http_slices()
    if args.slices:
        run_slices(args.workers, args.quick, args.write)
        return 0
    scenarios = quick() if args.quick else [*identical(), *regressions()]
    results = run(scenarios, args.workers)
    elapsed = time.perf_counter() - started
    text = tables(results, seed=SEED, seconds=elapsed, workers=args.workers)
    print(text)
    if args.write:
        write_into_docs(DOCS, text)
    run_slices(args.workers, args.quick, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
