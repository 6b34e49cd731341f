"""Call counters behind ``GET /_emulator/stats`` (tests assert on calls, never on time)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

ANONYMOUS = "(no key)"


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._by_key: dict[str, Counter[str]] = {}
            self._query_results_created = 0
            self._rate_limited = 0
            self._faults_applied = 0

    def _key(self, name: str | None) -> Counter[str]:
        return self._by_key.setdefault(name or ANONYMOUS, Counter())

    def request(self, endpoint: str, key_name: str | None) -> None:
        """endpoint is ``METHOD /route/{template}``, e.g. ``POST /1/query_results/{dataset}``."""
        with self._lock:
            self._requests[endpoint] += 1
            self._key(key_name)["requests"] += 1
            self._key(key_name)[endpoint] += 1

    def query_result_created(self, key_name: str) -> None:
        with self._lock:
            self._query_results_created += 1
            self._key(key_name)["query_results_created"] += 1

    def rate_limited(self, key_name: str) -> None:
        with self._lock:
            self._rate_limited += 1
            self._key(key_name)["rate_limited"] += 1

    def fault_applied(self) -> None:
        with self._lock:
            self._faults_applied += 1

    def snapshot(self, events: int) -> dict[str, Any]:
        with self._lock:
            by_key: dict[str, dict[str, Any]] = {}
            for name, counter in self._by_key.items():
                by_key[name] = {
                    "requests": counter["requests"],
                    "query_results_created": counter["query_results_created"],
                    "rate_limited": counter["rate_limited"],
                    "endpoints": {k: v for k, v in counter.items() if " " in k},
                }
            return {
                "requests": dict(self._requests),
                "by_key": by_key,
                "query_results_created": self._query_results_created,
                "rate_limited": self._rate_limited,
                "faults_applied": self._faults_applied,
                "events": events,
            }
