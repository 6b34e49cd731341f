"""The SLO gate and the Honeycomb key: a replaced key is picked up, a key without SLO access is
honeycomb_auth, and the key never appears in answers or logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.evaluator.conftest import NO_RUN_KEY, PRIMARY_KEY, ROTATED_KEY, emulator_flags, evaluator_env
from tests.support.servers import Server, start_emulator, start_evaluator

pytestmark = pytest.mark.servers

DEMO_SLOS = Path(__file__).resolve().parents[1] / "support" / "demo_slos.yaml"
REVOKED_KEY = "hcrevokedkey9z8y7x6w5v4u3"
BODY = {"dataset": "checkout", "slo_id": "StableAvail"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Server]:
    with start_emulator(*emulator_flags(), "--slos", str(DEMO_SLOS)) as server:
        yield server


def ask(evaluator: Server) -> httpx.Response:
    return httpx.post(f"{evaluator.url}/v1/slo", json=BODY, timeout=30)


def test_a_replaced_key_file_is_picked_up_after_honeycomb_refuses_the_old_key(
    emulator: Server, tmp_path: Path
) -> None:
    key_file = tmp_path / "honeycomb-key"
    key_file.write_text(REVOKED_KEY)
    with start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY_FILE=str(key_file))) as evaluator:
        refused = ask(evaluator)
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "honeycomb_auth"
        key_file.write_text(ROTATED_KEY)
        accepted = ask(evaluator)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["slo"]["id"] == "StableAvail"
        everything = evaluator.output() + refused.text + accepted.text
        assert all(key not in everything for key in (REVOKED_KEY, ROTATED_KEY, PRIMARY_KEY))


def test_a_key_without_slo_access_is_honeycomb_auth(emulator: Server) -> None:
    with start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY=NO_RUN_KEY)) as evaluator:
        refused = ask(evaluator)
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "honeycomb_auth"
        assert "403" in refused.json()["error"]["message"]
        assert NO_RUN_KEY not in evaluator.output() + refused.text
