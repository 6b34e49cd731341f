"""`make bench`: every tests/bench/bench_*.py module's main(), or those named on the command line.

Each module runs in a process of its own, started with the environment `make bench` was started
with: nothing one module sets (environment variables, imported settings, servers) reaches the
next. A module fails when its main() raises (a benchmark whose traffic did not get the answers
it meant to measure raises instead of printing figures); the run goes on with the next module and
ends with status 1 naming the failures. Each module's lines start with the load average, so the
figures can be read with it. Benchmarks are never run by `make test`.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import tests.bench as bench_package

ROOT = Path(__file__).resolve().parents[2]


def _modules(selected: list[str]) -> list[str]:
    found = pkgutil.iter_modules(bench_package.__path__)
    names = sorted(m.name for m in found if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> int:
    environment = dict(os.environ)  # as make bench was started: the same for every module
    failures = []
    for name in _modules(sys.argv[1:]):
        print(f"\n=== {name} === (load average {_load()})", flush=True)
        started = time.perf_counter()
        code = f"import tests.bench.{name} as bench; bench.main()"
        ran = subprocess.run([sys.executable, "-c", code], env=environment, cwd=ROOT, check=False)
        outcome = "ok" if ran.returncode == 0 else f"FAILED (exit status {ran.returncode})"
        if ran.returncode != 0:
            failures.append(name)
        took = time.perf_counter() - started
        print(f"--- {name}: {took:.1f}s, {outcome}; load average {_load()}", flush=True)
    if failures:
        print(f"\nfailed: {', '.join(failures)}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
