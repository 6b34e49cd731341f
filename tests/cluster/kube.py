"""kubectl against the local control plane: what the tests do and assert goes through it.

Assertions read objects as any user would, `kubectl get ... -o json`, so what is checked is what
the API server stores, written by the controllers, not by this suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class KubectlError(Exception):
    pass


@dataclass(frozen=True)
class Kubectl:
    binary: str
    kubeconfig: Path
    path_env: str

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig), "PATH": self.path_env}

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120, check: bool = True) -> str:
        """kubectl's output; a non-zero exit raises unless `check` is False."""
        done = subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env()},
            check=False,
        )
        if check and done.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
        return done.stdout

    def get(self, kind: str, name: str | None = None, namespace: str | None = None) -> Any:
        """`kubectl get KIND [NAME] -o json`: the object, or the list's items."""
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        if namespace:
            args = ["-n", namespace, *args]
        document = json.loads(self.run(*args))
        return document if name else document["items"]

    def find(self, kind: str, name: str, namespace: str | None = None) -> Any | None:
        """The object, or None when it does not exist."""
        matches = [o for o in self.get(kind, namespace=namespace) if o["metadata"]["name"] == name]
        return matches[0] if matches else None

    def apply(self, objects: Sequence[Mapping[str, Any]], namespace: str | None = None) -> str:
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.run(*args, stdin=yaml.safe_dump_all(list(objects)))


def is_ready(obj: Mapping[str, Any]) -> bool:
    """A Node's or Pod's `Ready` condition is True."""
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Poll `probe` until it returns something other than None (or False); fail naming `what`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (KubectlError, KeyError, IndexError) as e:
            last_error = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s (last error: {last_error})")
        time.sleep(interval)
