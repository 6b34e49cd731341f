"""`honeycomb-evaluator`: serve the API, evaluate one request file, print the OpenAPI document.

honeycomb-evaluator serve [--host 127.0.0.1] [--port 8080]
honeycomb-evaluator evaluate request.json      # one-shot; "-" reads stdin
honeycomb-evaluator openapi                    # the document committed as docs/openapi.json
honeycomb-evaluator hash-token TOKEN           # SHA-256 hex for the caller registry
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from honeycomb_evaluator.serving import ConcurrencyLimit, protocol_for, with_descriptors
    from honeycomb_evaluator.settings import Settings
    from honeycomb_evaluator.telemetry.serve import ObservedApp, served_app

    settings = Settings.from_env()
    limits = with_descriptors(settings.server)
    observed: ObservedApp = served_app(settings)
    # Metrics and spans outermost, so the cap's own refusals (503 overloaded) are seen too.
    observed.app = ConcurrencyLimit(observed.app, limits.max_concurrent_requests)
    uvicorn.run(
        observed,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # Our own JSON logs carry the request details; uvicorn's access log would duplicate them.
        access_log=False,
        lifespan="off",
        # Read timeouts, the connection cap and requests per connection (serving.py).
        http=protocol_for(limits),
        # Connections a burst opens at once wait in the kernel's queue until accepted (the kernel
        # caps it at net.core.somaxconn).
        backlog=max(2048, limits.max_connections),
        # Callers keep connections alive between measurements. With uvicorn's 5 s default the
        # server closes idle ones just as a client (httpx also expires them at 5 s) may be sending
        # on them, and that request is lost. Outlast common clients' idle timeouts (Go's default
        # transport: 90 s; default 120 s) so the client, not the server, closes idle connections.
        timeout_keep_alive=max(1, round(limits.keepalive_timeout_seconds)),
        # On SIGTERM (Kubernetes stopping the pod) stop accepting, let running evaluations finish
        # for this long, then exit: inside the default 30 s termination grace period.
        timeout_graceful_shutdown=args.graceful_timeout,
    )
    return 0


async def _evaluate_once(body: Any) -> tuple[int, dict[str, Any]]:
    """The same path as the served app, on the in-process memory backend."""
    from pydantic import ValidationError

    from honeycomb_evaluator.errors import MalformedJson, answer_for
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.record import EvaluationRecord
    from honeycomb_evaluator.service import build_service
    from honeycomb_evaluator.settings import Settings
    from honeycomb_evaluator.state.memory import MemoryStore
    from honeycomb_evaluator.validation import validation_error

    service = build_service(Settings.from_env(), store=MemoryStore())
    try:
        if not isinstance(body, dict):
            raise MalformedJson("the request must be a JSON object")
        try:
            request = EvaluateRequest.model_validate(body)
        except ValidationError as e:
            raise validation_error(e) from None
        return 200, await service.evaluate(request, EvaluationRecord())
    except Exception as e:
        answer = answer_for(e)
        return answer.status, answer.body()
    finally:
        await service.evaluator.client.aclose()


def _evaluate(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text()
        body = json.loads(text)
    except OSError as e:
        print(json.dumps({"error": {"code": "bad_file", "message": str(e)}}), file=sys.stderr)
        return 2
    except ValueError as e:
        print(json.dumps({"error": {"code": "malformed_json", "message": str(e)}}), file=sys.stderr)
        return 2
    from honeycomb_evaluator.observability import logger

    # stdout carries only the answer; the JSON log lines and EMF metrics go to stderr.
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        status, answer = asyncio.run(_evaluate_once(body))
    print(json.dumps(answer, indent=2))
    return 0 if status == 200 else 1


def _openapi(args: argparse.Namespace) -> int:
    from honeycomb_evaluator.openapi import openapi_document

    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
    return 0


def _hash_token(args: argparse.Namespace) -> int:
    print(hashlib.sha256(args.token.encode()).hexdigest())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="honeycomb-evaluator", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve POST /v1/evaluate over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=20.0,
        help="seconds running requests may take to finish after SIGTERM (default 20)",
    )
    serve.set_defaults(run=_serve)

    evaluate = commands.add_parser("evaluate", help="evaluate one request (a JSON file, or - for stdin)")
    evaluate.add_argument("request")
    evaluate.set_defaults(run=_evaluate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)

    hash_token = commands.add_parser("hash-token", help="print a token's SHA-256 for the caller registry")
    hash_token.add_argument("token")
    hash_token.set_defaults(run=_hash_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
