"""The Flagger gate's pure parts: payload, placeholders, the check in metadata, the ruling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.gates.flagger import (
    CHECK_FAILED_STATUS,
    UNDECIDED_STATUS,
    FlaggerPayload,
    GateInputError,
    answer_body,
    flagger_status,
    read_check,
    rule_on,
    ruling_status,
)
from honeycomb_evaluator.gates.placeholders import UnknownPlaceholder, fill
from honeycomb_evaluator.models.request import EvaluateRequest

# The request of infra/flagger's Canary: the canary workload's error rate.
REQUEST = {
    "dataset": "checkout",
    "query": {
        "calculations": [{"op": "AVG", "column": "is_error"}],
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "filters": [
            {"column": "k8s.deployment.name", "op": "=", "value": "{{ name }}"},
            {"column": "k8s.namespace.name", "op": "=", "value": "{{namespace}}"},
        ],
        "time_range": 300,
    },
}


def payload(**metadata: str) -> FlaggerPayload:
    """What Flagger's CallWebhook sends (field names as in its CanaryWebhookPayload)."""
    return FlaggerPayload.model_validate(
        {
            "name": "podinfo",
            "namespace": "test",
            "phase": "Progressing",
            "checksum": "6d4c9f8b7",
            "metadata": {"request": json.dumps(REQUEST), **metadata},
        }
    )


def answer(value: float | None, **extra: Any) -> dict[str, Any]:
    return {"value": value, "calculation": "AVG(is_error)", "query_url": "http://ui/x", **extra}


def test_placeholders_are_filled_from_the_payload_and_the_request_validates() -> None:
    check = read_check(payload(max="0.02"))
    filters = check.request["query"]["filters"]
    assert [f["value"] for f in filters] == ["podinfo", "test"]
    EvaluateRequest.model_validate(check.request)  # the filled request is an ordinary one


def test_primary_target_phase_checksum_and_variables() -> None:
    request = {"a": "{{primary}}", "b": ["{{ target }}/{{phase}}/{{checksum}}"], "c": "{{ variables.hash }}"}
    check = read_check(payload(request=json.dumps(request), max="1", hash=DEMO_HASHES["bad"]))
    assert check.request == {
        "a": "podinfo-primary",
        "b": ["podinfo/Progressing/6d4c9f8b7"],
        "c": DEMO_HASHES["bad"],
    }


def test_a_value_with_quotes_cannot_change_the_request_structure() -> None:
    filled = fill({"v": "{{ variables.x }}"}, {"variables.x": '", "evil": "1'})
    assert filled == {"v": '", "evil": "1'}


def test_reserved_metadata_keys_are_not_variables() -> None:
    with pytest.raises(GateInputError) as e:
        read_check(payload(request=json.dumps({"v": "{{ variables.token }}"}), max="1", token="secret"))
    assert e.value.field == "metadata.request.v"
    assert "secret" not in e.value.message


def test_unknown_placeholder_names_its_place() -> None:
    with pytest.raises(UnknownPlaceholder) as e:
        fill({"query": {"filters": [{"value": "{{ canary }}"}]}}, {"name": "x"})
    assert e.value.path == "query.filters.0.value"
    assert "canary" in str(e.value)


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"request": "{not json"}, "metadata.request"),
        ({"request": "[1]"}, "metadata.request"),
        ({"max": "two"}, "metadata.max"),
        ({"min": "nan"}, "metadata.min"),
        ({"min": "5", "max": "1"}, "metadata.min"),
        ({"no_data": "maybe", "max": "1"}, "metadata.no_data"),
        ({}, "metadata"),  # neither bound: nothing would ever fail
    ],
)
def test_metadata_mistakes_name_the_field(metadata: dict[str, str], field: str) -> None:
    with pytest.raises(GateInputError) as e:
        read_check(payload(**metadata))
    assert e.value.field == field


def test_missing_request() -> None:
    bare = FlaggerPayload.model_validate({"name": "a", "namespace": "b", "metadata": {"max": "1"}})
    with pytest.raises(GateInputError) as e:
        read_check(bare)
    assert e.value.field == "metadata.request"


def test_unknown_payload_fields_from_a_newer_flagger_are_ignored() -> None:
    parsed = FlaggerPayload.model_validate({"name": "a", "namespace": "b", "phase": "X", "future": 1})
    assert parsed.canary == "b/a"


def test_above_max_fails_with_a_reason_first_in_the_body() -> None:
    p = payload(max="0.02")
    ruling = rule_on(p, read_check(p), answer(0.08))
    assert not ruling.passed
    assert ruling_status(ruling) == CHECK_FAILED_STATUS == 412
    body = answer_body(ruling, answer(0.08))
    assert next(iter(body)) == "error"  # Flagger logs the body as it comes: the reason leads
    assert body["error"] == {
        "code": "check_failed",
        "message": "test/podinfo (Progressing): AVG(is_error) = 0.08 is above max 0.02",
    }
    assert body["passed"] is False
    assert body["query_url"] == "http://ui/x"


def test_within_bounds_passes() -> None:
    p = payload(max="0.02", min="0")
    ruling = rule_on(p, read_check(p), answer(0.005))
    assert ruling.passed
    assert ruling_status(ruling) == 200
    body = answer_body(ruling, answer(0.005))
    assert "error" not in body
    assert body["reason"] == "test/podinfo (Progressing): AVG(is_error) = 0.005 is within min 0 and max 0.02"


def test_below_min_fails() -> None:
    p = payload(min="10")
    ruling = rule_on(p, read_check(p), answer(3))
    assert (ruling.passed, ruling.code) == (False, "check_failed")
    assert ruling.reason.endswith("= 3 is below min 10")


def test_bounds_are_inclusive() -> None:
    p = payload(max="0.02", min="0.02")
    assert rule_on(p, read_check(p), answer(0.02)).passed


@pytest.mark.parametrize(("policy", "passed"), [(None, False), ("fail", False), ("pass", True)])
def test_no_data(policy: str | None, passed: bool) -> None:
    p = payload(max="0.02", **({"no_data": policy} if policy else {}))
    ruling = rule_on(p, read_check(p), answer(None))
    assert ruling.passed is passed
    assert ruling.code == (None if passed else "no_data")
    assert "no data for AVG(is_error)" in ruling.reason


def test_a_judgement_verdict_decides_when_present() -> None:
    request = {**REQUEST, "judge": {"direction": "increase"}}
    p = payload(request=json.dumps(request))  # no bounds needed with a judge
    check = read_check(p)
    failed = rule_on(p, check, answer(3.9, verdict="high", reason="canary is 3.9x baseline"))
    assert (failed.passed, failed.code) == (False, "check_failed")
    assert failed.reason == "test/podinfo (Progressing): verdict high: canary is 3.9x baseline"
    assert rule_on(p, check, answer(1.0, verdict="pass")).passed


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "rate_limited", UNDECIDED_STATUS),
        (503, "rate_limited", UNDECIDED_STATUS),
        (504, "timeout", UNDECIDED_STATUS),
        (502, "upstream_error", UNDECIDED_STATUS),
        (500, "not_configured", UNDECIDED_STATUS),
        (500, "internal_error", 500),
        (422, "invalid_request", 422),
        (401, "unauthenticated", 401),
    ],
)
def test_statuses_flagger_would_retry_and_then_log_without_body_become_424(
    status: int, code: str, expected: int
) -> None:
    assert flagger_status(status, code) == expected
