"""The one Secrets Manager reader (the Honeycomb key and the caller registry both use it).

Reads go through Powertools Parameters in a worker thread (boto3 is synchronous), one at a time
per secret, and the text is kept for as long as each caller's `max_age` allows. boto3 and
Powertools' parameters utility are imported on the first read: they are the slowest imports in
the package, and deployments that keep their secrets in files never need them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class SecretUnavailable(Exception):
    """The secret could not be read; the message names it and the AWS error, never a value."""


class SecretReader:
    def __init__(
        self,
        secret_id: str,
        *,
        client_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._client_factory = client_factory
        self._clock = clock
        self._provider: Any = None
        self._text: str | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def read(self, max_age: float, *, refresh: bool = False) -> str:
        """The secret's text, from memory if it was read less than `max_age` seconds ago."""
        if not refresh and self._fresh(max_age):
            assert self._text is not None
            return self._text
        async with self._lock:
            if not refresh and self._fresh(max_age):
                assert self._text is not None
                return self._text
            self._read_at = self._clock()  # a failed read counts too: no retry storm on a broken secret
            self._text = await asyncio.to_thread(self._fetch)
            return self._text

    def _fresh(self, max_age: float) -> bool:
        return self._text is not None and self._clock() - self._read_at < max_age

    def _fetch(self) -> str:
        from aws_lambda_powertools.utilities import parameters

        if self._provider is None:
            client = self._client_factory() if self._client_factory else None
            self._provider = parameters.SecretsProvider(boto3_client=client)
        try:
            value = self._provider.get(self.secret_id, max_age=0, force_fetch=True)
        except parameters.exceptions.GetParameterError as e:
            raise SecretUnavailable(f"cannot read the secret {self.secret_id!r}: {e}") from None
        return value.decode() if isinstance(value, bytes) else str(value)
