"""The shared state of several evaluator processes, on either shared backend: DynamoDB (a moto
server) or Redis (a real redis-server). Tests and the fleet simulation run on both through this."""

from __future__ import annotations

import contextlib
import itertools
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import redis

from tests.support.aws import create_state_table, dynamodb_client
from tests.support.servers import Server, aws_env, start_evaluator, start_moto, start_redis

SHARED_BACKENDS = ("dynamodb", "redis")
REDIS_DATABASES = 64  # one per fresh namespace (tests of one module share a server)
REDIS_PREFIX = "honeycomb-evaluator:"  # the backend's default


class SharedState(Protocol):
    backend: str

    def fresh(self) -> dict[str, str]:
        """The environment of evaluators that share a new, empty state (table or Redis database)."""
        ...

    def abandon_next_generation(self, env: dict[str, str], result_id: str, lease_until: float) -> None:
        """Act as an instance that claimed the next generation of the execution whose result is
        `result_id`, then died: its claim holds until `lease_until`."""
        ...

    def dump(self, env: dict[str, str]) -> bytes:
        """Everything stored, as bytes, to look for what must never be there."""
        ...


class DynamoDBState:
    backend = "dynamodb"

    def __init__(self, aws: dict[str, str]) -> None:
        self.aws = aws

    def fresh(self) -> dict[str, str]:
        table = f"state-{uuid.uuid4().hex[:8]}"
        create_state_table(self.aws, table)
        return {**self.aws, "EVALUATOR_STATE_BACKEND": "dynamodb", "EVALUATOR_TABLE_NAME": table}

    def _items(self, env: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = dynamodb_client(self.aws).scan(TableName=env["EVALUATOR_TABLE_NAME"])[
            "Items"
        ]
        return items

    def abandon_next_generation(self, env: dict[str, str], result_id: str, lease_until: float) -> None:
        (execution,) = [i for i in self._items(env) if i.get("result_id", {}).get("S") == result_id]
        abandoned = {
            "pk": execution["pk"],
            "sk": execution["sk"],
            "state": {"S": "claimed"},
            "gen": {"N": "99"},
            "owner": {"S": "dead-instance:1"},
            "lease": {"N": f"{lease_until:.6f}"},
        }
        dynamodb_client(self.aws).put_item(TableName=env["EVALUATOR_TABLE_NAME"], Item=abandoned)

    def dump(self, env: dict[str, str]) -> bytes:
        return repr(self._items(env)).encode()


class RedisState:
    backend = "redis"

    def __init__(self, server: Server) -> None:
        self.server = server
        self._databases = itertools.count(1)

    def fresh(self) -> dict[str, str]:
        database = next(self._databases)
        assert database < REDIS_DATABASES, "more namespaces than the test server has databases"
        url = self.server.url.rsplit("/", 1)[0] + f"/{database}"
        return {"EVALUATOR_STATE_BACKEND": "redis", "EVALUATOR_REDIS_URL": url}

    @staticmethod
    def client(env: dict[str, str]) -> redis.Redis:
        return redis.Redis.from_url(env["EVALUATOR_REDIS_URL"])

    def abandon_next_generation(self, env: dict[str, str], result_id: str, lease_until: float) -> None:
        with self.client(env) as client:
            keys = list(client.scan_iter(match=f"{REDIS_PREFIX}exec:*"))
            (key,) = [k for k in keys if client.hget(k, "result_id") == result_id.encode()]
            abandoned = {
                "state": "claimed",
                "gen": "99",
                "owner": "dead-instance:1",
                "lease": f"{lease_until:.6f}",
            }
            with client.pipeline(transaction=True) as pipe:
                pipe.delete(key).hset(key, mapping=abandoned).expire(key, 600).execute()

    def dump(self, env: dict[str, str]) -> bytes:
        with self.client(env) as client:
            parts: list[bytes] = []
            for key in client.scan_iter():
                parts.append(key)
                kind = client.type(key)
                if kind == b"hash":
                    for name, value in client.hgetall(key).items():
                        parts += [name, zlib.decompress(value) if name == b"result" else value]
                elif kind == b"set":  # a fusion roster: filter values (pod-template hashes)
                    parts += sorted(client.smembers(key))
                else:
                    parts.append(client.get(key) or b"")
            return b"\n".join(parts)


@contextlib.contextmanager
def shared_state(backend: str) -> Iterator[SharedState]:
    """A moto server or a redis-server, for as long as the block runs."""
    if backend == "dynamodb":
        with start_moto() as moto:
            yield DynamoDBState(aws_env(moto.url))
    elif backend == "redis":
        with start_redis(databases=REDIS_DATABASES) as server:
            yield RedisState(server)
    else:
        raise ValueError(backend)


@contextlib.contextmanager
def evaluators_sharing_state(
    emulator: Server, state_env: dict[str, str], registry: Path, count: int, **extra: str
) -> Iterator[list[Server]]:
    """`count` evaluator processes on the shared state `state_env` (from `SharedState.fresh`)."""
    env = {
        **state_env,
        "HONEYCOMB_API_KEY": emulator.extra["api_key"],
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_CALLERS_FILE": str(registry),
        **extra,
    }
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(start_evaluator(env)) for _ in range(count)]
        for server in servers:
            server.extra.update(state_env)  # where their shared state is, for tests that disturb it
        yield servers
