"""One local control plane for the whole suite (`make e2e`), and the scenarios' Rollouts on it.

The stack (tests/cluster/stack.py) starts once; every scenario's Rollout is deployed and given
its canary image before the first test, so that they all run side by side while the tests go
on. Everything is stopped at the end, and the suite fails if a process it started is left.

Without the built programs (CLUSTER_BIN ... from `make e2e`) the suite is skipped, or fails when
CLUSTER_REQUIRED=1 (as `make e2e` sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.kube import Kubectl
from tests.cluster.kubelet import EvaluatorPod
from tests.cluster.rollouts import Launch, deploy, first_revision, set_image
from tests.cluster.scenarios import SCENARIOS
from tests.cluster.stack import Keys, Stack, running_stack
from tests.cluster.tools import Tools, from_environment
from tests.support.servers import Server


@pytest.fixture(scope="session")
def tools() -> Tools:
    found, missing = from_environment()
    if found is None:
        if os.environ.get("CLUSTER_REQUIRED") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    return found


RUNNING: list[Stack] = []  # the session's stack, for the failure reports below


@pytest.fixture(scope="session")
def stack(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tools, tmp_path_factory.mktemp("cluster")) as running:
        RUNNING.append(running)
        yield running
        RUNNING.remove(running)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report ends with the last lines of every component's log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and RUNNING:
        report.sections.append(("control plane: last log lines", RUNNING[0].cluster.component_logs()))


@pytest.fixture(scope="session")
def kubectl(stack: Stack) -> Kubectl:
    return stack.cluster.kubectl


@pytest.fixture(scope="session")
def keys(stack: Stack) -> Keys:
    return stack.keys


@pytest.fixture(scope="session")
def emulator(stack: Stack) -> Server:
    return stack.emulator


@pytest.fixture(scope="session")
def evaluator(stack: Stack) -> EvaluatorPod:
    return stack.evaluator


@dataclass(frozen=True)
class Launched:
    launches: dict[str, Launch]  # by namespace
    token_file: Path


def launch_scenarios(stack: Stack) -> Launched:
    """Every scenario's Rollout deployed, Healthy on its first revision, then given its canary image."""
    kubectl = stack.cluster.kubectl
    # The plugin's tokenFile, in the controller's "pod" (its working directory here).
    token_file = stack.cluster.workdir / "rollouts-controller" / "token"
    token_file.write_text(stack.keys.token)
    urls = {
        "evaluate-url": f"{stack.evaluator.url}/v1/evaluate",
        "slo-url": f"{stack.evaluator.url}/v1/slo",
        "token-file": str(token_file),
    }
    names = {s.namespace: deploy(kubectl, s, stack.keys.token, urls) for s in SCENARIOS}
    stable = {ns: first_revision(kubectl, ns, name) for ns, name in names.items()}
    launches = {}
    for s in SCENARIOS:
        name = names[s.namespace]
        launches[s.namespace] = Launch(s, name, stable[s.namespace], set_image(kubectl, s, name))
    return Launched(launches, token_file)


@pytest.fixture(scope="session")
def launched(stack: Stack) -> Launched:
    return launch_scenarios(stack)


@pytest.fixture(scope="session", autouse=True)
def _scenarios_under_way(request: pytest.FixtureRequest) -> None:
    """Start the Rollouts before any test: they run for minutes while the other tests go on."""
    request.getfixturevalue("launched")


# The scenarios' Rollouts run in the background from the first test on: the chart's checks come
# first, the key is rotated while `web-good` is being analysed, the pages run while the
# scenarios wait on Argo's intervals, and the outcomes are read last.
MODULE_ORDER = ("test_chart_in_cluster", "test_key_rotation", "test_docs_on_cluster", "test_rollouts")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        return MODULE_ORDER.index(module) if module in MODULE_ORDER else -1

    items.sort(key=rank)
