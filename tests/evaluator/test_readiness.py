"""GET /readyz: ready only when the Honeycomb key is readable and the state store answers;
/healthz (liveness) stays 200 all the same."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.evaluator.conftest import Stack, evaluator_env
from tests.support.servers import Server, free_port, start_evaluator

pytestmark = pytest.mark.servers


def test_readyz_is_ready_only_when_the_key_is_readable_and_the_store_answers(
    stack: Stack, emulator: Server, tmp_path: Path
) -> None:
    ready = httpx.get(stack.evaluator.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"honeycomb_key": "ok", "state_store": "ok"}}
    broken = evaluator_env(
        emulator,
        HONEYCOMB_API_KEY_FILE=str(tmp_path / "no-such-key"),
        EVALUATOR_STATE_BACKEND="redis",
        EVALUATOR_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    with start_evaluator(broken) as evaluator:
        assert httpx.get(evaluator.url + "/healthz", timeout=10).status_code == 200  # alive all the same
        answer = httpx.get(evaluator.url + "/readyz", timeout=10)
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "not_ready"
        assert "honeycomb_key not_configured" in error["message"]
        assert "state_store upstream_error: shared state (Redis ping" in error["message"]
