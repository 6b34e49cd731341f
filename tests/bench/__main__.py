"""`make bench`: run every tests/bench/bench_*.py module's main(), or those named on the command line.

Benchmarks print their figures; docs/performance.md records them. They are never run by `make test`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import tests.bench as bench_package


def _modules(selected: list[str]) -> list[str]:
    found = pkgutil.iter_modules(bench_package.__path__)
    names = sorted(m.name for m in found if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def main() -> int:
    failures = 0
    for name in _modules(sys.argv[1:]):
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"tests.bench.{name}").main()
        except Exception:
            failures += 1
            traceback.print_exc()
        print(f"--- {name}: {time.perf_counter() - started:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
