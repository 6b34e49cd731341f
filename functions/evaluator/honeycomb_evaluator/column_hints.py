"""When Honeycomb rejects a query, name the columns it does not know and the closest real ones.

The dataset's columns are one GET away (free, no query budget) and kept for a few minutes, so a
misspelt `duration_mss` answers "did you mean 'duration_ms'?" instead of only Honeycomb's text.
Nothing here may turn a useful error into a worse one: any failure keeps the original error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.honeycomb.client import HoneycombClient, Scope
from honeycomb_evaluator.honeycomb.errors import HoneycombError, HoneycombInvalidQuery
from honeycomb_evaluator.sharing.fingerprint import spec_columns
from honeycomb_evaluator.validation import close_matches

COLUMNS_MAX_AGE_SECONDS = 300.0
LOOKUP_SECONDS = 2.0  # at most this much of the caller's deadline goes to the hint


class ColumnHints:
    def __init__(self, client: HoneycombClient) -> None:
        self._client = client
        self._columns: BoundedCache[frozenset[str]] = BoundedCache(
            256, retention_seconds=COLUMNS_MAX_AGE_SECONDS
        )

    async def explain(
        self, error: HoneycombInvalidQuery, scope: Scope, spec: Mapping[str, Any]
    ) -> HoneycombInvalidQuery:
        """`error` with a did-you-mean for each column of `spec` the dataset lacks (else as it was)."""
        calculated = {f.get("name") for f in spec.get("calculated_fields") or [] if isinstance(f, Mapping)}
        named = [c for c in dict.fromkeys(spec_columns(spec)) if c not in calculated]
        if not named or scope.dataset == "__all__":
            return error
        try:
            known = await self._known(scope)
        except HoneycombError:
            return error
        hints = []
        for column in named:
            if column in known:
                continue
            close = close_matches(column, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "no similar column"
            hints.append(f"{scope.dataset} has no column {column!r} ({hint})")
        if not hints:
            return error
        return HoneycombInvalidQuery(f"{error.message}; {'; '.join(hints)}", status=error.status)

    async def _known(self, scope: Scope) -> frozenset[str]:
        cache_key = f"{scope.target.key_id}/{scope.dataset}"
        known = self._columns.value(cache_key)
        if known is None:
            deadline = min(scope.deadline, time.monotonic() + LOOKUP_SECONDS)
            lookup = Scope(scope.target, scope.dataset, deadline, scope.stats)
            known = frozenset(await self._client.list_columns(lookup))
            self._columns.put(cache_key, known)
        return known
