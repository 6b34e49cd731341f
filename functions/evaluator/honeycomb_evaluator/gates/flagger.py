"""Flagger's webhook payload, the check its metadata describes, and the answer Flagger reads.

Flagger POSTs `{"name", "namespace", "phase", "checksum", "metadata": {string: string}}` to
`rollout` and `confirm-promotion` webhooks and counts any status above 202 as a failed check,
logging the body it got. Its HTTP client (go-retryablehttp) retries 429 and 5xx answers and then
reports only "giving up after N attempt(s)", dropping the body, so the reason of a check that
could not be decided is sent with 424 instead (see `flagger_status`).

Metadata:
- `request`: an evaluation request (the body of `POST /v1/evaluate`) as a JSON string, or `slo`:
  an SLO gate request (the body of `POST /v1/slo`); their string values may hold placeholders:
  `{{ name }}` / `{{ target }}` (the canary workload), `{{ primary }}` (`<name>-primary`,
  Flagger's baseline), `{{ namespace }}`, `{{ phase }}`, `{{ checksum }}` and
  `{{ variables.<key> }}` for any other metadata entry;
- `max` / `min`: the bounds `value` must stay within (inclusive); at least one, unless the
  request carries a canary judgement (`judge`), whose verdict decides;
- `no_data`: `fail` (default) or `pass`, what `value: null` means;
- `token`: the caller's bearer token (Flagger webhooks cannot send headers).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from honeycomb_evaluator.gates.placeholders import UnknownPlaceholder, fill

CHECK_FAILED_STATUS = 412
UNDECIDED_STATUS = 424
RESERVED_KEYS = frozenset({"request", "slo", "max", "min", "no_data", "token"})


class FlaggerPayload(BaseModel):
    """Flagger's `CanaryWebhookPayload`. Unknown fields are ignored: a newer Flagger may add some."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    name: Annotated[StrictStr, Field(min_length=1, max_length=253)] = Field(description="The canary's name.")
    namespace: Annotated[StrictStr, Field(min_length=1, max_length=253)]
    phase: StrictStr = Field(default="", description="Flagger's canary phase, e.g. `Progressing`.")
    checksum: StrictStr = ""
    metadata: dict[StrictStr, StrictStr] = Field(
        default_factory=dict,
        description="`request` or `slo` (JSON), `max`, `min`, `no_data`, `token`, variables: docs/flagger.md",
    )

    @property
    def canary(self) -> str:
        return f"{self.namespace}/{self.name}"


class GateInputError(ValueError):
    """The webhook's metadata is wrong (the caller's mistake); `field` names the place, dotted."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FlaggerCheck:
    gate: Literal["request", "slo"]  # which metadata key held the request: which gate runs it
    request: dict[str, Any]  # placeholders filled, not yet validated
    max: float | None
    min: float | None
    no_data: Literal["fail", "pass"]


@dataclass(frozen=True)
class Ruling:
    """A Flagger check passed or failed, and the sentence Flagger logs."""

    passed: bool
    code: str | None  # why it failed: `check_failed` or `no_data`
    reason: str


def variables_of(payload: FlaggerPayload) -> dict[str, str]:
    """What placeholders may name: the payload's fields and the non-reserved metadata entries."""
    variables = {
        "name": payload.name,
        "target": payload.name,  # the spelling of Flagger's own metric templates
        "primary": f"{payload.name}-primary",
        "namespace": payload.namespace,
        "phase": payload.phase,
        "checksum": payload.checksum,
    }
    for key, value in payload.metadata.items():
        if key not in RESERVED_KEYS:
            variables[f"variables.{key}"] = value
    return variables


