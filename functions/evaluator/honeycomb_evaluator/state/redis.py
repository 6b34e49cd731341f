"""The Redis backend: state shared by evaluator replicas in a cluster (EVALUATOR_STATE_BACKEND=redis).

Keys (all under one prefix, `honeycomb-evaluator:` by default; every one has a TTL):

- `<prefix>query:<spec key>`: a string, the Honeycomb query id (TTL: the query-id TTL).
- `<prefix>exec:<execution key>`: a hash `state`, `gen`, `owner`, `lease`, `query_id`,
  `result_id`, `created`, `completed`, `result` (zlib-compressed JSON bytes); TTL set by the claim
  and renewed by the completion.
- `<prefix>rate:<bucket>`: a hash with `granted:<i>`, `caller:<i>`, `wanted:<i>` (a JSON list)
  per slot index `i` ever used; TTL renewed by every grant.
- `<prefix>roster:<family>`: a set of filter values checked recently (query fusion); TTL renewed
  by every addition.
- `<prefix>blob:<name>`: a string of bytes (a cached SLO report); TTL set by every write.

Keys are digests (fingerprint.py) and key ids; nothing here holds the Honeycomb key.

Every conditional change is one server-side script, `_CONDITIONAL_HASH_WRITE`: compare some
fields of one hash with what the writer last read, and only if all match, write fields (or
replace the whole hash) and set the TTL. Each StateStore operation is a `_Change` built in Python
(what to expect, what to write), so the Lua stays one small, tested script; an operation that needs
more than compare-and-set on one hash would add a script of its own next to it. A write that
finds its own values already in place reports success, so the client's one retry after a lost
reply never turns a won claim or token into a lost one.

Numbers are stored as fixed six-decimal strings (as in the DynamoDB backend) so that a value read
back and formatted again compares equal in the script. A missing field compares as "" (no field is
ever written empty), which is how "not there yet" is expected.

Unreachable Redis fails fast: short connect and read timeouts, one retry, then `StateUnavailable`
naming Redis, the operation and host:port; the URL (which may carry a password) is never printed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from honeycomb_evaluator.errors import StateUnavailable
from honeycomb_evaluator.settings import ConfigError

from .base import ExecutionRecord, Slot, SlotGrant

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

DEFAULT_PREFIX = "honeycomb-evaluator:"
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0

# KEYS[1]: the hash. ARGV: mode ("replace" or "update"), TTL in ms (0 keeps the key's TTL),
# n, then n pairs (field, expected value; "" = absent), then pairs (field, value) to write.
# Returns 1 if written, 0 if a field did not hold what was expected. A write that finds its own
# values already there reports 1: the client retries once after a lost reply, and that retry
# must not turn a won claim or slot into a lost one (the values written are unique to the writer:
# an owner id, a grant time to the microsecond).
_CONDITIONAL_HASH_WRITE = """
local key = KEYS[1]
local function hold(first, last)
  for i = first, last, 2 do
    if (redis.call('HGET', key, ARGV[i]) or '') ~= ARGV[i + 1] then
      return false
    end
  end
  return true
end
local writes = 4 + 2 * tonumber(ARGV[3])
if not hold(4, writes - 1) then
  if #ARGV > writes and hold(writes, #ARGV) then
    return 1
  end
  return 0
end
if ARGV[1] == 'replace' then
  redis.call('DEL', key)
end
if #ARGV > writes then
  redis.call('HSET', key, unpack(ARGV, writes))
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', key, ttl)
end
return 1
"""

Value = str | bytes


def _n(value: float) -> str:
    return f"{value:.6f}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


@dataclass
class _Change:
    """One conditional write of one hash: `expect` must all hold, then `write` (and the TTL)."""

    expect: dict[str, str]
    write: dict[str, Value]
    ttl_seconds: float = 0.0  # 0: keep the key's TTL
    replace: bool = False  # drop every other field first (a new execution generation)

    def __post_init__(self) -> None:
        # Every key has a TTL: a change that may create its key (replacing it, or expecting a
        # field to be absent) must set one; the others only touch keys made that way.
        if (self.replace or "" in self.expect.values()) and self.ttl_seconds <= 0:
            raise ValueError("a change that may create its key needs a TTL")

    def args(self) -> list[Value]:
        args: list[Value] = [
            "replace" if self.replace else "update",
            str(_ms(self.ttl_seconds) if self.ttl_seconds else 0),
        ]
        args.append(str(len(self.expect)))
        for name, expected in self.expect.items():
            args += [name, expected]
        for name, value in self.write.items():
            args += [name, value]
        return args


@dataclass
class _Connection:
    """A client and its script, bound to the event loop they were made on."""

    loop: asyncio.AbstractEventLoop
    client: Redis
    write_script: AsyncScript


def _text(fields: dict[bytes, bytes], name: str) -> str | None:
    value = fields.get(name.encode())
    return value.decode() if value is not None else None


def _float_field(fields: dict[bytes, bytes], name: str) -> float | None:
    value = fields.get(name.encode())
    return float(value) if value is not None else None


def _where(url: str) -> str:
    """host:port (or the socket path) for messages: never the URL itself, it may carry a password."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            return parts.path
        if parts.scheme in ("redis", "rediss") and parts.hostname:
            return f"{parts.hostname}:{parts.port or 6379}"
    except ValueError:  # a port that is not a number
        pass
    raise ConfigError(
        "EVALUATOR_REDIS_URL must be redis://[:password@]host[:port][/db], rediss://… or unix://path"
    )


