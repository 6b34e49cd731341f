"""What `honeycomb-evaluator serve` tells about itself: Prometheus metrics at /metrics, the
evaluator's own traces over OTLP/HTTP, state-store failures counted (docs/operations.md).

Nothing here is on the Lambda handler's import path: `serve` builds it (serve.py), and the
OpenTelemetry SDK is imported only when OTLP tracing is configured (tracing.py).
"""
