"""Honeycomb's enumerations: calculation ops, filter ops, having ops, relational prefixes."""

from __future__ import annotations

from fractions import Fraction

from .relational import EXISTENTIALS, LOOKUPS

# Percentile ops and the exact fraction each stands for (P001 = 0.1 %, P999 = 99.9 %).
PERCENTILES: dict[str, Fraction] = {
    "P001": Fraction(1, 1000),
    "P01": Fraction(1, 100),
    "P05": Fraction(5, 100),
    "P10": Fraction(10, 100),
    "P20": Fraction(20, 100),
    "P25": Fraction(25, 100),
    "P50": Fraction(50, 100),
    "P75": Fraction(75, 100),
    "P80": Fraction(80, 100),
    "P90": Fraction(90, 100),
    "P95": Fraction(95, 100),
    "P99": Fraction(99, 100),
    "P999": Fraction(999, 1000),
}
RATE_OPS = frozenset({"RATE_AVG", "RATE_SUM", "RATE_MAX"})
COLUMNLESS_OPS = frozenset({"COUNT", "CONCURRENCY"})
CALCULATION_OPS: tuple[str, ...] = (
    "COUNT",
    "CONCURRENCY",
    "SUM",
    "AVG",
    "COUNT_DISTINCT",
    "HEATMAP",
    "MAX",
    "MIN",
    *PERCENTILES,
    "RATE_AVG",
    "RATE_SUM",
    "RATE_MAX",
)
HAVING_CALCULATE_OPS = tuple(op for op in CALCULATION_OPS if op != "HEATMAP")
HAVING_OPS = ("=", "!=", ">", ">=", "<", "<=")

NO_VALUE_FILTER_OPS = frozenset({"exists", "does-not-exist"})
LIST_FILTER_OPS = frozenset({"in", "not-in"})
STRING_FILTER_OPS = frozenset(
    {"starts-with", "does-not-start-with", "ends-with", "does-not-end-with", "contains", "does-not-contain"}
)
COMPARISON_FILTER_OPS = frozenset({"=", "!=", ">", ">=", "<", "<="})
FILTER_OPS: tuple[str, ...] = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "starts-with",
    "does-not-start-with",
    "ends-with",
    "does-not-end-with",
    "exists",
    "does-not-exist",
    "contains",
    "does-not-contain",
    "in",
    "not-in",
)

# root. child. parent. any. any2. any3. none. (see relational.py)
RELATIONAL_PREFIXES = tuple(f"{relation}." for relation in (*LOOKUPS, *EXISTENTIALS))

COMPARE_TIME_OFFSETS = frozenset({1800, 3600, 7200, 28800, 86400, 604800, 2419200, 15724800})

DEFAULT_TIME_RANGE = 7200
MAX_WINDOW_SECONDS = 7 * 24 * 3600
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_LIMIT_WITHOUT_SERIES = 10000
MAX_LIST_ITEMS = 100


def result_key(op: str, column: str | None) -> str:
    """The key a calculation's value has in result rows: ``P99(duration_ms)`` or bare ``COUNT``."""
    return op if op in COLUMNLESS_OPS or not column else f"{op}({column})"
