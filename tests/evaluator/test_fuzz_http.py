"""schemathesis against `honeycomb-evaluator serve`'s own /openapi.json, every check, fixed seed.

Zero server errors, and every answer (4xx included) what the document says: the JSON error
body, the documented status codes, `Allow` on 405. `make test` runs the fuzzing phase with 200
examples per operation (under a minute); `make fuzz` runs every phase with FUZZ_EXAMPLES=1000.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.evaluator.conftest import PRIMARY_KEY, emulator_flags, evaluator_env
from tests.support.servers import VENV_BIN, start_emulator, start_evaluator

pytestmark = pytest.mark.servers

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "200")
# The coverage phase (boundary values of every field, ~35 s here) runs in `make fuzz`.
PHASES = os.environ.get("FUZZ_PHASES", "fuzzing")
CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"
SEED = "14"


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path) -> None:
    # Honeycomb answers at once and never rate-limits here: a 5xx can only be the evaluator's.
    with start_emulator(*emulator_flags(result_delay_ms=0)) as emulator:
        env = evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY, EVALUATOR_RATE_LIMIT_PER_MINUTE="10000")
        with start_evaluator(env) as evaluator:
            run = subprocess.run(
                [
                    str(VENV_BIN / "st"),
                    "--config-file",
                    str(CONFIG),
                    "--no-color",
                    "run",
                    f"{evaluator.url}/openapi.json",
                    "--checks",
                    "all",
                    "--max-examples",
                    EXAMPLES,
                    "--phases",
                    PHASES,
                    "--seed",
                    SEED,
                    "--generation-database",
                    "none",
                    "--workers",
                    "2",
                    "--request-timeout",
                    "30",
                ],
                capture_output=True,
                text=True,
                timeout=1800,
                cwd=tmp_path,
            )
            log = evaluator.output()
    summary = run.stdout[-4000:]
    assert run.returncode == 0, f"{run.stdout[-20000:]}\n{run.stderr[-3000:]}"
    assert "Traceback" not in log, log[-5000:]
    print(summary)
