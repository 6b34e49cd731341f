"""Run a built Lambda artifact's handler over event files, like one warm execution environment.

    python -I -S invoke.py ARTIFACT_DIR SDK_DIR OUT.json EVENT.json...

Started with `-I -S`, so sys.path is the standard library only; this adds the artifact (Lambda's
/var/task) and the stand-in for the runtime's AWS SDK, imports the handler named by `_HANDLER`
and writes to OUT.json the responses plus what it measured: the handler's import time, each
invocation's wall and CPU time, and the peak RSS. Only the standard library is used here.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path


class LambdaContext:
    """The attributes Powertools and Mangum read from Lambda's context object."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/25/[$LATEST]local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    artifact, sdk, out, *events = argv
    sys.path[:0] = [artifact, sdk]
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    started, started_cpu = time.perf_counter(), time.process_time()
    handler = getattr(importlib.import_module(module_name), attribute)
    import_ms = (time.perf_counter() - started) * 1000
    import_cpu_ms = (time.process_time() - started_cpu) * 1000
    responses, wall_ms, cpu_ms = [], [], []
    for event_path in events:
        event = json.loads(Path(event_path).read_text())
        context = LambdaContext(
            os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function"),
            int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
            timeout_seconds=28.0,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        responses.append(handler(event, context))
        wall_ms.append((time.perf_counter() - wall) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    measured = {
        "import_ms": import_ms,
        "import_cpu_ms": import_cpu_ms,
        "wall_ms": wall_ms,
        "cpu_ms": cpu_ms,
        "peak_rss_mb": peak_rss_mb,
    }
    Path(out).write_text(json.dumps({"responses": responses, **measured}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
