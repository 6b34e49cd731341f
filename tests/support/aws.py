"""The state table on a moto server, shaped like template.yaml's StateTable, and evaluators sharing it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

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
