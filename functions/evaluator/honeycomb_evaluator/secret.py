"""A string that never shows itself in a repr, str or log line (the Honeycomb key).

The same contract as pydantic's `SecretStr` (`get_secret_value()`), without importing pydantic's
type machinery, which would cost about a fifth of the Lambda handler's import (see
docs/performance.md "Evaluator").
"""

from __future__ import annotations

from typing import Any


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)
