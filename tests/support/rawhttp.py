"""A small HTTP/1.1 client on asyncio streams, for load: thousands of requests from one process.

httpx spends tens of milliseconds of CPU per request once its pool holds thousands of
connections (2,000 simultaneous requests took it about a minute of CPU here), so a burst it sends
is spread over that minute and nothing arrives together. This client writes a prepared request on
its own connection and reads the answer (`Content-Length` bodies, which is what the evaluator
sends): about a hundred microseconds of CPU a request. `Pool` keeps connections alive between
requests, as Argo's HTTP client does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.perf_counter)  # when the answer was read

    def json(self) -> Any:
        return json.loads(self.body)

    def elapsed_ms(self, since: float) -> float:
        """Milliseconds from `since` (a `time.perf_counter()` instant) to this answer."""
        return (self.received - since) * 1000


def request_bytes(url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """A POST of `body` as JSON to `url`, ready to write on a connection."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    head = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def post_once(url: str, prepared: bytes, timeout: float = 60) -> Answer:
    """One request on a connection of its own, closed afterwards."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*_address(url)), timeout)
    try:
        writer.write(prepared)
        await writer.drain()
        return await asyncio.wait_for(read_answer(reader), timeout)
    finally:
        writer.close()


async def burst(url: str, prepared: list[bytes], timeout: float = 60) -> list[Answer | Exception]:
    """Every request at once, each on its own connection (as many clients asking together)."""
    results = await asyncio.gather(*(post_once(url, p, timeout) for p in prepared), return_exceptions=True)
    return [r if isinstance(r, Answer) else Exception(repr(r)) for r in results]


@dataclass
class Pool:
    """Kept-alive connections to one server: a request takes an idle one or opens another."""

    url: str
    timeout: float = 60
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def post(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        prepared = request_bytes(self.url + path, body, headers)
        while self.idle:  # a kept connection the server may have closed meanwhile: try the next
            reader, writer = self.idle.pop()
            if writer.is_closing() or reader.at_eof():
                writer.close()
                continue
            try:
                return await self._exchange(reader, writer, prepared)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*_address(self.url)), self.timeout)
        return await self._exchange(reader, writer, prepared)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, prepared: bytes
    ) -> Answer:
        try:
            writer.write(prepared)
            await writer.drain()
            answer = await asyncio.wait_for(read_answer(reader), self.timeout)
        except BaseException:
            writer.close()
            raise
        if answer.headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return answer

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()
