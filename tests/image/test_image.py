"""The built OCI image answers a real evaluation, as the Helm chart's pod runs it.

`make image-test` builds the image on a base made from Debian's packages and runs this module with
EVALUATOR_IMAGE_REQUIRED=1, so a missing image fails instead of skipping. The container is the
image's own entrypoint in namespaces of its own (tests/image/container.py): read-only root, the
Honeycomb key and the caller registry mounted read-only as directories, the emulator with its demo
data as Honeycomb.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import importlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support.otlp_sink import start_otlp_sink
from tests.support.prometheus import documented_metrics, family_total, scrape
from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, free_port, start_emulator, start_process

container = importlib.import_module("tests.image.container")

TOKEN = "image-test-token"
KEY_DIR = "/etc/honeycomb-evaluator/key"
CALLERS_DIR = "/etc/honeycomb-evaluator/callers"
# The image's user; Kubernetes' fsGroup makes mounted Secrets readable to it the same way.
IMAGE_GROUP = 10001
BAD_CANARY_HASH = DEMO_HASHES["bad"]
EVALUATE_SPAN = "POST /v1/evaluate"
BAD_CANARY_P99_FLOOR = 800  # the demo's bad canary has p99 ≈ 1200 ms, the stable version ≈ 300 ms


@pytest.fixture(scope="module")
def image() -> tuple[Path, Any]:
    problem = container.missing_prerequisite()
    if problem:
        if os.environ.get("EVALUATOR_IMAGE_REQUIRED"):
            pytest.fail(problem)
        pytest.skip(problem)
    config = container.image_config()
    return container.export_rootfs(config), config


def _secret_dir(parent: Path, name: str, files: dict[str, str]) -> Path:
    """A directory as the kubelet mounts a Secret: files readable by the pod's fsGroup only."""
    directory = parent / name
    directory.mkdir()
    for file_name, content in files.items():
        path = directory / file_name
        path.write_text(content)
        os.chown(path, 0, IMAGE_GROUP)
        path.chmod(0o440)
    return directory


def _kubelet_secret_dir(parent: Path, name: str, files: dict[str, str]) -> Path:
    """A Secret volume as the kubelet writes it: files behind a `..data` symlink it swaps atomically."""
    directory = parent / name
    directory.mkdir()
    _swap_secret_files(directory, files, generation=1)
    for file_name in files:
        (directory / file_name).symlink_to(f"..data/{file_name}")
    return directory


def _swap_secret_files(directory: Path, files: dict[str, str], generation: int) -> None:
    _secret_dir(directory, f"..generation_{generation}", files)
    staged = directory / "..data_tmp"
    staged.symlink_to(f"..generation_{generation}")
    staged.rename(directory / "..data")