class RedisStore:
    name = "redis"

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._url = url
        self._prefix = prefix
        self._where = _where(url)
        self._connection: _Connection | None = None

    def __repr__(self) -> str:
        return f"RedisStore({self._where})"

    # -- plumbing --------------------------------------------------------------------------

    def _connect(self) -> _Connection:
        # redis.asyncio connections belong to one event loop; a process normally has one (uvicorn),
        # but anything that runs a loop per call (tests, a CLI) gets a client per loop.
        loop = asyncio.get_running_loop()
        if self._connection is None or self._connection.loop is not loop:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff

            client = Redis.from_url(
                self._url,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=READ_TIMEOUT_SECONDS,
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
                health_check_interval=30,
            )
            self._connection = _Connection(loop, client, client.register_script(_CONDITIONAL_HASH_WRITE))
        return self._connection

    async def _run(self, operation: str, call: Callable[[_Connection], Awaitable[Any]]) -> Any:
        """Await `call(connection)`; any failure of Redis becomes StateUnavailable naming the operation."""
        from redis.exceptions import RedisError

        try:
            return await call(self._connect())
        except (TimeoutError, RedisError, OSError) as e:
            # The exception's text may quote the URL; the class names what happened.
            raise StateUnavailable(
                f"shared state (Redis {operation} at {self._where}) failed: {type(e).__name__}"
            ) from None

    async def _change(self, operation: str, key: str, change: _Change) -> bool:
        args = change.args()
        written = await self._run(operation, lambda c: c.write_script(keys=[key], args=args))
        return int(written) == 1

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    # -- query ids -------------------------------------------------------------------------

    async def get_query_id(self, spec_key: str) -> str | None:
        key = self._key("query", spec_key)
        value = await self._run("get_query_id", lambda c: c.client.get(key))
        return value.decode() if value is not None else None

    async def put_query_id(self, spec_key: str, query_id: str, ttl_seconds: float) -> None:
        key = self._key("query", spec_key)
        await self._run("put_query_id", lambda c: c.client.set(key, query_id, px=_ms(ttl_seconds)))

    # -- executions ------------------------------------------------------------------------

    async def get_execution(self, execution_key: str) -> ExecutionRecord | None:
        key = self._key("exec", execution_key)
        fields: dict[bytes, bytes] = await self._run("get_execution", lambda c: c.client.hgetall(key))
        if not fields.get(b"gen"):
            return None
        return ExecutionRecord(
            state=fields[b"state"].decode(),  # type: ignore[arg-type]  # only ever one of State
            generation=int(fields[b"gen"]),
            owner=fields[b"owner"].decode(),
            lease_until=float(fields[b"lease"]),
            query_id=_text(fields, "query_id"),
            result_id=_text(fields, "result_id"),
            created_at=_float_field(fields, "created"),
            completed_at=_float_field(fields, "completed"),
            result=fields.get(b"result"),
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
        if seen is None:
            expect = {"gen": ""}
        else:  # unchanged since we read it: same generation, owner, state and lease
            expect = {"gen": str(seen.generation), "owner": seen.owner, "state": seen.state}
            expect["lease"] = _n(seen.lease_until)
        write: dict[str, Value] = {
            "state": "claimed",
            "gen": str(generation),
            "owner": owner,
            "lease": _n(lease_until),
        }
        change = _Change(expect, write, ttl_seconds=ttl_seconds, replace=True)
        if not await self._change("claim", self._key("exec", execution_key), change):
            return None
        # The lease as stored, so the record equals what get_execution reads back.
        return ExecutionRecord(
            state="claimed", generation=generation, owner=owner, lease_until=float(_n(lease_until))
        )

    @staticmethod
    def _still_claimed(claim: ExecutionRecord) -> dict[str, str]:
        return {"gen": str(claim.generation), "owner": claim.owner, "state": "claimed"}

    async def release(self, execution_key: str, claim: ExecutionRecord) -> None:
        change = _Change(self._still_claimed(claim), {"lease": _n(0.0)})
        await self._change("release", self._key("exec", execution_key), change)

    async def set_pending(
        self, execution_key: str, claim: ExecutionRecord, *, query_id: str, result_id: str, created_at: float
    ) -> bool:
        # Still our claim and not released (release zeroes the lease).
        expect = {**self._still_claimed(claim), "lease": _n(claim.lease_until)}
        write: dict[str, Value] = {
            "state": "pending",
            "query_id": query_id,
            "result_id": result_id,
            "created": _n(created_at),
        }
        return await self._change("set_pending", self._key("exec", execution_key), _Change(expect, write))

    async def set_complete(
        self,
        execution_key: str,
        pending: ExecutionRecord,
        *,
        completed_at: float,
        result: bytes | None,
        ttl_seconds: float,
    ) -> bool:
        expect = {"gen": str(pending.generation), "result_id": pending.result_id or "", "state": "pending"}
        write: dict[str, Value] = {"state": "complete", "completed": _n(completed_at)}
        if result is not None:
            write["result"] = result
        change = _Change(expect, write, ttl_seconds=ttl_seconds)
        return await self._change("set_complete", self._key("exec", execution_key), change)

    # -- rate slots ------------------------------------------------------------------------
    # All slots of a bucket live in one hash, so reading a bucket is one HGETALL.

    async def read_slots(self, bucket: str) -> list[Slot]:
        key = self._key("rate", bucket)
        fields: dict[bytes, bytes] = await self._run("read_slots", lambda c: c.client.hgetall(key))
        slots = []
        for name, value in fields.items():
            kind, _, index = name.decode().partition(":")
            if kind != "granted":
                continue
            wanted = json.loads(fields.get(f"wanted:{index}".encode(), b"[]"))
            caller = fields.get(f"caller:{index}".encode(), b"").decode()
            slots.append(Slot(int(index), float(value), caller, tuple(str(w) for w in wanted)))
        return slots

    async def take_slot(self, bucket: str, grant: SlotGrant) -> bool:
        i = grant.index
        seen = "" if grant.seen_granted_at == 0.0 else _n(grant.seen_granted_at)
        write: dict[str, Value] = {
            f"granted:{i}": _n(grant.now),
            f"caller:{i}": grant.caller,
            f"wanted:{i}": json.dumps(list(grant.wanted_by)),
        }
        change = _Change({f"granted:{i}": seen}, write, ttl_seconds=grant.ttl_seconds)
        return await self._change("take_slot", self._key("rate", bucket), change)

    # -- rosters (query fusion) --------------------------------------------------------------
    # A plain Redis set: SADD is already an atomic union, and the expiry is pushed in the same
    # transaction, so concurrent adders never lose each other's values.

    async def add_to_roster(self, roster: str, values: Sequence[str], ttl_seconds: float) -> None:
        if not values or ttl_seconds <= 0:  # nothing to add, or expired already
            return
        key = self._key("roster", roster)

        async def add(connection: _Connection) -> Any:
            async with connection.client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, *values)
                pipe.pexpire(key, _ms(ttl_seconds))
                return await pipe.execute()

        await self._run("add_to_roster", add)

    async def read_roster(self, roster: str) -> frozenset[str]:
        key = self._key("roster", roster)
        members: set[bytes] = await self._run("read_roster", lambda c: c.client.smembers(key))
        return frozenset(m.decode() for m in members)

    # -- blobs -------------------------------------------------------------------------------

    async def write_blob(self, name: str, blob: bytes, ttl_seconds: float) -> None:
        key = self._key("blob", name)
        if ttl_seconds <= 0:  # expired already: nothing is left under the name
            await self._run("write_blob", lambda c: c.client.delete(key))
            return
        await self._run("write_blob", lambda c: c.client.set(key, blob, px=_ms(ttl_seconds)))

    async def read_blob(self, name: str) -> bytes | None:
        key = self._key("blob", name)
        value: bytes | None = await self._run("read_blob", lambda c: c.client.get(key))
        return value

    # -- once-only claims (markers) ---------------------------------------------------------

    async def claim_once(self, name: str, ttl_seconds: float) -> bool:
        key = self._key("once", name)
        claimed = await self._run(
            "claim_once", lambda c: c.client.set(key, b"1", nx=True, px=_ms(ttl_seconds))
        )
        return bool(claimed)

    async def release_once(self, name: str) -> None:
        key = self._key("once", name)
        await self._run("release_once", lambda c: c.client.delete(key))

    async def ping(self) -> None:
        await self._run("ping", lambda c: c.client.ping())
