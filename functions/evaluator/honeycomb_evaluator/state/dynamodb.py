"""The DynamoDB backend: state shared by every Lambda instance (or container replica).

One table, key schema `pk` (S) + `sk` (S), TTL attribute `expires_at` (template.yaml):

- query id: pk `query#<spec key>`, sk `query`; `query_id`.
- execution: pk `exec#<execution key>`, sk `exec`; `state`, `gen`, `owner`, `lease`, `query_id`,
  `result_id`, `created`, `completed`, `result` (binary, zlib-compressed JSON).
- rate bucket: pk `rate#<bucket>`, sk `slots`; `slots`, a map slot index → {`granted`, `caller`}.
- roster: pk `roster#<roster>`, sk `values`; `vals`, a string set (ADD is an atomic union).
- blob: pk `blob#<name>`, sk `blob`; `blob` (binary).

It needs dynamodb:GetItem, PutItem and UpdateItem on the table, nothing else.

Every write is conditional on what was read (see state/base.py). One low-level boto3 client,
created on first use; calls run in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from honeycomb_evaluator.errors import StateUnavailable

from .base import ExecutionRecord, Slot, SlotGrant


class _MissingMap(Exception):
    """An update into a map attribute of an item that does not have it yet."""


def _n(value: float) -> dict[str, str]:
    # Six decimals: enough for sub-millisecond grant times, and a value read back compares equal.
    return {"N": f"{value:.6f}"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _num(item: dict[str, Any], name: str) -> float | None:
    return float(item[name]["N"]) if name in item else None


def _str(item: dict[str, Any], name: str) -> str | None:
    return str(item[name]["S"]) if name in item else None


class DynamoDBStore:
    name = "dynamodb"

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    # -- plumbing --------------------------------------------------------------------------

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=2,
                read_timeout=3,
            )
            self._client = boto3.client("dynamodb", config=config)
        return self._client

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """The call's answer, or None when its condition failed."""
        kwargs["TableName"] = self.table_name

        def run() -> dict[str, Any] | None:
            client = self._dynamodb()
            try:
                answer: dict[str, Any] = getattr(client, operation)(**kwargs)
                return answer
            except client.exceptions.ConditionalCheckFailedException:
                return None

        try:
            return await asyncio.to_thread(run)
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code") or type(e).__name__
            if code == "ValidationException" and "document path" in str(e):
                raise _MissingMap from None
            raise StateUnavailable(f"shared state (DynamoDB {operation}) failed: {code}") from None

    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = await self._call("get_item", Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True)
        item = answer.get("Item") if answer else None
        return item if isinstance(item, dict) else None

    @staticmethod
    def _expires(ttl_seconds: float) -> dict[str, str]:
        return {"N": str(int(time.time() + ttl_seconds))}

    # -- query ids -------------------------------------------------------------------------

    async def get_query_id(self, spec_key: str) -> str | None:
        item = await self._get(f"query#{spec_key}", "query")
        return _str(item, "query_id") if item else None

    async def put_query_id(self, spec_key: str, query_id: str, ttl_seconds: float) -> None:
        item = {
            "pk": _s(f"query#{spec_key}"),
            "sk": _s("query"),
            "query_id": _s(query_id),
            "expires_at": self._expires(ttl_seconds),
        }
        await self._call("put_item", Item=item)

    # -- executions ------------------------------------------------------------------------

    @staticmethod
    def _exec_key(execution_key: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(f"exec#{execution_key}"), "sk": _s("exec")}

    async def get_execution(self, execution_key: str) -> ExecutionRecord | None:
        item = await self._get(f"exec#{execution_key}", "exec")
        if item is None:
            return None
        return ExecutionRecord(
            state=item["state"]["S"],
            generation=int(item["gen"]["N"]),
            owner=item["owner"]["S"],
            lease_until=float(item["lease"]["N"]),
            query_id=_str(item, "query_id"),
            result_id=_str(item, "result_id"),
            created_at=_num(item, "created"),
            completed_at=_num(item, "completed"),
            result=bytes(item["result"]["B"]) if "result" in item else None,
        )

    async def claim(
        self,
        execution_key: str,
        *,
        seen: ExecutionRecord | None,
        owner: str,
        lease_until: float,
        ttl_seconds: float,
    ) -> ExecutionRecord | None:
        generation = (seen.generation if seen else 0) + 1
        item = {
            **self._exec_key(execution_key),
            "state": _s("claimed"),
            "gen": {"N": str(generation)},
            "owner": _s(owner),
            "lease": _n(lease_until),
            "expires_at": self._expires(ttl_seconds),
        }
        if seen is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            # Unchanged since we read it: same generation, state and lease.
            condition = {
                "ConditionExpression": "gen = :gen AND #state = :state AND lease = :lease",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":gen": {"N": str(seen.generation)},
                    ":state": _s(seen.state),
                    ":lease": _n(seen.lease_until),
                },
            }
        if await self._call("put_item", Item=item, **condition) is None:
            return None
        return ExecutionRecord(state="claimed", generation=generation, owner=owner, lease_until=lease_until)

    async def release(self, execution_key: str, claim: ExecutionRecord) -> None:
        await self._call(
            "update_item",
            Key=self._exec_key(execution_key),
            UpdateExpression="SET lease = :zero",
            ConditionExpression="gen = :gen AND #owner = :owner AND #state = :claimed",
            ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
            ExpressionAttributeValues={
                ":zero": _n(0.0),
                ":gen": {"N": str(claim.generation)},
                ":owner": _s(claim.owner),
                ":claimed": _s("claimed"),
            },
        )

    async def set_pending(
        self, execution_key: str, claim: ExecutionRecord, *, query_id: str, result_id: str, created_at: float
    ) -> bool:
        answer = await self._call(
            "update_item",
            Key=self._exec_key(execution_key),
            UpdateExpression="SET #state = :pending, query_id = :qid, result_id = :rid, created = :created",
            # Still our claim, not released (release zeroes the lease).
            ConditionExpression="gen = :gen AND #owner = :owner AND #state = :claimed AND lease = :lease",
            ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
            ExpressionAttributeValues={
                ":lease": _n(claim.lease_until),
                ":pending": _s("pending"),
                ":qid": _s(query_id),
                ":rid": _s(result_id),
                ":created": _n(created_at),
                ":gen": {"N": str(claim.generation)},
                ":owner": _s(claim.owner),
                ":claimed": _s("claimed"),
            },
        )
        return answer is not None

    async def set_complete(
        self,
        execution_key: str,
        pending: ExecutionRecord,
        *,
        completed_at: float,
        result: bytes | None,
        ttl_seconds: float,
    ) -> bool:
        values: dict[str, Any] = {
            ":complete": _s("complete"),
            ":completed": _n(completed_at),
            ":expires": self._expires(ttl_seconds),
            ":gen": {"N": str(pending.generation)},
            ":rid": _s(pending.result_id or ""),
            ":pending": _s("pending"),
        }
        update = "SET #state = :complete, completed = :completed, expires_at = :expires"
        if result is not None:
            update += ", #result = :result"
            values[":result"] = {"B": result}
        answer = await self._call(
            "update_item",
            Key=self._exec_key(execution_key),
            UpdateExpression=update,
            ConditionExpression="gen = :gen AND result_id = :rid AND #state = :pending",
            ExpressionAttributeNames={
                "#state": "state",
                **({"#result": "result"} if result is not None else {}),
            },
            ExpressionAttributeValues=values,
        )
        return answer is not None

    # -- rate slots ------------------------------------------------------------------------
    # All slots of a bucket live in one item (a map index → {granted, caller}), so reading a
    # bucket is one GetItem and the function needs no Query permission.

    @staticmethod
    def _bucket_key(bucket: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(f"rate#{bucket}"), "sk": _s("slots")}

    async def read_slots(self, bucket: str) -> list[Slot]:
        item = await self._get(f"rate#{bucket}", "slots")
        slots = []
        for index, entry in ((item or {}).get("slots", {}).get("M") or {}).items():
            fields = entry["M"]
            wanted = tuple(str(v["S"]) for v in fields.get("wanted", {}).get("L", []))
            slots.append(
                Slot(
                    index=int(index),
                    granted_at=float(fields["granted"]["N"]),
                    caller=fields["caller"]["S"],
                    wanted_by=wanted,
                )
            )
        return slots

    async def take_slot(self, bucket: str, grant: SlotGrant) -> bool:
        slot: dict[str, Any] = {"granted": _n(grant.now), "caller": _s(grant.caller)}
        if grant.wanted_by:
            slot["wanted"] = {"L": [_s(name) for name in grant.wanted_by]}
        values: dict[str, Any] = {
            ":slot": {"M": slot},
            ":expires": self._expires(grant.ttl_seconds),
        }
        if grant.seen_granted_at == 0.0:
            condition = "attribute_not_exists(slots.#i)"
        else:
            condition = "slots.#i.granted = :seen"
            values[":seen"] = _n(grant.seen_granted_at)
        update = {
            "Key": self._bucket_key(bucket),
            "UpdateExpression": "SET slots.#i = :slot, expires_at = :expires",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#i": str(grant.index)},
            "ExpressionAttributeValues": values,
        }
        try:
            return await self._call("update_item", **update) is not None
        except _MissingMap:
            # First use of this bucket: create the empty map (a racing creator wins harmlessly).
            empty = {
                **self._bucket_key(bucket),
                "slots": {"M": {}},
                "expires_at": self._expires(grant.ttl_seconds),
            }
            await self._call("put_item", Item=empty, ConditionExpression="attribute_not_exists(pk)")
            return await self._call("update_item", **update) is not None

    # -- rosters ---------------------------------------------------------------------------

    async def add_to_roster(self, roster: str, values: Sequence[str], ttl_seconds: float) -> None:
        if not values:
            return
        await self._call(
            "update_item",
            Key={"pk": _s(f"roster#{roster}"), "sk": _s("values")},
            UpdateExpression="ADD vals :values SET expires_at = :expires",
            ExpressionAttributeValues={
                ":values": {"SS": sorted(set(values))},
                ":expires": self._expires(ttl_seconds),
            },
        )

    async def read_roster(self, roster: str) -> frozenset[str]:
        item = await self._get(f"roster#{roster}", "values")
        if item is None or int(item.get("expires_at", {}).get("N", "0")) <= time.time():
            return frozenset()  # DynamoDB deletes expired items late, not at once
        return frozenset(item.get("vals", {}).get("SS", []))

    # -- blobs -------------------------------------------------------------------------------

    async def write_blob(self, name: str, blob: bytes, ttl_seconds: float) -> None:
        item = {"pk": _s(f"blob#{name}"), "sk": _s("blob"), "blob": {"B": blob}}
        await self._call("put_item", Item={**item, "expires_at": self._expires(ttl_seconds)})

    async def read_blob(self, name: str) -> bytes | None:
        item = await self._get(f"blob#{name}", "blob")
        if item is None or int(item.get("expires_at", {}).get("N", "0")) <= time.time():
            return None  # DynamoDB deletes expired items late, not at once
        return bytes(item["blob"]["B"])

    # -- once-only claims (markers) ---------------------------------------------------------
    # Released by writing `held = 0` rather than deleting: the function may only Get/Put/Update.

    async def claim_once(self, name: str, ttl_seconds: float) -> bool:
        item = {
            "pk": _s(f"once#{name}"),
            "sk": _s("once"),
            "held": _s("1"),
            "expires_at": self._expires(ttl_seconds),
        }
        answer = await self._call(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR held = :released OR expires_at < :now",
            ExpressionAttributeValues={":released": _s("0"), ":now": {"N": str(int(time.time()))}},
        )
        return answer is not None

    async def release_once(self, name: str) -> None:
        item = {"pk": _s(f"once#{name}"), "sk": _s("once"), "held": _s("0"), "expires_at": self._expires(60)}
        await self._call("put_item", Item=item)

    async def ping(self) -> None:
        await self._call("get_item", Key={"pk": _s("ping"), "sk": _s("ping")})