@contextlib.contextmanager
def run_image(
    image: tuple[Path, Any],
    emulator: Server,
    tmp_path: Path,
    key_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    rootfs, config = image
    callers = {
        "callers": [{"name": "image-test", "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}]
    }
    volumes = {
        KEY_DIR: key_dir or _secret_dir(tmp_path, "key", {"api-key": DEFAULT_EMULATOR_KEY}),
        CALLERS_DIR: _secret_dir(tmp_path, "callers", {"callers.json": json.dumps(callers)}),
    }
    env = {
        "HONEYCOMB_API_KEY_FILE": f"{KEY_DIR}/api-key",
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_CALLERS_FILE": f"{CALLERS_DIR}/callers.json",
        **(extra_env or {}),
    }
    port = free_port()
    # As the chart does: the image's entrypoint, with args for the address.
    argv = container.command(
        rootfs, config, args=["--host", "127.0.0.1", "--port", str(port)], env=env, volumes=volumes
    )
    with start_process(argv, port, "/healthz", env={}) as server:
        try:
            yield server
        finally:
            container.stop(server.process)


def _evaluate(server: Server, time_range: int = 600) -> httpx.Response:
    body = {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": BAD_CANARY_HASH}],
            "time_range": time_range,
        },
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{server.url}/v1/evaluate", json=body, headers=headers, timeout=30)


def test_image_config_is_what_the_chart_expects(image: tuple[Path, Any]) -> None:
    _, config = image
    assert config.entrypoint == ["honeycomb-evaluator", "serve"]
    assert config.cmd == ["--host", "0.0.0.0", "--port", "8080"]
    assert config.user == "10001:10001"  # numeric, so runAsNonRoot can be checked


def test_final_image_has_no_installer_or_compiler(image: tuple[Path, Any]) -> None:
    rootfs, _ = image
    bins = [rootfs / d for d in ("usr/bin", "usr/local/bin", "opt/evaluator/bin")]
    found = sorted(
        str(p.relative_to(rootfs))
        for d in bins
        if d.is_dir()
        for p in d.iterdir()
        if p.name.startswith(("pip", "gcc", "cc", "g++", "clang", "apt")) or p.name in {"ld", "as", "make"}
    )
    assert found == []
    assert not list(rootfs.glob("usr/**/site-packages/pip")) + list(rootfs.glob("opt/**/site-packages/pip"))


@pytest.mark.servers
def test_evaluates_through_the_image_and_stops_on_sigterm(image: tuple[Path, Any], tmp_path: Path) -> None:
    with start_emulator("--demo") as emulator, run_image(image, emulator, tmp_path) as server:
        response = _evaluate(server)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["calculation"] == "P99(duration_ms)"
        assert answer["value"] > BAD_CANARY_P99_FLOOR, answer

        # The kubelet's SIGTERM goes to the container's PID 1; it must end the process, cleanly.
        init_pid = container.container_init_pid(server.process.pid)
        assert init_pid is not None
        os.kill(init_pid, signal.SIGTERM)
        try:
            returncode = server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 20 s after SIGTERM:\n{server.output()}")
        output = server.output()
        assert returncode == 0, output

    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "the evaluator logged nothing"
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, output  # Powertools' JSON logs on stdout
    assert DEFAULT_EMULATOR_KEY not in output
    assert TOKEN not in output


@pytest.mark.servers
def test_the_image_serves_metrics_readiness_and_its_traces(image: tuple[Path, Any], tmp_path: Path) -> None:
    """What the chart's probes, ServiceMonitor and `tracing.*` values rely on, from the image's own
    packages: /readyz, /metrics in Prometheus text, and spans over OTLP/HTTP once OTEL_* asks."""
    with start_otlp_sink() as sink, start_emulator("--demo") as emulator:
        tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with run_image(image, emulator, tmp_path, extra_env=tracing) as server:
            ready = httpx.get(f"{server.url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert _evaluate(server).status_code == 200
            samples = scrape(server.url)
            deadline = time.monotonic() + 20  # the batch with the request's span (children come first)
            while time.monotonic() < deadline and not any(s.name == EVALUATE_SPAN for s in sink.spans()):
                time.sleep(0.1)
            spans = sink.spans()
    assert [name for name in documented_metrics() if family_total(samples, name) is None] == []
    (evaluation,) = [s for s in spans if s.name == EVALUATE_SPAN]
    assert evaluation.attributes["evaluation.caller"] == "image-test"
    assert evaluation.attributes["evaluation.served"] == "created"
    assert any(s.parent_id == evaluation.span_id and s.name.startswith("honeycomb ") for s in spans)
    assert not any(DEFAULT_EMULATOR_KEY.encode() in raw for raw in sink.raw)


def test_root_filesystem_stays_read_only(image: tuple[Path, Any]) -> None:
    rootfs, config = image
    probe = (
        "import pathlib, tempfile\n"
        "tempfile.NamedTemporaryFile().close()\n"  # /tmp is writable
        "try:\n    pathlib.Path('/opt/evaluator/x').write_text('x')\n"
        "except OSError as e:\n    print(e.errno)\n"
    )
    # As root: a non-root user would be refused by permissions before the read-only mount.
    plain = container.ImageConfig(config.image_id, ["python3", "-c"], [], config.env, "0:0")
    done = subprocess.run(
        container.command(rootfs, plain, args=[probe]), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.strip() == "30"  # EROFS


@pytest.mark.servers
def test_rotated_key_secret_reaches_the_running_container(image: tuple[Path, Any], tmp_path: Path) -> None:
    """Both keys stay valid, as during a real rotation; the new one must be used once the kubelet
    has swapped the Secret's files, without a restart."""
    old_key, new_key = "rotation-old-key", "rotation-new-key"
    key_dir = _kubelet_secret_dir(tmp_path, "key", {"api-key": old_key})
    emulator_flags = ("--demo", "--api-key", f"old={old_key}", "--api-key", f"new={new_key}")
    with start_emulator(*emulator_flags) as emulator, run_image(image, emulator, tmp_path, key_dir) as server:
        assert _evaluate(server).status_code == 200
        _swap_secret_files(key_dir, {"api-key": new_key}, generation=2)
        deadline = time.monotonic() + 15
        used_new_key = False
        for time_range in range(601, 700):  # a new query each time, so no cached answer hides the key
            assert _evaluate(server, time_range).status_code == 200
            by_key = httpx.get(f"{emulator.url}/_emulator/stats", timeout=5).json()["by_key"]
            used_new_key = "new" in by_key
            if used_new_key or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert used_new_key, by_key


@pytest.mark.servers
def test_sigterm_lets_an_evaluation_in_flight_finish(image: tuple[Path, Any], tmp_path: Path) -> None:
    """A pod being replaced gets SIGTERM while Argo may be waiting on it: the answer still comes."""
    with (
        start_emulator("--demo", "--result-delay-ms", "3000") as emulator,
        run_image(image, emulator, tmp_path) as server,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        in_flight = pool.submit(_evaluate, server)
        time.sleep(1.0)  # the query is running in Honeycomb (the emulator) by now
        init_pid = container.container_init_pid(server.process.pid)
        assert init_pid is not None and not in_flight.done()
        os.kill(init_pid, signal.SIGTERM)
        response = in_flight.result(timeout=30)
        assert response.status_code == 200, response.text
        assert server.process.wait(timeout=20) == 0, server.output()
