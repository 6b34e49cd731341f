"""The state table on a moto server, shaped like template.yaml's StateTable, evaluators sharing it, and
the AWS calls moto recorded."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.support.servers import Server, start_evaluator


def dynamodb_client(env: dict[str, str]) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def create_state_table(env: dict[str, str], name: str) -> None:
    client = dynamodb_client(env)
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )


@contextlib.contextmanager
def evaluators_sharing_one_table(
    emulator: Server, aws: dict[str, str], registry: Path, count: int, **extra: str
) -> Iterator[list[Server]]:
    """`count` evaluator processes on a fresh state table; each server's extra["table"] names it."""
    table = f"state-{uuid.uuid4().hex[:8]}"
    create_state_table(aws, table)
    env = {
        **aws,
        "HONEYCOMB_API_KEY": emulator.extra["api_key"],
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_CALLERS_FILE": str(registry),
        "EVALUATOR_STATE_BACKEND": "dynamodb",
        "EVALUATOR_TABLE_NAME": table,
        **extra,
    }
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(start_evaluator(env)) for _ in range(count)]
        for server in servers:
            server.extra["table"] = table
        yield servers


def recorded_operations(moto_url: str) -> Counter[str]:
    """AWS calls moto's recorder holds so far, by operation (X-Amz-Target's last part, e.g. GetItem).

    Recording pauses while the file is read (no call half-written meanwhile) and then goes on."""
    recorder = moto_url + "/moto-api/recorder/"
    httpx.post(recorder + "stop-recording").raise_for_status()
    try:
        answer = httpx.get(recorder + "download-recording", timeout=60)
    finally:
        httpx.post(recorder + "start-recording").raise_for_status()
    if answer.status_code != 200:  # nothing recorded yet: moto has no recording file to send
        return Counter()
    targets = (call["headers"].get("X-Amz-Target", "other") for call in json_objects(answer.text))
    return Counter(target.split(".")[-1] for target in targets)


def json_objects(text: str) -> Iterator[Any]:
    """The JSON objects of moto's recording, newlines or not.

    moto appends each call as json.dumps(call) then "\\n" in two writes; a call over the 8 KiB
    write buffer goes out at once and its newline later, so calls recorded concurrently can share
    a line ("obj1obj2\\n\\n"). Each object is still whole (one append each)."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return
        found, position = decoder.raw_decode(text, position)
        yield found
