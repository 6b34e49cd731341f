"""The console script's one-shot mode and the app's last-resort error handling."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_evaluator.app import create_app
from honeycomb_evaluator.openapi import openapi_document
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.sharing.execution import ExecutionRequest
from openapi_spec_validator import validate

from tests.evaluator.conftest import BAD_CANARY_HASH, PRIMARY_KEY, canary_body, evaluator_env
from tests.support.servers import VENV_BIN, Server

REPO = Path(__file__).resolve().parents[2]
CLI = str(VENV_BIN / "honeycomb-evaluator")


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.servers
def test_evaluate_one_request_file(emulator: Server, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(canary_body(BAD_CANARY_HASH, "error_rate")))
    env = evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY)
    done = run_cli("evaluate", str(request), env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert 0.04 < answer["value"] < 0.12
    assert PRIMARY_KEY not in done.stdout + done.stderr

    request.write_text(json.dumps({"dataset": "checkout", "query": {"calculations": [{"op": "NOPE"}]}}))
    refused = run_cli("evaluate", str(request), env=env)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["field"] == "query.calculations.0.op"

    from_stdin = run_cli("evaluate", "-", env=env, stdin="{oops")
    assert from_stdin.returncode == 2 and "malformed_json" in from_stdin.stderr


def test_hash_token_and_openapi_commands() -> None:
    assert run_cli("hash-token", "s3cret").stdout.strip() == hashlib.sha256(b"s3cret").hexdigest()
    printed = json.loads(run_cli("openapi").stdout)
    assert printed == openapi_document()


def test_committed_openapi_document_is_in_sync() -> None:
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), "regenerate: honeycomb-evaluator openapi > docs/openapi.json"
    assert set(committed["components"]["schemas"]) >= {"EvaluateRequest", "EvaluateResponse", "ErrorResponse"}
    validate(committed)  # a valid OpenAPI 3.1 document


@pytest.mark.anyio
async def test_a_bug_is_a_json_500_never_a_bare_one() -> None:
    app = create_app(
        Settings.from_env({"HONEYCOMB_API_KEY": PRIMARY_KEY, "EVALUATOR_ALLOW_ANONYMOUS": "true"})
    )

    async def broken_execute(request: ExecutionRequest) -> Any:
        raise RuntimeError(f"bug holding {request.target.api_key}")

    app.state.service.evaluator.executor.execute = broken_execute
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://evaluator"
    ) as client:
        answer = await client.post("/v1/evaluate", json=canary_body(BAD_CANARY_HASH))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert PRIMARY_KEY not in answer.text and "RuntimeError" not in answer.text


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
