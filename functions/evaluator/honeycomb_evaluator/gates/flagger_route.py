"""`POST /v1/flagger`: one Flagger webhook call → one evaluation → 200, or the reason Flagger logs.

The body is Flagger's payload; the caller's token comes from the `Authorization` header when a
proxy adds one, else from `metadata.token` (Flagger webhooks cannot send headers). The filled
request (`metadata.request` or `metadata.slo`) runs exactly as `POST /v1/evaluate` or
`POST /v1/slo` would run it (same validation, caller permissions, sharing and rate budget),
through the `Gates` the app hands in. Every answer is JSON; see flagger.py for the statuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from honeycomb_evaluator.callers.auth import authorize as authorize_caller
from honeycomb_evaluator.callers.registry import Credentials
from honeycomb_evaluator.errors import InvalidRequest
from honeycomb_evaluator.gates.flagger import (
    FlaggerCheck,
    FlaggerPayload,
    GateInputError,
    answer_body,
    read_check,
    rule_on,
    ruling_status,
)
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.models.slo_request import SloRequest
from honeycomb_evaluator.record import EvaluationRecord
from honeycomb_evaluator.validation import validation_error


class Gates(Protocol):
    """The gates a Flagger check can run, as their own routes run them."""

    async def evaluate(self, request: EvaluateRequest, record: EvaluationRecord) -> dict[str, Any]: ...

    async def slo(self, request: SloRequest, record: EvaluationRecord) -> dict[str, Any]: ...


def with_metadata_token(credentials: Credentials, body: Mapping[str, Any]) -> Credentials:
    """The header's credentials if any, else the token of the webhook's metadata."""
    if credentials.bearer_token or credentials.iam_user_arn or credentials.jwt_claims:
        return credentials
    metadata = body.get("metadata")
    token = metadata.get("token") if isinstance(metadata, dict) else None
    if isinstance(token, str) and token and not credentials.unusable_authorization:
        return dataclasses.replace(credentials, bearer_token=token)
    return credentials


async def check_canary(
    body: dict[str, Any], gates: Gates, record: EvaluationRecord
) -> tuple[int, dict[str, Any]]:
    """The status and body Flagger gets for an identified caller (errors are raised)."""
    try:
        payload = FlaggerPayload.model_validate(body)
    except ValidationError as e:
        raise validation_error(e) from None
    try:
        check = read_check(payload)
    except GateInputError as e:
        raise InvalidRequest(e.message, field=e.field) from None
    answer = await _run(check, gates, record)
    ruling = rule_on(payload, check, answer)
    return ruling_status(ruling), answer_body(ruling, answer)


async def _run(check: FlaggerCheck, gates: Gates, record: EvaluationRecord) -> dict[str, Any]:
    """The filled request through its gate, exactly as its own route would run it."""
    model: type[EvaluateRequest | SloRequest] = SloRequest if check.gate == "slo" else EvaluateRequest
    try:
        request = model.model_validate(check.request)
    except ValidationError as e:
        invalid = validation_error(e)
        where = f"metadata.{check.gate}"
        raise InvalidRequest(f"{where}.{invalid.message}", field=f"{where}.{invalid.field}") from None
    assert record.caller is not None
    authorize_caller(record.caller, request.dataset, request.environment)
    if isinstance(request, SloRequest):
        return await gates.slo(request, record)
    return await gates.evaluate(request, record)
