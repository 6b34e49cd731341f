"""Pick the one number an Argo metric judges, out of Honeycomb's rows or time buckets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.errors import AmbiguousSelection, InvalidRequest, NoData
from honeycomb_evaluator.honeycomb.results import QueryResult

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest, Reduction


def ambiguous(message: str) -> AmbiguousSelection:
    return AmbiguousSelection(message, field="select")


def choose_calculation(request: EvaluateRequest) -> str:
    """The result key to read; checked before any call so a typo costs no query run."""
    keys = request.query.calculation_keys
    select = request.select
    if select is not None and select.calculation is not None:
        if select.calculation not in keys:
            raise InvalidRequest(
                field="select.calculation",
                message=f"select.calculation {select.calculation!r} is not one of the query's "
                f"calculations: {keys}",
            )
        return select.calculation
    numeric = [k for k in keys if not k.startswith("HEATMAP(")]
    if len(numeric) == 1:
        return numeric[0]
    raise ambiguous(
        f"the query has several calculations {keys}; "
        f'set "select": {{"calculation": "{numeric[0] if numeric else keys[0]}"}} to pick one'
    )


def check_match(request: EvaluateRequest) -> None:
    select = request.select
    if select is None:
        return
    unknown = sorted(set(select.match) - set(request.query.breakdowns))
    if unknown:
        raise InvalidRequest(
            field="select.match",
            message=f"select.match columns {unknown} are not breakdowns of the query: "
            f"{request.query.breakdowns}",
        )


def _same(actual: Any, wanted: Any) -> bool:
    """Breakdown values compare as Honeycomb shows them: `200` matches 200, `true` matches True."""
    if actual == wanted and type(actual) is type(wanted):
        return True
    return _text(actual) == _text(wanted)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def matching_rows(rows: Iterable[Mapping[str, Any]], match: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [row for row in rows if all(col in row and _same(row[col], want) for col, want in match.items())]


def number_in_result(value: Any, calculation: str) -> float | None:
    """A calculation's value in a result row; None where Honeycomb found nothing (or not finite)."""
    if value is None:
        return None  # Honeycomb leaves a calculation out or null where nothing matched
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(
            field="select.calculation",
            message=f"{calculation} is not a number in the result (got {type(value).__name__}); "
            "select another",
        )
    number = float(value)
    return number if math.isfinite(number) else None


def reduce_values(values: Sequence[float], how: Reduction) -> float:
    if how == "first":
        return values[0]
    if how == "last":
        return values[-1]
    if how == "min":
        return min(values)
    if how == "max":
        return max(values)
    total = math.fsum(values)
    if how == "sum":
        return total
    # fsum/len can land one ulp outside [min, max]; an average of equal values must be that value.
    return min(max(total / len(values), min(values)), max(values))


def select_value(request: EvaluateRequest, result: QueryResult, calculation: str) -> float | None:
    """The value for the response; None means no data (the `empty` policy is applied here)."""
    # The request models are loaded by now (the request was validated); imported here so that
    # importing the app does not build them (docs/performance.md "Evaluator").
    from honeycomb_evaluator.models.request import Select

    select = request.select or Select()
    if select.over == "series":
        rows: list[Mapping[str, Any]] = [point["data"] for point in result.series]
    else:
        rows = list(result.results)
    rows = matching_rows(rows, select.match)
    if request.select is None and len(rows) > 1:
        columns = request.query.breakdowns
        example = columns[0] if columns else "column"
        raise ambiguous(
            f"the result has {len(rows)} rows; pick one with "
            f'"select": {{"match": {{"{example}": "<value>"}}}} or combine them with '
            '"select": {"reduce": "max"} (first, last, min, max, sum, avg)'
        )
    values = [
        v for v in (number_in_result(row.get(calculation), calculation) for row in rows) if v is not None
    ]
    if values:
        return reduce_values(values, select.reduce)
    if request.empty == "zero":
        return 0.0
    if request.empty == "error":
        raise NoData(f"the query returned no data for {calculation} (empty: error)")
    return None
