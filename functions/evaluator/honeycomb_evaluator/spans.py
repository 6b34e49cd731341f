"""The evaluator's own trace spans, for OpenTelemetry when `serve` turns it on.

Nothing here imports OpenTelemetry. `serve` with OTLP tracing configured installs a `Tracer`
(telemetry/tracing.py); until then every span is a shared no-op costing one global lookup, so
the Lambda handler (which traces to X-Ray through Powertools, observability.traced) and the CLI
pay nothing. Attributes are the caller's to choose: never the Honeycomb key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Attribute = str | bool | int | float


class Span(Protocol):
    def set(self, attributes: Mapping[str, Attribute | None]) -> None:
        """Add attributes (None values are left out)."""

    def failed(self, error_type: str) -> None:
        """Mark the span as an error of this kind (a class name or code, never a message)."""


class Tracer(Protocol):
    def span(self, name: str, attributes: Mapping[str, Attribute | None]) -> AbstractContextManager[Span]:
        """A child of the current span, current while the block runs."""

    def current(self) -> Span:
        """The span current here (the request's, inside `serve`)."""


class _NoSpan:
    def set(self, attributes: Mapping[str, Attribute | None]) -> None:
        pass

    def failed(self, error_type: str) -> None:
        pass


NO_SPAN: Span = _NoSpan()
_tracer: Tracer | None = None


def install(tracer: Tracer | None) -> None:
    """Send spans to `tracer` from now on (None: stop)."""
    global _tracer
    _tracer = tracer


def active() -> bool:
    return _tracer is not None


@contextmanager
def _nothing() -> Iterator[Span]:
    yield NO_SPAN


def span(name: str, **attributes: Attribute | None) -> AbstractContextManager[Span]:
    """A span around a block (a no-op unless a tracer is installed)."""
    if _tracer is None:
        return _nothing()
    return _tracer.span(name, attributes)


def current() -> Span:
    return NO_SPAN if _tracer is None else _tracer.current()
