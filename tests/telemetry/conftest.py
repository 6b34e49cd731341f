"""The evaluator suite's servers (tests/evaluator/conftest.py), for the tests of `serve`'s telemetry."""

from tests.evaluator.conftest import _clean_emulator, emulator, stack

__all__ = ["_clean_emulator", "emulator", "stack"]
