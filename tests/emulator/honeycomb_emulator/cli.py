"""``honeycomb-emulator``: run the emulator with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from .auth import KeySpecError, parse_key_spec
from .config import Settings

log = logging.getLogger("honeycomb_emulator")


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="honeycomb-emulator",
        description="A local Honeycomb stand-in: ingest, Query Data API, SLOs, auth, test controls.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="[NAME=]KEY[:PERM,...]",
        help="accept this X-Honeycomb-Team key (repeatable). PERM: queries, columns, slos, events, "
        "createDatasets, markers, triggers, boards, recipients, privateBoards, all, ingest. No PERM: all. "
        "Without any --api-key the key 'emulator-key' has every permission.",
    )
    parser.add_argument(
        "--demo", action="store_true", help="seed and keep feeding the 'checkout' demo dataset"
    )
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep events in DIR across restarts")
    parser.add_argument(
        "--result-delay-ms",
        type=int,
        default=500,
        help="how long a query result stays complete:false (default 500)",
    )
    parser.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=10,
        help="query-result creations per minute per key (default 10, as Honeycomb)",
    )
    parser.add_argument(
        "--rate-limit-window-seconds",
        type=float,
        default=60.0,
        help="the rolling window those limits apply to (default 60; shorter compresses time in simulations)",
    )
    parser.add_argument(
        "--relational-rate-limit-per-minute",
        type=int,
        default=1,
        help="the same for relational-field queries",
    )
    parser.add_argument(
        "--slos", type=Path, metavar="FILE", help="SLOs and derived columns to define (YAML or JSON)"
    )
    parser.add_argument("--team", default="emulator", help="team slug used in links and /1/auth")
    parser.add_argument("--environment", default="emulator", help="environment slug shown by /1/auth")
    args = parser.parse_args(argv)
    try:
        keys = tuple(parse_key_spec(k) for k in args.api_key)
    except KeySpecError as e:
        parser.error(str(e))
    if args.result_delay_ms < 0:
        parser.error("--result-delay-ms must be >= 0")
    if args.rate_limit_per_minute < 1 or args.relational_rate_limit_per_minute < 1:
        parser.error("rate limits must be >= 1")
    if args.rate_limit_window_seconds <= 0:
        parser.error("--rate-limit-window-seconds must be > 0")
    if args.slos is not None and not args.slos.is_file():
        parser.error(f"--slos {args.slos}: no such file")
    return Settings(
        host=args.host,
        port=args.port,
        keys=keys,
        demo=args.demo,
        data_dir=args.data,
        result_delay_ms=args.result_delay_ms,
        rate_limit_per_minute=args.rate_limit_per_minute,
        relational_rate_limit_per_minute=args.relational_rate_limit_per_minute,
        rate_limit_window_seconds=args.rate_limit_window_seconds,
        slos_file=args.slos,
        team_slug=args.team,
        team_name=args.team,
        environment_slug=args.environment,
        environment_name=args.environment,
    )


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Imported here so that --help works even before the engine's dependencies load.
    from .app import build_app
    from .engine import Store

    if settings.data_dir is not None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.data_dir)
    app = build_app(settings, store)
    log.info("honeycomb emulator on http://%s:%d (demo=%s)", settings.host, settings.port, settings.demo)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    sys.exit(0)
