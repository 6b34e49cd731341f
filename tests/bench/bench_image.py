"""The OCI image: its size, and the time from starting its entrypoint to /healthz answering.

Runs the image `make image-debian` built (CPython 3.13 from Debian trixie) the way tests/image
does: exported with buildah, started in namespaces of its own with a read-only root. "Start" is
the moment the test spawns `unshare`, so the figure includes namespace and mount set-up, which a
container runtime also does; "ready" is the first 200 from /healthz (polled every 10 ms).
"""

from __future__ import annotations

import gzip
import importlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import free_port

container = importlib.import_module("tests.image.container")

RUNS = 7


def _gzip_size(rootfs: Path) -> int:
    """What a registry stores and a node pulls: the filesystem as one gzip'd tar layer."""
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--exclude=./.exported", "-cf", "-", "."], stdout=subprocess.PIPE
    )
    assert tar.stdout is not None
    with tempfile.TemporaryFile() as sink:
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6) as gz:
            while chunk := tar.stdout.read(1 << 20):
                gz.write(chunk)
        total = sink.tell()
    tar.wait()
    return total


def _cpu_seconds(pid: int) -> float:
    """CPU time of the container's PID 1 and the mount commands it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def _start_to_ready(rootfs: Path, config: Any, key_dir: Path, nice: int) -> tuple[float, float]:
    """Wall seconds from spawning to the first 200 from /healthz, and the CPU seconds spent."""
    port = free_port()
    env = {
        "HONEYCOMB_API_KEY_FILE": "/etc/honeycomb-evaluator/key/api-key",
        "EVALUATOR_ALLOW_ANONYMOUS": "true",
    }
    argv = container.command(
        rootfs,
        config,
        args=["--host", "127.0.0.1", "--port", str(port)],
        env=env,
        volumes={"/etc/honeycomb-evaluator/key": key_dir},
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        ["nice", "-n", str(nice), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the image exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    wall = time.perf_counter() - started
                    init = container.container_init_pid(process.pid)
                    return wall, _cpu_seconds(init) if init else float("nan")
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    finally:
        container.stop(process)
        if process.poll() is None:
            process.kill()  # and with unshare, the container
            process.wait()


def main() -> None:
    problem = container.missing_prerequisite()
    if problem:
        raise RuntimeError(problem)
    config = container.image_config()
    rootfs = container.export_rootfs(config)
    total = container.image_size_bytes(rootfs)
    app = container.image_size_bytes(rootfs / "opt" / "evaluator")
    print(f"image {container.IMAGE} ({config.image_id[:12]})")
    print(f"unpacked: {total / 1e6:.1f} MB, of which /opt/evaluator (virtualenv) {app / 1e6:.1f} MB")
    print(f"as one gzip'd layer: {_gzip_size(rootfs) / 1e6:.1f} MB")

    with tempfile.TemporaryDirectory() as directory:
        key_dir = Path(directory)
        (key_dir / "api-key").write_text("bench-key")
        (key_dir / "api-key").chmod(0o444)
        # At nice -15 the container waits little for a core on a busy machine: close to what it
        # takes on a node with a core to spare. Plain priority shows this machine's load.
        for nice, label in ((0, "default priority"), (-15, "nice -15")):
            runs = [_start_to_ready(rootfs, config, key_dir, nice) for _ in range(RUNS)]
            for measure, values in (("wall", [r[0] for r in runs]), ("CPU", [r[1] for r in runs])):
                print(
                    f"start to /healthz ready, {label}, {measure} (n={RUNS}): "
                    f"median {statistics.median(values) * 1000:.0f} ms, "
                    f"min {min(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
                )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
