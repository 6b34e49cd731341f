"""A pydantic validation error as the one 422 a person can act on: the field, what is wrong, a fix.

The message names the first offending field as a dotted path (`query.calculations.0.op`),
suggests the closest allowed value for a misspelt name (`P98` → did you mean `P99`?), and says
window lengths in days and hours rather than only seconds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from honeycomb_evaluator.errors import InvalidRequest

# pydantic-core names union members and validators in error locations; they are not fields.
_TYPE_TAG = re.compile(r"^(int|float|str|bool|none|bytes|constrained-\w+|[\w-]+\[.*\])$")
_QUOTED = re.compile(r"'([^']*)'")
_SECONDS_FIELDS = {
    "time_range",
    "start_time",
    "end_time",
    "granularity",
    "timeout_seconds",
    "max_age_seconds",
}


def validation_error(exc: ValidationError) -> InvalidRequest:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = first["loc"]
    # The first element is always a real top-level field (whatever its name).
    parts = [str(p) for i, p in enumerate(loc) if i == 0 or not (isinstance(p, str) and _TYPE_TAG.match(p))]
    field = _dotted(parts) or "body"
    message = first["msg"].removeprefix("Value error, ") + _hint(first, parts[-1] if parts else "")
    others = len({tuple(e["loc"][:2]) for e in errors}) - 1
    suffix = f" (and {others} more problem{'s' if others > 1 else ''})" if others > 0 else ""
    return InvalidRequest(f"{field}: {message}{suffix}", field=field)


def _dotted(parts: list[str]) -> str:
    """`query.calculations.0.op`; below the top level, a key that is empty or holds a dot is quoted
    (`query.orders.0["."]`) so the path stays unambiguous. The top-level name is given as sent."""
    path = parts[0] if parts else ""
    for part in parts[1:]:
        path += f".{part}" if part and "." not in part and '"' not in part else json.dumps(part).join("[]")
    return path


def _hint(error: Any, name: str) -> str:
    given = error.get("input")
    context = error.get("ctx") or {}
    if error["type"] == "literal_error" and isinstance(given, str) and len(given) <= 100:
        allowed = _QUOTED.findall(str(context.get("expected", "")))
        close = close_matches(given.upper(), [a.upper() for a in allowed], n=1, cutoff=0.5)
        if close:
            suggestion = next(a for a in allowed if a.upper() == close[0])
            return f"; did you mean {suggestion!r}?"
    bound = context.get("le", context.get("lt", context.get("ge", context.get("gt"))))
    if name in _SECONDS_FIELDS and isinstance(bound, int | float) and bound >= 3600:
        shown = f" ({human_duration(bound)})"
        if isinstance(given, int | float) and not isinstance(given, bool):
            shown += f"; got {human_duration(given)}"
        return shown
    return ""


def human_duration(seconds: float) -> str:
    """`604800` → `7 days`, `5400` → `1 hour 30 minutes`, `45` → `45 seconds`."""
    remaining = int(seconds)
    if remaining < 60:
        return f"{remaining} second{'s' if remaining != 1 else ''}"
    pieces = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count, remaining = divmod(remaining, size)
        if count:
            pieces.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(pieces[:2])


def close_matches(word: str, candidates: list[str], *, n: int, cutoff: float) -> list[str]:
    # difflib costs a few milliseconds to import: only requests that need a suggestion pay them.
    import difflib

    matches: list[str] = difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)
    return matches
