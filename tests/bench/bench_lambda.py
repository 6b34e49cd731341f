"""Lambda artifact: size of the real (arm64, CPython 3.13) build, cold import of the built handler,
and the duration, CPU and memory of evaluations through it, with the cost they imply.

The cross-built artifact cannot run here (wrong architecture), so import and invocation figures
come from the same build for the local interpreter, run in a `python -I -S` process that sees only
the artifact and the AWS SDK (as on Lambda). The emulator stands in for Honeycomb, with its
default 500 ms until a query result completes; moto stands in for Secrets Manager and DynamoDB.
"""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

from tests.support.aws import recorded_operations
from tests.support.servers import DEFAULT_EMULATOR_KEY, aws_env, start_emulator, start_moto

artifact = importlib.import_module("tests.lambda.artifact")

COLD_IMPORT_RUNS = 7
EVALUATIONS = 6  # under the emulator's 10 query results per minute per key
PRIMING_RUNS = 5
# us-east-1 list prices (USD), arm64; check https://aws.amazon.com/lambda/pricing/ for yours.
LAMBDA_GB_SECOND_ARM64 = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
HTTP_API_PER_REQUEST = 1.00 / 1_000_000
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000  # on-demand
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000


def _tree_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _zipped_bytes(root: Path, dest: Path) -> int:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root))
    return dest.stat().st_size


def report_size(work: Path) -> None:
    target = work / "arm64"
    started = time.perf_counter()
    artifact.build(target, for_lambda=True)
    build_s = time.perf_counter() - started
    size, count = _tree_bytes(target)
    zipped = _zipped_bytes(target, work / "arm64.zip")
    print(f"cross build (make build-EvaluatorFunction, pip cache warm): {build_s:.1f} s")
    print(
        f"artifact unzipped: {size / 1e6:.2f} MB ({size / 2**20:.2f} MiB), {count} files; "
        f"zipped {zipped / 1e6:.2f} MB"
    )
    parts = {}
    for entry in target.iterdir():
        if not entry.name.endswith(".dist-info"):
            parts[entry.name] = _tree_bytes(entry)[0] if entry.is_dir() else entry.stat().st_size
    largest = sorted(parts.items(), key=lambda item: -item[1])[:6]
    print("largest parts: " + ", ".join(f"{name} {bytes_ / 1e6:.1f} MB" for name, bytes_ in largest))
    binaries = sorted(p.name for p in target.rglob("*.so"))
    print(f"binaries: {', '.join(binaries)}")


def report_sam_build(work: Path) -> None:
    sam = artifact.REPO / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        print("sam build: skipped (run `make sam-validate` once to create .venv-sam)")
        return
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    argv = [str(sam), "build", "--template", str(artifact.TEMPLATE), "--build-dir", str(work / "sam")]
    started = time.perf_counter()
    subprocess.run(argv, cwd=artifact.REPO, env=env, check=True, capture_output=True)
    print(f"sam build (no Docker, pip cache warm): {time.perf_counter() - started:.1f} s")


def _top_imports(task: Path, sdk: Path, env: dict[str, str]) -> str:
    run = artifact.invoke(task, sdk, [], env, python_flags=["-X", "importtime"])
    rows = []
    for line in run.output.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            if cumulative.isdigit() and "." not in name:
                rows.append((int(cumulative), name))
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in sorted(rows, reverse=True)[:6])