def read_check(payload: FlaggerPayload) -> FlaggerCheck:
    metadata = payload.metadata
    gate: Literal["request", "slo"] = "slo" if "slo" in metadata else "request"
    if gate not in metadata or ("slo" in metadata and "request" in metadata):
        raise GateInputError(
            "metadata.request", "metadata needs exactly one of request (an evaluation) and slo (an SLO gate)"
        )
    where = f"metadata.{gate}"
    try:
        document = json.loads(metadata[gate])
    except ValueError as e:
        raise GateInputError(where, f"{where} is not valid JSON: {e}") from None
    if not isinstance(document, dict):
        raise GateInputError(where, f"{where} must be a JSON object")
    try:
        request = fill(document, variables_of(payload))
    except UnknownPlaceholder as e:
        raise GateInputError(_dotted(where, e.path), str(e)) from None
    upper, lower = _bound(metadata, "max"), _bound(metadata, "min")
    if upper is None and lower is None and "judge" not in request:
        raise GateInputError("metadata", "metadata needs max or min (or a judge in the request) to decide")
    if upper is not None and lower is not None and lower > upper:
        raise GateInputError("metadata.min", f"metadata.min {lower:g} is above metadata.max {upper:g}")
    no_data = metadata.get("no_data", "fail")
    if no_data not in ("fail", "pass"):
        raise GateInputError("metadata.no_data", "metadata.no_data must be fail or pass")
    policy: Literal["fail", "pass"] = "pass" if no_data == "pass" else "fail"
    return FlaggerCheck(gate=gate, request=request, max=upper, min=lower, no_data=policy)


def _bound(metadata: dict[str, str], key: str) -> float | None:
    text = metadata.get(key)
    if text is None:
        return None
    try:
        bound = float(text)
    except ValueError:
        raise GateInputError(f"metadata.{key}", f"metadata.{key} must be a number, not {text!r}") from None
    if not math.isfinite(bound):
        raise GateInputError(f"metadata.{key}", f"metadata.{key} must be a finite number")
    return bound


def _dotted(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix


def rule_on(payload: FlaggerPayload, check: FlaggerCheck, answer: dict[str, Any]) -> Ruling:
    """Pass or fail from an evaluation answer: the judgement's verdict if any, else the bounds."""
    where = f"{payload.canary} ({payload.phase or 'no phase'})"
    verdict = answer.get("verdict")
    if isinstance(verdict, str):
        reason = f"{where}: verdict {verdict}" + (f": {answer['reason']}" if answer.get("reason") else "")
        return Ruling(verdict == "pass", None if verdict == "pass" else "check_failed", reason)
    calculation = answer.get("calculation") or answer.get("figure") or "value"
    value = answer.get("value")
    if value is None:
        passed = check.no_data == "pass"
        return Ruling(
            passed,
            None if passed else "no_data",
            f"{where}: no data for {calculation} (no_data: {check.no_data})",
        )
    described = f"{where}: {calculation} = {_number(value)}"
    if check.max is not None and value > check.max:
        return Ruling(False, "check_failed", f"{described} is above max {_number(check.max)}")
    if check.min is not None and value < check.min:
        return Ruling(False, "check_failed", f"{described} is below min {_number(check.min)}")
    return Ruling(True, None, f"{described} is within {_bounds(check)}")


def _bounds(check: FlaggerCheck) -> str:
    parts = []
    if check.min is not None:
        parts.append(f"min {_number(check.min)}")
    if check.max is not None:
        parts.append(f"max {_number(check.max)}")
    return " and ".join(parts) or "the judgement"


def _number(value: float) -> str:
    return f"{value:.6g}"


def answer_body(ruling: Ruling, answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON Flagger gets. On failure `error` comes first, so Flagger's log line starts with why."""
    facts = {"passed": ruling.passed, "reason": ruling.reason, "value": answer.get("value")}
    for key in ("verdict", "query_url", "window", "slo_url", "triggered_burn_alerts"):
        if key in answer:
            facts[key] = answer[key]
    if ruling.passed:
        return facts
    return {"error": {"code": ruling.code or "check_failed", "message": ruling.reason}, **facts}


def ruling_status(ruling: Ruling) -> int:
    return 200 if ruling.passed else CHECK_FAILED_STATUS


def flagger_status(status: int, code: str) -> int:
    """The status Flagger gets for an evaluation error: one its client passes on with the body.

    429 and 5xx would be retried and then logged without their body; a bug (`internal_error`)
    stays a 500, since its body says nothing a Flagger user could act on.
    """
    if status == 429 or (status >= 500 and code != "internal_error"):
        return UNDECIDED_STATUS
    return status
