"""Finding a lone UTF-16 surrogate (`"\\ud800"`) in a parsed JSON body.

JSON allows the escape, but it stands for no character: it cannot be encoded as UTF-8, no event
holds it, and Honeycomb (Go) would silently turn it into U+FFFD, so the query would not be the
one asked for. The evaluator refuses it as a 422 naming the field instead.
"""

from __future__ import annotations

import re
from typing import Any

# Only a body that escapes a surrogate can hold a lone one (raw UTF-8 cannot encode it).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def may_hold_lone_surrogate(raw: bytes) -> bool:
    return _SURROGATE_ESCAPE.search(raw) is not None


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The dotted path (`query.filters.1.value`) of the first string or key holding one, or None."""
    if isinstance(value, str):
        return (path or "body") if _SURROGATE.search(value) else None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return f"{path}.{key!a}".lstrip(".")
            items.append((key, item))
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        found = lone_surrogate_path(item, f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None
