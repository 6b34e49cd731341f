"""Which Honeycomb account a call goes to: the key, its region and a non-secret id for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from honeycomb_evaluator.secret import Secret

US_API_URL = "https://api.honeycomb.io"


def key_id_for(api_key: str) -> str:
    """A stable, non-reversible name for a key: safe for logs, metrics and rate-limit buckets."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class HoneycombTarget:
    """One configured Honeycomb environment.

    `api_key` is a `Secret` so that printing or logging the target never shows the key;
    only `HoneycombClient` calls `get_secret_value()`, to build the request header.
    """

    api_key: Secret = field(repr=False)
    api_url: str
    environment: str
    key_id: str

    @classmethod
    def build(cls, api_key: str, api_url: str | None, environment: str) -> HoneycombTarget:
        return cls(
            api_key=Secret(api_key),
            api_url=(api_url or US_API_URL).rstrip("/"),
            environment=environment,
            key_id=key_id_for(api_key),
        )
