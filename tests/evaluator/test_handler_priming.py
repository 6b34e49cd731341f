"""The Lambda handler's import stays light and its SnapStart hooks do the priming.

Each check runs in a fresh interpreter, because what matters is what one import loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Stands in for the module Lambda's runtime provides on SnapStart functions: records the hooks.
FAKE_SNAPSHOT_RESTORE = """
before, after = [], []
def register_before_snapshot(func, *args, **kwargs):
    before.append(func)
def register_after_restore(func, *args, **kwargs):
    after.append(func)
"""

PROBE = """
import json, sys
import honeycomb_evaluator.handler as handler
ON_FIRST_USE = tuple(f"honeycomb_evaluator.{m}" for m in ("sharing.run", "sharing.fusion", "answers"))
NOT_AT_IMPORT = ("boto3", "pydantic.main", "honeycomb_evaluator.models.request", *ON_FIRST_USE)
loaded_at_import = sorted(m for m in NOT_AT_IMPORT if m in sys.modules)
try:
    import snapshot_restore_py as hooks
    before = [f.__qualname__ for f in hooks.before]
    after = [getattr(f, "__qualname__", repr(f)) for f in hooks.after]
    for hook in hooks.before:
        hook()
except ImportError:
    before = after = None
from honeycomb_evaluator.models.request import EvaluateRequest
print(json.dumps({
    "loaded_at_import": loaded_at_import,
    "before": before,
    "after": after,
    "validator": type(EvaluateRequest.__pydantic_validator__).__name__,
    "boto3_loaded": "boto3" in sys.modules,
    "http_client_built": handler._asgi.app.state.service.evaluator.client._client is not None,
    "first_use_loaded": all(m in sys.modules for m in ON_FIRST_USE),
}))
"""


def probe(extra_path: Path | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_LAMBDA"))}
    env |= {"EVALUATOR_ALLOW_ANONYMOUS": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_builds_no_validators_and_loads_no_aws_sdk() -> None:
    result = probe(None)
    assert result["loaded_at_import"] == []
    assert result["before"] is None  # no SnapStart: no hooks, nothing primed
    assert result["boto3_loaded"] is False
    assert result["http_client_built"] is False
    assert result["first_use_loaded"] is False


def test_snapstart_hooks_prime_before_the_snapshot_and_reseed_after_restore(tmp_path: Path) -> None:
    (tmp_path / "snapshot_restore_py.py").write_text(FAKE_SNAPSHOT_RESTORE)
    result = probe(tmp_path)
    assert result["loaded_at_import"] == []
    assert result["before"] == ["prime"]
    assert result["after"] == ["Random.seed"]
    # After the before-snapshot hook ran: validators built, boto3 loaded, HTTP client built.
    assert result["validator"] == "SchemaValidator"
    assert result["boto3_loaded"] is True
    assert result["http_client_built"] is True
    assert result["first_use_loaded"] is True