def report_runtime(work: Path) -> None:
    task, sdk = artifact.build(work / "local", for_lambda=False), artifact.runtime_sdk(work / "sdk")
    # moto's recorder writes to ./moto_recording unless told otherwise; keep it out of the repo.
    os.environ["MOTO_RECORDER_FILEPATH"] = str(work / "moto_recording")
    with start_emulator("--demo") as emulator, start_moto() as moto:
        provisioned = artifact.provision(aws_env(moto.url), DEFAULT_EMULATOR_KEY)
        env = artifact.local_invoke_env({"HONEYCOMB_API_URL": emulator.url, **provisioned})
        cold = [artifact.invoke(task, sdk, [], env) for _ in range(COLD_IMPORT_RUNS)]
        wall, cpu = [run.import_ms for run in cold], [run.import_cpu_ms for run in cold]
        print(
            f"cold import of honeycomb_evaluator.handler (local build, fresh process, n={COLD_IMPORT_RUNS}): "
            f"wall median {statistics.median(wall):.0f} ms (min {min(wall):.0f}), "
            f"CPU median {statistics.median(cpu):.0f} ms (min {min(cpu):.0f})"
        )
        print(f"top-level imports by cumulative time: {_top_imports(task, sdk, env)}")

        event = artifact.EVENTS / "http-api-evaluate.json"
        httpx.post(moto.url + "/moto-api/recorder/reset-recording")
        httpx.post(moto.url + "/moto-api/recorder/start-recording")
        run = artifact.invoke(task, sdk, [event] * EVALUATIONS, env)
        calls = recorded_operations(moto.url)
        assert all(r["statusCode"] == 200 for r in run.responses), run.responses
    first, warm = run.wall_ms[0], statistics.median(run.wall_ms[1:])
    print(
        f"evaluation through the handler (emulator, 500 ms to a complete result; DynamoDB state on moto): "
        f"first {first:.0f} ms (reads both secrets, opens connections), warm median {warm:.0f} ms "
        f"(min {min(run.wall_ms[1:]):.0f}); CPU first {run.cpu_ms[0]:.0f} ms, "
        f"warm median {statistics.median(run.cpu_ms[1:]):.0f} ms; peak RSS {run.peak_rss_mb:.0f} MB"
    )
    recorded = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    print(f"AWS calls for {EVALUATIONS} evaluations: {recorded}")
    reads = calls["GetItem"] / EVALUATIONS
    writes = (calls["PutItem"] + calls["UpdateItem"]) / EVALUATIONS
    memory_gb = artifact.function_properties()["MemorySize"] / 1024
    for label, duration_ms in (("warm", warm), ("first", first)):
        lambda_cost = 1000 * (duration_ms / 1000 * memory_gb * LAMBDA_GB_SECOND_ARM64 + LAMBDA_PER_REQUEST)
        dynamodb_cost = 1000 * (reads * DYNAMODB_PER_READ_UNIT + writes * DYNAMODB_PER_WRITE_UNIT)
        print(
            f"cost per 1000 evaluations at {memory_gb * 1024:.0f} MB arm64, {label} {duration_ms:.0f} ms: "
            f"Lambda ${lambda_cost:.5f} + HTTP API ${1000 * HTTP_API_PER_REQUEST:.5f} "
            f"+ DynamoDB ${dynamodb_cost:.5f} ({reads:.1f} reads, {writes:.1f} writes of <= 1 KB each)"
        )


def report_priming(work: Path) -> None:
    """On a SnapStart function the handler's `prime()` runs before the snapshot (boto3's service
    models, the request validators, the HTTP client). Compare the first evaluation's CPU with and
    without it, on copies of the same local build: "primed" calls `prime()` at the end of the
    import, as the snapshot would hold it; "as shipped without SnapStart" does not."""
    unprimed = work / "local"
    primed = work / "primed"
    shutil.copytree(unprimed, primed, symlinks=True)
    handler = primed / "honeycomb_evaluator" / "handler.py"
    source = handler.read_text()
    assert "\n_register_snapshot_hooks()\n" in source
    handler.write_text(source + "\nprime()\n")
    sdk, event = work / "sdk", artifact.EVENTS / "http-api-evaluate.json"
    with start_emulator("--demo", "--rate-limit-per-minute", "10000") as emulator, start_moto() as moto:
        provisioned = artifact.provision(aws_env(moto.url), DEFAULT_EMULATOR_KEY)
        overrides = {"HONEYCOMB_API_URL": emulator.url, "EVALUATOR_RATE_LIMIT_PER_MINUTE": "10000"}
        env = artifact.local_invoke_env({**overrides, **provisioned})
        for label, task in (("primed (SnapStart)", primed), ("not primed (no SnapStart)", unprimed)):
            runs = [artifact.invoke(task, sdk, [event], env) for _ in range(PRIMING_RUNS)]
            assert all(run.responses[0]["statusCode"] == 200 for run in runs)
            print(
                f"{label}: import CPU median {statistics.median(r.import_cpu_ms for r in runs):.0f} ms, "
                f"first evaluation CPU median {statistics.median(r.cpu_ms[0] for r in runs):.0f} ms "
                f"(n={PRIMING_RUNS})"
            )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-lambda-"))
    try:
        report_size(work)
        report_sam_build(work)
        report_runtime(work)
        report_priming(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
