"""Where the Honeycomb key comes from, key rotation, and that the key never leaks.

Secrets Manager is moto in server mode (boto3 honours AWS_ENDPOINT_URL, so Powertools
Parameters talks to it unchanged); Honeycomb is the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.keys import FileKeys, NoKeys, StaticKeys, key_source, parse_key_document
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.target import US_API_URL

from tests.evaluator.conftest import (
    NO_RUN_KEY,
    PRIMARY_KEY,
    ROTATED_KEY,
    STABLE_HASH,
    Stack,
    canary_body,
    evaluator_env,
)
from tests.support.servers import Server, aws_env, start_evaluator, start_moto

REVOKED_KEY = "hcrevokedkey9z8y7x6w5v4u3"
ALL_KEYS = (PRIMARY_KEY, ROTATED_KEY, REVOKED_KEY)


def test_a_plain_key_serves_the_default_environment() -> None:
    targets = parse_key_document(f"  {PRIMARY_KEY}\n", None)
    assert list(targets) == ["default"]
    assert targets["default"].api_url == US_API_URL
    assert PRIMARY_KEY not in repr(targets["default"])  # SecretStr, and the field is repr=False


def test_a_json_document_maps_environments_to_keys_and_regions() -> None:
    text = json.dumps(
        {
            "default": {"api_key": PRIMARY_KEY},
            "eu": {"api_key": ROTATED_KEY, "api_url": "https://api.eu1.honeycomb.io/"},
        }
    )
    targets = parse_key_document(text, "http://fallback")
    assert targets["default"].api_url == "http://fallback"
    assert targets["eu"].api_url == "https://api.eu1.honeycomb.io"
    assert targets["eu"].key_id != targets["default"].key_id and len(targets["eu"].key_id) == 12


@pytest.mark.parametrize(
    "text", ['{"default": ' + f'"{PRIMARY_KEY}"' + ", ", '{"default": {"api_url": "x"}}', '{"default": 3}']
)
def test_broken_documents_are_not_configured_and_never_echoed(text: str) -> None:
    with pytest.raises(EvaluatorError) as e:
        parse_key_document(text, None)
    assert e.value.code == "not_configured" and PRIMARY_KEY not in e.value.message


def test_the_source_is_chosen_by_configuration(tmp_path: Path) -> None:
    assert isinstance(key_source(Settings().honeycomb), NoKeys)
    assert isinstance(key_source(Settings.from_env({"HONEYCOMB_API_KEY": "k"}).honeycomb), StaticKeys)
    key_file = tmp_path / "key"
    env = {"HONEYCOMB_API_KEY": "k", "HONEYCOMB_API_KEY_FILE": str(key_file)}
    assert isinstance(key_source(Settings.from_env(env).honeycomb), FileKeys)
    assert (
        type(key_source(Settings.from_env({**env, "HONEYCOMB_SECRET_ID": "s"}).honeycomb)).__name__
        == "SecretsManagerKeys"
    )
    assert PRIMARY_KEY not in repr(Settings.from_env({"HONEYCOMB_API_KEY": PRIMARY_KEY}))


def assert_no_key_in(*texts: str) -> None:
    for text in texts:
        for key in ALL_KEYS:
            assert key not in text


@pytest.mark.servers
def test_a_replaced_key_file_is_picked_up_after_honeycomb_refuses_the_old_key(
    emulator: Server, tmp_path: Path
) -> None:
    key_file = tmp_path / "honeycomb-key"
    key_file.write_text(REVOKED_KEY)
    env = evaluator_env(emulator, HONEYCOMB_API_KEY_FILE=str(key_file))
    with start_evaluator(env) as evaluator:
        stack = Stack(emulator, evaluator)
        refused = stack.evaluate(canary_body(STABLE_HASH))
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "honeycomb_auth"
        key_file.write_text(ROTATED_KEY)
        accepted = stack.evaluate(canary_body(STABLE_HASH))
        assert accepted.status_code == 200, accepted.text
        missing = stack.evaluate({**canary_body(STABLE_HASH), "environment": "eu"})
        # An environment the configuration does not name is the caller's mistake, not ours.
        assert missing.status_code == 422 and missing.json()["error"]["code"] == "invalid_request"
        assert missing.json()["error"]["field"] == "environment"
        assert_no_key_in(evaluator.output(), refused.text, accepted.text, missing.text)


@pytest.mark.servers
def test_a_key_without_permission_to_run_queries_is_honeycomb_auth(emulator: Server) -> None:
    with start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY=NO_RUN_KEY)) as evaluator:
        refused = Stack(emulator, evaluator).evaluate(canary_body(STABLE_HASH))
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "honeycomb_auth"
        assert "403" in refused.json()["error"]["message"]
        assert NO_RUN_KEY not in evaluator.output() + refused.text


@pytest.fixture(scope="module")
def moto() -> Iterator[Server]:
    with start_moto() as server:
        yield server


def secrets_client(moto: Server) -> object:
    env = aws_env(moto.url)
    return boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


@pytest.mark.servers
def test_keys_per_environment_from_secrets_manager(emulator: Server, moto: Server) -> None:
    client = secrets_client(moto)
    document = {
        "default": {"api_key": PRIMARY_KEY, "api_url": emulator.url},
        "staging": {"api_key": ROTATED_KEY, "api_url": emulator.url},
    }
    client.create_secret(Name="honeycomb/by-env", SecretString=json.dumps(document))  # type: ignore[attr-defined]
    env = {**aws_env(moto.url), **evaluator_env(emulator, HONEYCOMB_SECRET_ID="honeycomb/by-env")}
    with start_evaluator(env) as evaluator:
        stack = Stack(emulator, evaluator)
        for environment in ("default", "staging"):
            answer = stack.evaluate({**canary_body(STABLE_HASH), "environment": environment})
            assert answer.status_code == 200, answer.text
        by_key = stack.stats()["by_key"]
        assert (
            by_key["primary"]["query_results_created"] >= 1
            and by_key["rotated"]["query_results_created"] >= 1
        )
        assert_no_key_in(evaluator.output())


@pytest.mark.servers
def test_a_rotated_secret_is_refetched_once_after_a_401(emulator: Server, moto: Server) -> None:
    client = secrets_client(moto)
    client.create_secret(Name="honeycomb/plain", SecretString=REVOKED_KEY)  # type: ignore[attr-defined]
    env = {
        **aws_env(moto.url),
        **evaluator_env(emulator, HONEYCOMB_SECRET_ID="honeycomb/plain", HONEYCOMB_SECRET_MAX_AGE="3600"),
    }
    with start_evaluator(env) as evaluator:
        stack = Stack(emulator, evaluator)
        refused = stack.evaluate(canary_body(STABLE_HASH))
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "honeycomb_auth"
        client.put_secret_value(SecretId="honeycomb/plain", SecretString=ROTATED_KEY)  # type: ignore[attr-defined]
        # The cached (revoked) key is refused, the secret is refetched despite max_age, the call retried.
        accepted = stack.evaluate(canary_body(STABLE_HASH))
        assert accepted.status_code == 200, accepted.text
        assert_no_key_in(evaluator.output(), refused.text, accepted.text)


@pytest.mark.servers
def test_a_missing_secret_is_not_configured(emulator: Server, moto: Server) -> None:
    env = {**aws_env(moto.url), **evaluator_env(emulator, HONEYCOMB_SECRET_ID="honeycomb/absent")}
    with start_evaluator(env) as evaluator:
        answer = httpx.post(f"{evaluator.url}/v1/evaluate", json=canary_body(STABLE_HASH), timeout=30)
        assert answer.status_code == 500 and answer.json()["error"]["code"] == "not_configured"
        assert "honeycomb/absent" in answer.json()["error"]["message"]
