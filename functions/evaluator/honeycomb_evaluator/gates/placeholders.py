"""`{{ name }}`-style placeholders in the string values of a JSON document.

Filled after the document is parsed, value by value, so a substituted value can never change
the document's structure (a name with a quote in it stays inside its string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


class UnknownPlaceholder(ValueError):
    """A placeholder names no variable; `path` is where it was found, dotted."""

    def __init__(self, path: str, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown placeholder {{{{ {name} }}}} at {path or 'the top level'}; known: {', '.join(known)}"
        )
        self.path = path
        self.name = name


def fill(document: Any, variables: Mapping[str, str], path: str = "") -> Any:
    """A copy of `document` with every placeholder in its strings replaced (keys are left alone)."""
    if isinstance(document, str):
        return _fill_string(document, variables, path)
    if isinstance(document, list):
        return [fill(item, variables, _join(path, str(i))) for i, item in enumerate(document)]
    if isinstance(document, dict):
        return {key: fill(value, variables, _join(path, key)) for key, value in document.items()}
    return document


def _fill_string(text: str, variables: Mapping[str, str], path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise UnknownPlaceholder(path, name, sorted(variables))
        return variables[name]

    return PLACEHOLDER.sub(replace, text)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part
