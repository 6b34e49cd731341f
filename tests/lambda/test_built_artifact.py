"""Every events/*.json through the built artifact's handler, as `sam local invoke` would run it.

No Docker: the artifact is built by the same Makefile target `sam build` runs (for the local
interpreter), then its handler runs in an interpreter that sees only the artifact, the standard
library and the AWS SDK the Lambda runtime provides. Honeycomb is the emulator with demo data;
Secrets Manager is moto in server mode, holding the key and the caller registry under the names
events/env.json gives.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import DEFAULT_EMULATOR_KEY, aws_env, start_emulator, start_moto

artifact = importlib.import_module("tests.lambda.artifact")

DEMO_TOKEN = "demo-token-cluster-a"
TRACE_ID = "1-6745ab00-0123456789abcdef01234567"
BAD_CANARY_P99_FLOOR = 800  # the demo's bad canary has p99 ≈ 1200 ms, the stable version ≈ 300 ms
Check = Callable[[dict[str, Any]], None]


def _error(status: int, code: str, field: str | None = None) -> tuple[int, Check]:
    def check(body: dict[str, Any]) -> None:
        assert body["error"]["code"] == code, body
        assert body["error"]["message"], body
        if field is not None:
            assert body["error"].get("field") == field, body

    return status, check


def _bad_canary_p99(body: dict[str, Any]) -> None:
    assert body["calculation"] == "P99(duration_ms)", body
    assert isinstance(body["value"], int | float) and body["value"] > BAD_CANARY_P99_FLOOR, body
    assert body["query_result_id"] and body["window"]["end_time"] > body["window"]["start_time"], body


# One entry per event file; a new event without an expectation fails the test.
EXPECTED: dict[str, tuple[int, Check]] = {
    "http-api-evaluate": (200, _bad_canary_p99),
    "http-api-oauth-evaluate": (200, _bad_canary_p99),
    "function-url-iam-evaluate": (200, _bad_canary_p99),
    "function-url-iam-base64-body": (200, _bad_canary_p99),
    "http-api-malformed-json": _error(400, "malformed_json"),
    "http-api-schema-error": _error(422, "invalid_request", "query.calculations.0.op"),
    "http-api-missing-token": _error(401, "unauthenticated"),
    "http-api-wrong-token": _error(401, "unauthenticated"),
    "http-api-forbidden-dataset": _error(403, "forbidden", "dataset"),
}


def _check_response(path: Path, response: dict[str, Any]) -> None:
    status, check = EXPECTED[path.stem]
    assert response["statusCode"] == status, response
    assert response["headers"]["content-type"].startswith("application/json"), response
    check(json.loads(response["body"]))
    request_id = json.loads(path.read_text())["requestContext"]["requestId"]
    assert response["headers"].get("x-request-id") == request_id, response["headers"]


def _json_lines(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def event_files() -> list[Path]:
    return sorted(p for p in artifact.EVENTS.glob("*.json") if p != artifact.ENV_JSON)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, Path]:
    """(artifact dir, runtime SDK dir), built once per test session even across xdist workers."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if worker_id != "master" else root
    target, sdk = shared / "lambda-artifact" / "task", shared / "lambda-artifact" / "sdk"
    target.parent.mkdir(exist_ok=True)
    with (shared / "lambda-artifact.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "honeycomb_evaluator" / "handler.py").exists():
            shutil.rmtree(target, ignore_errors=True)
            artifact.build(target, for_lambda=False)
            artifact.runtime_sdk(sdk)
    return target, sdk


@pytest.fixture(scope="module")
def moto_env() -> Iterator[dict[str, str]]:
    with start_moto() as moto:
        yield aws_env(moto.url)


@pytest.fixture(scope="module")
def invoke_env(moto_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with start_emulator("--demo", "--result-delay-ms", "100") as emulator:
        provisioned = artifact.provision(moto_env, DEFAULT_EMULATOR_KEY)
        yield artifact.local_invoke_env({"HONEYCOMB_API_URL": emulator.url, **provisioned})


@pytest.mark.servers
def test_every_event_answers_as_expected(built: tuple[Path, Path], invoke_env: dict[str, str]) -> None:
    events = event_files()
    assert sorted(p.stem for p in events) == sorted(EXPECTED), "each event needs an expectation"
    invocation = artifact.invoke(*built, events, invoke_env)
    responses, output = invocation.responses, invocation.output

    failures = []
    for path, response in zip(events, responses, strict=True):
        try:
            _check_response(path, response)
        except AssertionError as e:
            failures.append(f"{path.name}: {e}")
    assert not failures, "\n".join(failures)

    # Powertools is wired: JSON logs carry the Lambda context and each request id, and one cold
    # start was counted for the whole run.
    records = _json_lines(output)
    assert sum("ColdStart" in r for r in records) == 1, output
    logged = {r.get("correlation_id") for r in records if "function_request_id" in r}
    answered = [p for p in events if EXPECTED[p.stem][0] == 200]
    assert {json.loads(p.read_text())["requestContext"]["requestId"] for p in answered} <= logged, output
    # The evaluations shared their state through the DynamoDB table, as deployed.
    dynamodb = artifact.aws_client("dynamodb", invoke_env)
    assert dynamodb.scan(TableName=invoke_env["EVALUATOR_TABLE_NAME"])["Count"] > 0
    # Neither the Honeycomb key nor a caller's token ever reaches the logs or an answer.
    for text in (output, json.dumps(responses)):
        assert DEFAULT_EMULATOR_KEY not in text
        assert DEMO_TOKEN not in text


def test_artifact_has_every_dependency_it_needs(built: tuple[Path, Path]) -> None:
    task, sdk = built
    assert artifact.unmet_requirements([task, sdk]) == []
    # boto3 and friends come from the runtime, never from the artifact.
    bundled = {p.name.split("-")[0].lower() for p in task.glob("*.dist-info")}
    assert not bundled & {"boto3", "botocore", "s3transfer"}, bundled


@pytest.mark.servers
def test_a_fresh_stack_answers_not_configured_until_its_secrets_have_values(
    built: tuple[Path, Path], moto_env: dict[str, str]
) -> None:
    # CloudFormation creates both secrets without a value; nothing may be served until they get one.
    secrets = artifact.aws_client("secretsmanager", moto_env)
    empty = {
        "HONEYCOMB_SECRET_ID": "fresh-stack/honeycomb-key",
        "EVALUATOR_CALLERS_SECRET_ID": "fresh-stack/callers",
    }
    for name in empty.values():
        secrets.create_secret(Name=name)
    events = [artifact.EVENTS / f"{name}.json" for name in ("http-api-evaluate", "http-api-missing-token")]
    # Honeycomb is never reached: a closed port stands in for it.
    env = artifact.local_invoke_env({"HONEYCOMB_API_URL": "http://127.0.0.1:9", **moto_env, **empty})
    invocation = artifact.invoke(*built, events, env)
    for path, response in zip(events, invocation.responses, strict=True):
        body = json.loads(response["body"])
        assert (response["statusCode"], body["error"]["code"]) == (500, "not_configured"), (path.name, body)


@pytest.mark.servers
def test_traces_reach_xray_with_the_handler_and_every_honeycomb_call(
    built: tuple[Path, Path], invoke_env: dict[str, str]
) -> None:
    # On Lambda (not under `sam local`) the tracer is live: the runtime sets _X_AMZN_TRACE_ID and
    # the X-Ray SDK sends segment documents over UDP to the daemon, here a socket of ours.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        env = {k: v for k, v in invoke_env.items() if k != "AWS_SAM_LOCAL"}
        # A state table of its own: another test here may have run this event this minute, and
        # the same window's answer would then come from the table, with no Honeycomb call to trace.
        artifact.create_state_table(env, "evaluator-state-traces")
        env["EVALUATOR_TABLE_NAME"] = "evaluator-state-traces"
        env["_X_AMZN_TRACE_ID"] = f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"
        env["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{daemon.getsockname()[1]}"
        invocation = artifact.invoke(*built, [artifact.EVENTS / "http-api-evaluate.json"], env)
        assert invocation.responses[0]["statusCode"] == 200, invocation.responses
        datagrams = []
        with contextlib.suppress(TimeoutError):
            while True:
                datagrams.append(daemon.recv(65536).decode())
    documents = [json.loads(d.split("\n", 1)[1]) for d in datagrams]
    assert {d["trace_id"] for d in documents} == {TRACE_ID}
    names = [d["name"] for d in documents]
    assert "## handle_event" in names, names
    handler = next(d for d in documents if d["name"] == "## handle_event")
    assert handler["annotations"]["ColdStart"] is True
    honeycomb_calls = [d for d in documents if d.get("http", {}).get("request", {}).get("url", "")]
    assert any("/1/query_results/checkout" in d["http"]["request"]["url"] for d in honeycomb_calls), names
    assert not any(DEFAULT_EMULATOR_KEY in d or DEMO_TOKEN in d for d in datagrams)
