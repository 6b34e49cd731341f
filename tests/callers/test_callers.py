"""Caller registry, identity matching and the authenticator (file and Secrets Manager on moto)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from honeycomb_evaluator.callers.auth import Authenticator, authorize, credentials_from
from honeycomb_evaluator.callers.registry import (
    CallerRegistry,
    Credentials,
    RegistryError,
    hash_token,
    iam_principal_matches,
)
from honeycomb_evaluator.callers.sources import FileRegistrySource, SecretRegistrySource
from honeycomb_evaluator.errors import Forbidden, NotConfigured, Unauthenticated
from honeycomb_evaluator.settings import Settings

from tests.support.servers import aws_env, start_moto

ROLE = "arn:aws:iam::123456789012:role/argo-rollouts"
REGISTRY = {
    "callers": [
        {
            "name": "cluster-a",
            "token_sha256": hash_token("token-a"),
            "datasets": ["checkout", "pay-*"],
            "environments": ["default"],
            "budget_share": 0.5,
        },
        {"name": "cluster-b", "iam_principal": ROLE},
        {"name": "cluster-c", "jwt_client_id": "0oa1b2c3d4"},
    ]
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_token_identifies_its_caller_only() -> None:
    registry = CallerRegistry.from_json(json.dumps(REGISTRY))
    caller = registry.identify(Credentials(bearer_token="token-a"))
    assert caller is not None and caller.name == "cluster-a" and caller.via == "token"
    assert caller.budget_share == 0.5
    assert registry.identify(Credentials(bearer_token="token-b")) is None
    assert registry.identify(Credentials()) is None


def test_datasets_and_environments_are_patterns() -> None:
    caller = CallerRegistry.from_json(json.dumps(REGISTRY)).identify(Credentials(bearer_token="token-a"))
    assert caller is not None
    assert caller.may_query("checkout", "default")
    assert caller.may_query("pay-eu", "default")
    assert not caller.may_query("checkout", "prod")
    assert not caller.may_query("__all__", "default")
    with pytest.raises(Forbidden, match="cluster-a"):
        authorize(caller, "inventory", "default")


@pytest.mark.parametrize(
    ("user_arn", "expected"),
    [
        (ROLE, True),
        ("arn:aws:sts::123456789012:assumed-role/argo-rollouts/eks-pod-1234", True),
        ("arn:aws:sts::123456789012:assumed-role/argo-rollouts-other/s", False),
        ("arn:aws:sts::999999999999:assumed-role/argo-rollouts/s", False),
        ("arn:aws-cn:sts::123456789012:assumed-role/argo-rollouts/s", False),
        ("arn:aws:iam::123456789012:user/argo-rollouts", False),
    ],
)
def test_iam_role_matches_its_sessions(user_arn: str, expected: bool) -> None:
    assert iam_principal_matches(ROLE, user_arn) is expected


def test_role_with_path_matches_assumed_role() -> None:
    with_path = "arn:aws:iam::123456789012:role/platform/argo-rollouts"
    assert iam_principal_matches(with_path, "arn:aws:sts::123456789012:assumed-role/argo-rollouts/s")


def test_credentials_from_function_url_iam_and_http_api_jwt() -> None:
    iam_event = {"requestContext": {"authorizer": {"iam": {"userArn": ROLE + "x", "callerId": "AROA:s"}}}}
    creds = credentials_from({"authorization": "AWS4-HMAC-SHA256 Credential=..."}, iam_event)
    assert creds.iam_user_arn == ROLE + "x" and creds.bearer_token is None
    jwt_event = {
        "requestContext": {"authorizer": {"jwt": {"claims": {"client_id": "0oa1b2c3d4"}, "scopes": None}}}
    }
    creds = credentials_from({}, jwt_event)
    caller = CallerRegistry.from_json(json.dumps(REGISTRY)).identify(creds)
    assert caller is not None and caller.name == "cluster-c" and caller.via == "jwt"
    assert credentials_from({"authorization": "Bearer  t0k "}, None).bearer_token == "t0k"
    assert credentials_from({"authorization": "Basic abc"}, None).bearer_token is None


def test_iam_event_identifies_the_role_caller() -> None:
    event = {
        "requestContext": {
            "authorizer": {"iam": {"userArn": "arn:aws:sts::123456789012:assumed-role/argo-rollouts/x"}}
        }
    }
    caller = CallerRegistry.from_json(json.dumps(REGISTRY)).identify(credentials_from({}, event))
    assert caller is not None and caller.name == "cluster-b" and caller.via == "iam"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"callers": [{"name": "x"}]}, "callers.0"),
        ({"callers": [{"name": "x", "token_sha256": "abc"}]}, "callers.0.token_sha256"),
        ({"callers": [{"name": "x", "jwt_client_id": "a", "budget_share": 2}]}, "callers.0.budget_share"),
        ({"callers": [{"name": "x", "jwt_client_id": "a", "extra": 1}]}, "callers.0.extra"),
        ({"callers": [{"name": "a b", "jwt_client_id": "a"}]}, "callers.0.name"),
        (
            {"callers": [{"name": "x", "jwt_client_id": "a"}, {"name": "x", "jwt_client_id": "b"}]},
            "duplicate name",
        ),
    ],
)
def test_invalid_registry_names_the_problem(document: dict[str, Any], field: str) -> None:
    with pytest.raises(RegistryError, match=field):
        CallerRegistry.from_json(json.dumps(document))


def test_duplicate_token_error_hides_the_digest() -> None:
    digest = hash_token("same")
    document = {"callers": [{"name": "a", "token_sha256": digest}, {"name": "b", "token_sha256": digest}]}
    with pytest.raises(RegistryError) as raised:
        CallerRegistry.from_json(json.dumps(document))
    assert digest not in str(raised.value)


def test_authenticator_from_file_reloads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "callers.json"
    path.write_text(json.dumps(REGISTRY))
    auth = Authenticator(FileRegistrySource(path))
    assert run(auth.authenticate(Credentials(bearer_token="token-a"))).name == "cluster-a"
    with pytest.raises(Unauthenticated, match="unknown caller"):
        run(auth.authenticate(Credentials(bearer_token="token-new")))
    with pytest.raises(Unauthenticated, match="missing credentials"):
        run(auth.authenticate(Credentials()))
    added = {
        "callers": [*REGISTRY["callers"], {"name": "cluster-new", "token_sha256": hash_token("token-new")}]
    }
    path.write_text(json.dumps(added))
    os.utime(path, (1, 1))  # a distinct mtime even on coarse file systems
    assert run(auth.authenticate(Credentials(bearer_token="token-new"))).name == "cluster-new"
    path.write_text("{broken")
    os.utime(path, (2, 2))
    # A broken edit keeps the last good registry instead of locking everybody out.
    assert run(auth.authenticate(Credentials(bearer_token="token-new"))).name == "cluster-new"


def test_a_registry_mounted_from_a_configmap_follows_its_symlink_swap(tmp_path: Path) -> None:
    """The kubelet updates a mounted ConfigMap by pointing `..data` at a new directory; the new
    registry may have the same size and time as the old one (files.py)."""
    one = {"callers": [{"name": "cluster-a", "token_sha256": hash_token("token-a")}]}
    two = {"callers": [{"name": "cluster-b", "token_sha256": hash_token("token-b")}]}
    for name, document in (("..2026_a", one), ("..2026_b", two)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "callers.json").write_text(json.dumps(document))
        os.utime(tmp_path / name / "callers.json", (1000, 1000))
    (tmp_path / "..data").symlink_to("..2026_a")
    (tmp_path / "callers.json").symlink_to("..data/callers.json")
    auth = Authenticator(FileRegistrySource(tmp_path / "callers.json"))
    assert run(auth.authenticate(Credentials(bearer_token="token-a"))).name == "cluster-a"
    (tmp_path / "..data_tmp").symlink_to("..2026_b")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    assert run(auth.authenticate(Credentials(bearer_token="token-b"))).name == "cluster-b"


def test_missing_registry_file_is_not_configured(tmp_path: Path) -> None:
    auth = Authenticator(FileRegistrySource(tmp_path / "missing.json"))
    with pytest.raises(NotConfigured):
        run(auth.authenticate(Credentials(bearer_token="t")))


def test_anonymous_only_when_enabled(tmp_path: Path) -> None:
    with pytest.raises(Unauthenticated, match="no caller registry"):
        run(Authenticator.from_settings(Settings.from_env({}).callers).authenticate(Credentials()))
    anonymous = Authenticator.from_settings(Settings.from_env({"EVALUATOR_ALLOW_ANONYMOUS": "true"}).callers)
    assert run(anonymous.authenticate(Credentials())).name == "anonymous"
    path = tmp_path / "callers.json"
    path.write_text(json.dumps(REGISTRY))
    both = Authenticator.from_settings(
        Settings.from_env({"EVALUATOR_ALLOW_ANONYMOUS": "true", "EVALUATOR_CALLERS_FILE": str(path)}).callers
    )
    assert run(both.authenticate(Credentials())).name == "anonymous"
    assert run(both.authenticate(Credentials(bearer_token="token-a"))).name == "cluster-a"
    with pytest.raises(Unauthenticated):
        run(both.authenticate(Credentials(bearer_token="wrong")))


@pytest.fixture(scope="module")
def moto_env() -> Iterator[dict[str, str]]:
    with start_moto() as moto:
        yield aws_env(moto.url)


def _secrets_client(env: dict[str, str]) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.servers
def test_registry_from_secrets_manager_refreshes_after_a_miss(moto_env: dict[str, str]) -> None:
    client = _secrets_client(moto_env)
    client.create_secret(Name="callers-refresh", SecretString=json.dumps(REGISTRY))
    now = [1000.0]
    source = SecretRegistrySource(
        "callers-refresh",
        max_age_seconds=300,
        miss_refresh_seconds=30,
        client_factory=lambda: client,
        clock=lambda: now[0],
    )
    auth = Authenticator(source)
    assert run(auth.authenticate(Credentials(bearer_token="token-a"))).name == "cluster-a"
    added = {"callers": [*REGISTRY["callers"], {"name": "cluster-d", "token_sha256": hash_token("token-d")}]}
    client.put_secret_value(SecretId="callers-refresh", SecretString=json.dumps(added))
    with pytest.raises(Unauthenticated):  # the copy is younger than miss_refresh_seconds
        run(auth.authenticate(Credentials(bearer_token="token-d")))
    now[0] += 31
    assert run(auth.authenticate(Credentials(bearer_token="token-d"))).name == "cluster-d"


@pytest.mark.servers
def test_missing_secret_is_not_configured(moto_env: dict[str, str]) -> None:
    client = _secrets_client(moto_env)
    auth = Authenticator(SecretRegistrySource("no-such-secret", client_factory=lambda: client))
    with pytest.raises(NotConfigured, match="ResourceNotFoundException"):
        run(auth.authenticate(Credentials(bearer_token="t")))


def test_cli_hash_token_matches_the_registry_digest() -> None:
    import subprocess

    from tests.support.servers import VENV_BIN

    out = subprocess.run(
        [str(VENV_BIN / "honeycomb-evaluator"), "hash-token", "s3cret"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == hash_token("s3cret")
