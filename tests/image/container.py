"""Run the evaluator image as a container runtime would, without one.

`podman run` is refused here by the sandbox's resource limits, and no Docker engine runs, so the
image's filesystem is exported with buildah and its entrypoint started in private mount and PID
namespaces (`unshare`), chrooted into that filesystem as the image's user. The pod of the Helm
chart is reproduced: a read-only root filesystem, a tmpfs on /tmp, Secrets mounted read-only as
directories, the entrypoint as PID 1 (so SIGTERM reaches it as it would from the kubelet), and
only the image's environment plus what the test sets.

Used by tests/image and tests/bench/bench_image.py. `make image-debian` builds the image into
the buildah storage under $IMAGE_CACHE (by default ~/.cache/honeycomb-evaluator/image) that
this module reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = Path(os.environ.get("IMAGE_CACHE") or Path.home() / ".cache" / "honeycomb-evaluator" / "image")
IMAGE = os.environ.get("EVALUATOR_IMAGE", "localhost/honeycomb-evaluator:dev")


def buildah(*args: str, check: bool = True) -> str:
    storage = ["--root", str(IMAGE_DIR / "storage"), "--runroot", str(IMAGE_DIR / "run")]
    done = subprocess.run(
        ["buildah", *storage, "--storage-driver", "vfs", *args], check=check, capture_output=True, text=True
    )
    return done.stdout.strip()


def missing_prerequisite(image: str = IMAGE) -> str | None:
    """Why the image cannot be run here, or None."""
    if os.geteuid() != 0:
        return "needs root (chroot, mount namespaces)"
    for tool in ("buildah", "unshare", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make image-debian installs it)"
    try:
        buildah("inspect", "--type", "image", image)
    except subprocess.CalledProcessError:
        return f"no image {image} in {IMAGE_DIR}/storage (make image-debian builds it)"
    return None


@dataclass(frozen=True)
class ImageConfig:
    image_id: str
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    user: str


def image_config(image: str = IMAGE) -> ImageConfig:
    inspected = json.loads(buildah("inspect", "--type", "image", image))
    config = inspected["OCIv1"]["config"]
    env = dict(item.split("=", 1) for item in config.get("Env", []))
    return ImageConfig(
        image_id=inspected["FromImageID"],
        entrypoint=config.get("Entrypoint") or [],
        cmd=config.get("Cmd") or [],
        env=env,
        user=config.get("User", ""),
    )


def export_rootfs(config: ImageConfig, image: str = IMAGE) -> Path:
    """The image's filesystem as a directory, exported once per image id."""
    rootfs = IMAGE_DIR / "rootfs" / config.image_id[:16]
    if (rootfs / ".exported").exists():
        return rootfs
    # Exports of earlier builds are of no further use; each is the size of the image.
    if rootfs.parent.exists():
        for stale in rootfs.parent.iterdir():
            shutil.rmtree(stale)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    container = buildah("from", "--pull=never", image)
    try:
        mounted = buildah("mount", container)
        subprocess.run(["cp", "-a", f"{mounted}/.", str(rootfs)], check=True)
    finally:
        buildah("rm", container, check=False)
    (rootfs / ".exported").touch()
    return rootfs


def mount_point(rootfs: Path, container_path: str) -> Path:
    """Create container_path inside rootfs as a directory to mount on.

    Refuses symlinks on the way: resolved on the host, a link such as /var/run -> /run would
    put the mount outside the container's root.
    """
    target = rootfs
    for part in PurePosixPath(container_path).parts[1:]:
        target = target / part
        if target.is_symlink():
            raise ValueError(f"{container_path}: {part} is a symlink in the image")
    target.mkdir(parents=True, exist_ok=True)
    return target


def command(
    rootfs: Path,
    config: ImageConfig,
    *,
    args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    volumes: Mapping[str, Path] | None = None,
) -> list[str]:
    """argv that runs the image's entrypoint with args (default: the image's CMD).

    volumes maps a directory in the container to a host directory, mounted read-only.
    """
    q = shlex.quote
    root = q(str(rootfs))
    script = [
        "set -eu",
        # A bind mount of the root on itself, so it can be made read-only below.
        f"mount --bind {root} {root}",
        f"mount -t tmpfs -o mode=1777,size=64m tmpfs {root}/tmp",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
    ]
    for container_path, host_path in (volumes or {}).items():
        target = mount_point(rootfs, container_path)
        script.append(f"mount --bind -o ro {q(str(host_path))} {q(str(target))}")
    script.append(f"mount -o remount,bind,ro {root}")
    full_env = {**config.env, **(env or {})}
    assignments = " ".join(q(f"{name}={value}") for name, value in full_env.items())
    argv = " ".join(q(a) for a in [*config.entrypoint, *(config.cmd if args is None else args)])
    user = config.user or "0:0"
    script.append(f"exec chroot --userspec={q(user)} {root} /usr/bin/env -i {assignments} {argv}")
    # --kill-child: whatever ends unshare (a test's teardown kills it: it ignores SIGTERM while its
    # child runs) kills the container's PID 1, and with it the whole PID namespace. Without it the
    # container outlives the test, adopted by the host's init.
    return ["unshare", "--mount", "--pid", "--kill-child", "--", "sh", "-c", "\n".join(script)]


def container_init_pid(unshare_pid: int) -> int | None:
    """The host pid of the container's PID 1 (unshare's only child), once it exists."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children")
    try:
        pids = children.read_text().split()
    except OSError:
        return None
    return int(pids[0]) if pids else None


def stop(unshare: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop the container as the kubelet stops a pod: SIGTERM to its PID 1, then wait for it."""
    init = container_init_pid(unshare.pid)
    if unshare.poll() is not None or init is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(init, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        unshare.wait(timeout=timeout)  # else the caller kills unshare, and so the container


def image_size_bytes(rootfs: Path) -> int:
    """Bytes of the image's files (what `docker images` reports, unpacked), hard links once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(rootfs):
        for name in files:
            stat = os.lstat(os.path.join(directory, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total
