"""The OpenAPI 3.1 document, generated from the pydantic models (committed as docs/openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from honeycomb_evaluator import __version__
from honeycomb_evaluator.gates.flagger import FlaggerPayload
from honeycomb_evaluator.models.gate_responses import FlaggerAnswer, SloResponse
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.models.response import ErrorResponse, EvaluateResponse, Health
from honeycomb_evaluator.models.slo_request import SloRequest

ERRORS = {
    "400": "`malformed_json`: the body is not a JSON object (or nests too deeply); `client_closed`, "
    "`bad_request` (not well-formed HTTP).",
    "401": "`unauthenticated`: no or unknown caller credentials.",
    "403": "`forbidden`: the caller may not use this dataset or environment.",
    "404": "`dataset_not_found`: Honeycomb does not know the dataset.",
    "408": "`request_timeout`: the headers or body did not arrive in time (`serve` only).",
    "413": "`body_too_large`: the body is over 64 KiB.",
    "431": "`headers_too_large`: the request line and headers are over 32 KiB (`serve` only).",
    "422": "`invalid_request` (field named), `ambiguous_selection`, `invalid_query`, `no_data`.",
    "500": "`internal_error` or `not_configured`.",
    "502": "`honeycomb_auth` or `upstream_error`.",
    "503": "`rate_limited` or `overloaded` (`retry_after_seconds` and `Retry-After` set).",
    "504": "`timeout`: retrying the same request resumes the same Honeycomb result.",
}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def openapi_document() -> dict[str, Any]:
    _, schema = models_json_schema(
        [
            (EvaluateRequest, "validation"),
            (EvaluateResponse, "serialization"),
            (ErrorResponse, "serialization"),
            (Health, "serialization"),
            (SloRequest, "validation"),
            (SloResponse, "serialization"),
            (FlaggerPayload, "validation"),
            (FlaggerAnswer, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    error_responses = {
        status: {"description": text, "content": _json("ErrorResponse")} for status, text in ERRORS.items()
    }
    evaluate = {
        "summary": "Run a Honeycomb query and return one number for an Argo Rollouts analysis",
        "operationId": "evaluate",
        "requestBody": {"required": True, "content": _json("EvaluateRequest")},
        "responses": {
            "200": {
                "description": "The selected value (null when there was no data).",
                "content": _json("EvaluateResponse"),
            },
            **error_responses,
        },
    }
    slo = {
        "summary": "One figure of a Honeycomb SLO (no query budget; cached for the 5-minute reporting)",
        "operationId": "slo",
        "requestBody": {"required": True, "content": _json("SloRequest")},
        "responses": {
            "200": {
                "description": "The figure, the SLO's other figures and triggered burn alerts.",
                "content": _json("SloResponse"),
            },
            **error_responses,
            "404": {
                "description": "`slo_not_found` (field `slo_id` or `slo_name`), `dataset_not_found`.",
                "content": _json("ErrorResponse"),
            },
        },
    }
    flagger = {
        "summary": "A Flagger webhook: the evaluation request in `metadata.request`, bounds in `max`/`min`",
        "description": "docs/flagger.md. Flagger retries 429 and 5xx and then logs no body, so an "
        "undecided check answers 424 with the evaluation's error code and message.",
        "operationId": "flagger",
        "requestBody": {"required": True, "content": _json("FlaggerPayload")},
        "responses": {
            "200": {"description": "The check passed.", "content": _json("FlaggerAnswer")},
            "412": {
                "description": "The check failed (`check_failed`, `no_data`).",
                "content": _json("FlaggerAnswer"),
            },
            "424": {
                "description": "Undecided: `rate_limited`, `timeout`, `upstream_error`, `honeycomb_auth`, "
                "`not_configured`.",
                "content": _json("ErrorResponse"),
            },
            **{
                s: r
                for s, r in error_responses.items()
                if s in ("400", "401", "403", "404", "413", "422", "500")
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Honeycomb evaluator for Argo Rollouts",
            "version": __version__,
            "description": "See docs/design.md. Every non-2xx answer is an ErrorResponse.",
        },
        "paths": {
            "/v1/evaluate": {"post": evaluate},
            "/v1/slo": {"post": slo},
            "/v1/flagger": {"post": flagger},
            "/healthz": {
                "get": {
                    "summary": "Liveness (no upstream call)",
                    "operationId": "healthz",
                    "responses": {"200": {"description": "Alive.", "content": _json("Health")}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: the Honeycomb key is readable and the state store answers",
                    "operationId": "readyz",
                    "responses": {
                        "200": {
                            "description": "Ready; `checks` says `ok` for `honeycomb_key` and `state_store`.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "503": {
                            "description": "`not_ready`: the message names the failed check.",
                            "content": _json("ErrorResponse"),
                        },
                    },
                }
            },
        },
        "components": {"schemas": schema["$defs"]},
    }
