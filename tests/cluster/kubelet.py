"""The kubelet's part for the evaluator's Pod: run its container, as the chart specified it, here.

kwok marks the chart's Pods Running but runs nothing. For the Rollouts to be judged, one Pod of
the evaluator's Deployment is played by a local process built from what the API server holds:

- the command is the image's (infra/image/Containerfile: `honeycomb-evaluator serve`) with the
  container's `args`; its `--host`/`--port` become loopback and a free port, which is the one
  thing that differs (the controller reaches it there instead of through the Service);
- `env` as the container declares it, `valueFrom.secretKeyRef`/`configMapKeyRef` read from the
  API server;
- every Secret or ConfigMap volume is kept in a directory as the kubelet keeps it: the items in a
  timestamped directory, `..data` pointing at it and swapped atomically on change, each file a
  symlink through `..data`. Paths in `env` under a mountPath are mapped to that directory.

The kubelet refreshes mounted Secrets about once a minute; this does it every second, which
changes how soon a rotation lands, not how.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.controlplane import ControlPlane
from tests.cluster.processes import Process
from tests.support.servers import VENV_BIN, free_port

IMAGE_ENTRYPOINT = ("honeycomb-evaluator", "serve")


class ApiReader:
    """GETs against the API server with the admin token (the kubelet's reads)."""

    def __init__(self, cluster: ControlPlane) -> None:
        self._client = httpx.Client(
            base_url=cluster.url,
            verify=ssl.create_default_context(cafile=cluster.ca_cert),
            headers={"Authorization": f"Bearer {cluster.admin_token}"},
            timeout=10,
        )

    def data(self, namespace: str, kind: str, name: str) -> dict[str, str]:
        """A Secret's or ConfigMap's data, decoded."""
        answer = self._client.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
        answer.raise_for_status()
        document = answer.json()
        if kind == "secrets":
            return {k: base64.b64decode(v).decode() for k, v in document.get("data", {}).items()}
        return dict(document.get("data", {}))

    def get(self, path: str) -> Any:
        answer = self._client.get(path)
        answer.raise_for_status()
        return answer.json()

    def close(self) -> None:
        self._client.close()


@dataclass
class ProjectedVolume:
    """A Secret or ConfigMap volume, laid out as the kubelet's AtomicWriter lays it out."""

    namespace: str
    kind: str  # "secrets" or "configmaps"
    name: str
    items: list[dict[str, str]]  # [{key, path}]; empty: every key
    directory: Path
    current: dict[str, str] = field(default_factory=dict)

    def sync(self, api: ApiReader) -> bool:
        data = api.data(self.namespace, self.kind, self.name)
        wanted = {i["path"]: data[i["key"]] for i in self.items} if self.items else dict(data)
        if wanted == self.current:
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        version = self.directory / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
        version.mkdir()
        for path, text in wanted.items():
            (version / path).write_text(text)
        link_to_data = self.directory / "..data"
        previous = link_to_data.resolve() if link_to_data.is_symlink() else None
        staged = self.directory / "..data_tmp"
        staged.unlink(missing_ok=True)
        staged.symlink_to(version.name)
        staged.replace(link_to_data)  # rename(2): atomic, as the kubelet does
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        for path in wanted:
            link = self.directory / path
            if not link.is_symlink():
                link.symlink_to(Path("..data") / path)
        self.current = wanted
        return True


@dataclass
class EvaluatorPod:
    url: str
    process: Process
    volumes: list[ProjectedVolume]
    env: dict[str, str]


def _volume_sources(pod_spec: dict[str, Any]) -> dict[str, tuple[str, str, list[dict[str, str]]]]:
    sources = {}
    for volume in pod_spec.get("volumes", []):
        if "secret" in volume:
            source = volume["secret"]
            sources[volume["name"]] = ("secrets", source["secretName"], source.get("items", []))
        elif "configMap" in volume:
            source = volume["configMap"]
            sources[volume["name"]] = ("configmaps", source["name"], source.get("items", []))
    return sources


def _env(
    container: dict[str, Any], namespace: str, api: ApiReader, mounts: dict[str, Path]
) -> dict[str, str]:
    env = {}
    for variable in container.get("env", []):
        if "value" in variable:
            value = variable["value"]
            for mount_path, local in mounts.items():
                if value == mount_path or value.startswith(mount_path + "/"):
                    value = str(local) + value[len(mount_path) :]
            env[variable["name"]] = value
            continue
        reference = variable["valueFrom"]
        if "secretKeyRef" in reference:
            ref = reference["secretKeyRef"]
            env[variable["name"]] = api.data(namespace, "secrets", ref["name"])[ref["key"]]
        elif "configMapKeyRef" in reference:
            ref = reference["configMapKeyRef"]
            env[variable["name"]] = api.data(namespace, "configmaps", ref["name"])[ref["key"]]
    return env


def _args(container: dict[str, Any], port: int) -> list[str]:
    args = list(container.get("args", []))
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if flag in args:
            args[args.index(flag) + 1] = value
    return args


@contextlib.contextmanager
def run_evaluator_pod(cluster: ControlPlane, namespace: str, deployment: str) -> Iterator[EvaluatorPod]:
    """Run the Deployment's evaluator container here while the block runs; volumes kept in sync."""
    api = ApiReader(cluster)
    spec = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")["spec"]["template"][
        "spec"
    ]
    container = spec["containers"][0]
    root = cluster.workdir / "pods" / deployment
    sources = _volume_sources(spec)
    volumes, mounts = [], {}
    for mount in container.get("volumeMounts", []):
        if mount["name"] in sources:
            kind, name, items = sources[mount["name"]]
            local = root / mount["mountPath"].lstrip("/")
            volumes.append(ProjectedVolume(namespace, kind, name, items, local))
            mounts[mount["mountPath"]] = local
    for volume in volumes:
        volume.sync(api)
    env = _env(container, namespace, api, mounts)
    port = free_port()
    argv = [str(VENV_BIN / IMAGE_ENTRYPOINT[0]), *IMAGE_ENTRYPOINT[1:], *_args(container, port)]
    process = cluster.supervisor.start(f"pod-{deployment}", argv, env=env)
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    syncer = threading.Thread(target=_keep_in_sync, args=(api, volumes, stop), daemon=True)
    syncer.start()
    try:
        _wait_started(process, url + container["startupProbe"]["httpGet"]["path"])
        yield EvaluatorPod(url, process, volumes, env)
    finally:
        stop.set()
        syncer.join()
        process.stop()
        api.close()


def _keep_in_sync(api: ApiReader, volumes: list[ProjectedVolume], stop: threading.Event) -> None:
    while not stop.wait(1.0):
        for volume in volumes:
            with contextlib.suppress(httpx.HTTPError, KeyError, OSError):
                volume.sync(api)


def _wait_started(process: Process, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"the evaluator exited:\n{process.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the evaluator did not start:\n{process.tail()}")
