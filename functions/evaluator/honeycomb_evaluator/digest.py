"""The one canonical JSON form and digest: stable names for specs, executions and query shapes.

Digests are safe as state-store keys and log fields; callers put only non-secret parts in
(a key's `key_id`, never the key).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Equal for equal JSON values whatever their key order. Lone surrogates (from `\\ud800` in a
    request) are kept as escapes, so any string a request can carry has a digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(*parts: Any) -> str:
    """128 bits of SHA-256 over the parts' canonical JSON."""
    return hashlib.sha256(canonical_json(parts).encode("ascii")).hexdigest()[:32]
