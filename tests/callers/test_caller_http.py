"""Caller identity through the real app: `honeycomb-evaluator serve` over HTTP, Lambda events via Mangum."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.app import create_app
from honeycomb_evaluator.callers.registry import hash_token
from honeycomb_evaluator.settings import Settings
from mangum import Mangum

from tests.support.evaluations import pinned
from tests.support.servers import Server, start_emulator, start_evaluator

ROLE = "arn:aws:iam::123456789012:role/argo-rollouts"
REGISTRY = {
    "callers": [
        {"name": "cluster-a", "token_sha256": hash_token("token-a"), "datasets": ["checkout"]},
        {"name": "cluster-b", "iam_principal": ROLE, "datasets": ["checkout"], "environments": ["default"]},
        {"name": "cluster-c", "jwt_client_id": "0oa1b2c3d4", "datasets": ["checkout"]},
    ]
}
BODY = {
    "dataset": "checkout",
    "query": {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["bad"]}],
        "time_range": 600,
    },
    "max_age_seconds": 60,
}


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("callers") / "callers.json"
    path.write_text(json.dumps(REGISTRY))
    return path


@pytest.fixture(scope="module")
def servers(registry_file: Path) -> Iterator[tuple[Server, Server]]:
    with start_emulator("--demo", "--result-delay-ms", "100") as emulator:
        env = {
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_CALLERS_FILE": str(registry_file),
        }
        with start_evaluator(env) as evaluator:
            yield emulator, evaluator


def post(server: Server, body: Any, token: str | None = None, path: str = "/v1/evaluate") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=content, headers=headers, timeout=30)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.mark.servers
def test_no_or_wrong_token_is_401(servers: tuple[Server, Server]) -> None:
    _, evaluator = servers
    for token in (None, "wrong-token"):
        answer = post(evaluator, BODY, token)
        assert answer.status_code == 401 and error_code(answer) == "unauthenticated"
    # Who are you comes first: a stranger learns nothing about the request's validity.
    assert post(evaluator, b"{not json", "wrong").status_code == 401


@pytest.mark.servers
def test_known_token_evaluates_and_is_limited_to_its_datasets(servers: tuple[Server, Server]) -> None:
    _, evaluator = servers
    body = pinned(BODY)  # the OAuth call below must ask for the very same window
    answer = post(evaluator, body, "token-a")
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] > 500
    forbidden = post(evaluator, {**body, "dataset": "inventory"}, "token-a")
    assert forbidden.status_code == 403 and error_code(forbidden) == "forbidden"
    assert forbidden.json()["error"]["field"] == "dataset"
    oauth = post(evaluator, body, "token-a", path="/oauth/v1/evaluate")
    assert oauth.status_code == 200 and oauth.json()["cached"] is True


@pytest.mark.servers
def test_caller_name_is_logged_and_measured(servers: tuple[Server, Server]) -> None:
    _, evaluator = servers
    assert post(evaluator, BODY, "token-a").status_code == 200
    lines = [json.loads(line) for line in evaluator.output().splitlines() if line.startswith("{")]
    assert any(line.get("message") == "evaluation" and line.get("caller") == "cluster-a" for line in lines)
    emf = [line for line in lines if "CallerEvaluations" in line]
    assert any(line["caller"] == "cluster-a" for line in emf)
    assert all("token-a" not in json.dumps(line) for line in lines)


# -- Lambda events through Mangum: IAM (Function URL) and JWT (HTTP API) callers --------------


def lambda_event(path: str, authorizer: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "example.lambda-url.us-east-1.on.aws"},
        "requestContext": context,
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


@pytest.fixture(scope="module")
def handler(registry_file: Path) -> Mangum:
    settings = Settings.from_env({"EVALUATOR_CALLERS_FILE": str(registry_file)})
    return Mangum(create_app(settings), lifespan="off")


def invoke(handler: Mangum, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = handler(event, None)  # type: ignore[arg-type]  # the app reads no Lambda context
    return int(answer["statusCode"]), json.loads(answer["body"])


def test_function_url_iam_caller_is_identified(handler: Mangum) -> None:
    session = {
        "iam": {"userArn": "arn:aws:sts::123456789012:assumed-role/argo-rollouts/eks-1", "callerId": "x"}
    }
    # A dataset the role may not use: 403 proves it was identified, without calling Honeycomb.
    status, body = invoke(handler, lambda_event("/v1/evaluate", session, {**BODY, "dataset": "other"}))
    assert status == 403 and body["error"]["code"] == "forbidden"
    stranger = {"iam": {"userArn": "arn:aws:sts::123456789012:assumed-role/someone-else/s"}}
    status, body = invoke(handler, lambda_event("/v1/evaluate", stranger, BODY))
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def test_http_api_jwt_caller_is_identified(handler: Mangum) -> None:
    jwt = {"jwt": {"claims": {"client_id": "0oa1b2c3d4", "sub": "x"}, "scopes": ["evaluate"]}}
    status, body = invoke(handler, lambda_event("/oauth/v1/evaluate", jwt, {**BODY, "dataset": "other"}))
    assert status == 403 and "cluster-c" in body["error"]["message"]
    unknown = {"jwt": {"claims": {"client_id": "someone", "sub": "else"}}}
    status, _ = invoke(handler, lambda_event("/oauth/v1/evaluate", unknown, BODY))
    assert status == 401


def test_no_registry_and_no_anonymous_refuses_everyone(tmp_path: Path) -> None:
    handler = Mangum(create_app(Settings.from_env({})), lifespan="off")
    status, body = invoke(handler, lambda_event("/v1/evaluate", None, BODY))
    assert status == 401 and "EVALUATOR_ALLOW_ANONYMOUS" in body["error"]["message"]
