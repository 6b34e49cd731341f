"""The Argo Rollouts plugin's Go benchmarks (binary size, RSS at rest, added latency per measurement).

They live beside the plugin in infra/rollouts-plugin (bench_test.go); this wrapper lets `make bench`
run them with the same virtualenv the Go tests use to start the emulator and the evaluator.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    venv_bin = Path(sys.executable).parent
    subprocess.run(
        ["make", "-C", str(ROOT / "infra" / "rollouts-plugin"), "bench", f"EVALUATOR_VENV_BIN={venv_bin}"],
        check=True,
    )


if __name__ == "__main__":
    main()
