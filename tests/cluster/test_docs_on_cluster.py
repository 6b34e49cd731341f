"""The cluster pages' commands, run as written against the local control plane.

Every ```sh block of docs/kubernetes.md and docs/argo-rollouts.md marked
`<!-- run-by: tests/cluster/test_docs_on_cluster.py -->` runs here, in page order, like a reader
pasting them into one terminal: variables a block sets (`TOKEN`) reach the next ones. The only
differences from a reader's terminal: KUBECONFIG names the local API server, PATH has the built
kubectl, kubectl-argo-rollouts and helm, and the reader's own values are set before the first
block (`HONEYCOMB_API_KEY`, `NEW_KEY`, the deployed evaluator's `EVALUATE_URL` and a registered
`TOKEN`). After some blocks the test checks what the API server holds, or what the block
printed. Each page starts from a clean cluster: the namespaces a page created are deleted after it.
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.stack import Keys, Stack
from tests.support.doc_blocks import REPOSITORY_ROOT, Block, link_repository, run_block, shell_blocks

pytestmark = pytest.mark.servers  # the stack: a control plane, the evaluator, the emulator

THIS = "tests/cluster/test_docs_on_cluster.py"
PAGES = ("docs/kubernetes.md", "docs/argo-rollouts.md")
NAMESPACE, RELEASE = "honeycomb-evaluator", "honeycomb-evaluator"

# Variables a block defines are written to a state file when it ends and read by the next block.
# FUNCNAME is __carry's own: sourced back, its declaration fails, and a block whose state held
# nothing else would exit 1 before its first line.
CARRY_OVER = """
__STATE={state}
__BASELINE=" $(compgen -v | tr '\\n' ' ') __STATE __BASELINE __v FUNCNAME "
touch "$__STATE"; source "$__STATE"
__carry() {{
  for __v in $(compgen -v); do
    case "$__BASELINE" in *" $__v "*) ;; *) declare -p "$__v";; esac
  done > "$__STATE"
}}
trap __carry EXIT
"""


def page_blocks(page: str) -> list[Block]:
    return [b for b in shell_blocks(REPOSITORY_ROOT / page) if b.marker == "run-by" and b.reason == THIS]


def test_the_cluster_pages_have_blocks_run_here() -> None:
    for page in PAGES:
        assert page_blocks(page), f"{page}: no block marked run-by {THIS}"


def deployment(kubectl: Kubectl) -> dict[str, Any]:
    return dict(kubectl.get("deployment", RELEASE, NAMESPACE))


def rolled_out(kubectl: Kubectl, replicas: int) -> dict[str, Any] | None:
    """The Deployment once every replica of its newest template is available."""
    found = deployment(kubectl)
    status = found.get("status", {})
    done = status.get("observedGeneration") == found["metadata"]["generation"]
    counts = (status.get("updatedReplicas"), status.get("availableReplicas"), status.get("replicas"))
    return found if done and counts == (replicas, replicas, replicas) else None


def _env_of(found: dict[str, Any]) -> dict[str, Any]:
    container = found["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def check_installed(kubectl: Kubectl, keys: Keys) -> None:
    found = wait_for("the Deployment available", lambda: rolled_out(kubectl, 2), timeout=180)
    assert found["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "registry.example.com/platform/honeycomb-evaluator:"
    )


def check_rotated(kubectl: Kubectl, keys: Keys) -> None:
    secret = kubectl.get("secret", "honeycomb-api-key", NAMESPACE)
    assert base64.b64decode(secret["data"]["api-key"]).decode() == keys.second


def check_redis(kubectl: Kubectl, keys: Keys) -> None:
    found = wait_for("three replicas with Redis", lambda: rolled_out(kubectl, 3), timeout=180)
    env = _env_of(found)
    assert env["EVALUATOR_STATE_BACKEND"] == "redis"
    reference = {"secretKeyRef": {"name": "honeycomb-evaluator-redis", "key": "redis-url"}}
    assert env["EVALUATOR_REDIS_URL"] == reference


def check_new_version(kubectl: Kubectl, keys: Keys) -> None:
    found = wait_for("the new version rolled out", lambda: rolled_out(kubectl, 3), timeout=180)
    image = found["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":0.2.0"), image
    assert _env_of(found)["EVALUATOR_STATE_BACKEND"] == "redis"  # --reuse-values kept the earlier settings


def check_uninstalled(kubectl: Kubectl, keys: Keys) -> None:
    def gone() -> bool:
        kinds = "deployment,replicaset,pods,service,serviceaccount,poddisruptionbudget,networkpolicy"
        selector = f"app.kubernetes.io/instance={RELEASE}"
        return not kubectl.run("-n", NAMESPACE, "get", kinds, "-l", selector, "-o", "name").strip()

    wait_for("every object of the release removed", gone, timeout=120)
    # What the reader created by hand stays.
    assert kubectl.find("secret", "honeycomb-api-key", NAMESPACE)


def check_rollout_healthy(kubectl: Kubectl, keys: Keys) -> None:
    status = kubectl.get("rollout", "checkout", "checkout")["status"]
    assert status["phase"] in ("Progressing", "Paused", "Healthy", "Degraded"), status


# After the block that contains the text, what the API server must hold.
CHECKS: dict[str, Callable[[Kubectl, Keys], None]] = {
    "helm install honeycomb-evaluator": check_installed,
    'api-key="$NEW_KEY"': check_rotated,
    "redis.existingSecret=honeycomb-evaluator-redis": check_redis,
    "image.tag=0.2.0": check_new_version,
    "helm uninstall": check_uninstalled,
    "set image checkout": check_rollout_healthy,
}


def check_evaluation(output: str) -> None:
    """The step-3 request's answer: the demo's bad canary (7d9f8b6c5) errs on about 8 % of its spans."""
    answer = json.loads(output)
    assert answer["calculation"] == "AVG(is_error)", answer
    assert 0.04 < answer["value"] < 0.12, answer


# After the block that contains the text, what it must have printed.
OUTPUT_CHECKS: dict[str, Callable[[str], None]] = {
    'curl -sS "$EVALUATE_URL"': check_evaluation,
}


def reader_values(stack: Stack) -> dict[str, str]:
    """What a reader has at hand: the Honeycomb keys, the deployed evaluator's URL and a token
    registered with it (blocks that make their own TOKEN replace it)."""
    keys = stack.keys
    evaluate_url = f"{stack.evaluator.url}/v1/evaluate"
    return {
        "HONEYCOMB_API_KEY": keys.first,
        "NEW_KEY": keys.second,
        "EVALUATE_URL": evaluate_url,
        "TOKEN": keys.token,
    }


def namespaces(kubectl: Kubectl) -> set[str]:
    return {n["metadata"]["name"] for n in kubectl.get("namespaces")}


@pytest.mark.parametrize("page", PAGES)
def test_a_cluster_page_runs_as_written(page: str, stack: Stack, tmp_path: Path) -> None:
    kubectl, keys = stack.cluster.kubectl, stack.keys
    existing = namespaces(kubectl)
    directory = link_repository(tmp_path)
    state_file = tmp_path.parent / f"{tmp_path.name}.state"
    # The reader's values start in the state, not the environment, so that a block may reassign
    # them (both pages make their own TOKEN) and the next block sees the new value.
    values = reader_values(stack).items()
    state_file.write_text("".join(f"declare -x {name}={shlex.quote(value)}\n" for name, value in values))
    env, state = kubectl.env(), shlex.quote(str(state_file))
    try:
        for block in page_blocks(page):
            output = run_block(CARRY_OVER.format(state=state) + block.code, directory, env=env)
            assert output.returncode == 0, f"{block} exited {output.returncode}:\n{output.text}"
            for text, check in CHECKS.items():
                if text in block.code:
                    check(kubectl, keys)
            for text, check_output in OUTPUT_CHECKS.items():
                if text in block.code:
                    check_output(output.text)
    finally:
        for namespace in namespaces(kubectl) - existing:
            kubectl.run("delete", "namespace", namespace, "--wait=true", "--timeout=120s", check=False)
