"""The packaging pieces agree with each other: template.yaml, the build Makefile, requirements.txt,
pyproject.toml and events/env.json. Plus the real cross-build: arm64, CPython 3.13 binaries only."""

from __future__ import annotations

import fcntl
import importlib
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

artifact = importlib.import_module("tests.lambda.artifact")

MAKEFILE = artifact.CODE_URI / "Makefile"
REQUIREMENTS = artifact.CODE_URI / "requirements.txt"


def _make_default(name: str) -> str:
    match = re.search(rf"^{name}\s*\?=\s*(\S+)\s*$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, f"{name} not found in {MAKEFILE}"
    return match.group(1)


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt must pin exactly: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def test_build_targets_the_template_runtime_and_architecture() -> None:
    properties = artifact.function_properties()
    assert properties["Runtime"] == f"python{_make_default('LAMBDA_PYTHON_VERSION')}"
    arch = {"arm64": "aarch64", "x86_64": "x86_64"}[properties["Architectures"][0]]
    assert _make_default("LAMBDA_ARCH") == arch
    resource = artifact.template()["Resources"][artifact.FUNCTION]
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    assert artifact.REPO / properties["CodeUri"] == artifact.CODE_URI


def test_requirements_pin_every_runtime_dependency_but_the_aws_sdk_and_cluster_only_ones() -> None:
    pyproject = tomllib.loads((artifact.REPO / "pyproject.toml").read_text())
    pins = _pins()
    for text in pyproject["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name in {canonicalize_name(n) for n in artifact.RUNTIME_SDK}:
            assert name not in pins, f"{name} is the runtime's; do not bundle it"
            continue
        if name in {canonicalize_name(n) for n in artifact.NOT_FOR_LAMBDA}:
            assert name not in pins, f"{name} is not used on Lambda; do not bundle it"
            continue
        assert name in pins, f"{name} is a runtime dependency but not in requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (text, pins[name])


def test_env_json_overrides_only_declared_variables_and_every_computed_one() -> None:
    declared = artifact.function_properties()["Environment"]["Variables"]
    overrides = json.loads(artifact.ENV_JSON.read_text())[artifact.FUNCTION]
    # sam local invoke silently ignores env.json variables the template does not declare.
    assert set(overrides) <= set(declared), set(overrides) - set(declared)
    computed = {name for name, value in declared.items() if not isinstance(value, str)}
    assert computed <= set(overrides), f"give these a local value in env.json: {computed - set(overrides)}"


def test_template_declares_the_documented_configuration() -> None:
    declared = artifact.function_properties()["Environment"]["Variables"]
    for name in (
        "HONEYCOMB_API_URL",
        "HONEYCOMB_SECRET_ID",
        "HONEYCOMB_SECRET_MAX_AGE",
        "EVALUATOR_CALLERS_SECRET_ID",
        "EVALUATOR_STATE_BACKEND",
        "EVALUATOR_TABLE_NAME",
        "EVALUATOR_RATE_LIMIT_PER_MINUTE",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    ):
        assert name in declared, name
    assert "HONEYCOMB_API_KEY" not in declared, "the key belongs in Secrets Manager, not in the environment"
    assert declared["POWERTOOLS_LOGGER_LOG_EVENT"] == "false", "events carry bearer tokens"


@pytest.fixture(scope="session")
def lambda_build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if worker_id != "master" else root
    target = shared / "lambda-artifact-arm64"
    with (shared / "lambda-artifact-arm64.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "honeycomb_evaluator" / "handler.py").exists():
            shutil.rmtree(target, ignore_errors=True)
            artifact.build(target, for_lambda=True)
    return target


def test_cross_build_carries_only_arm64_cpython_313_binaries(lambda_build: Path) -> None:
    binaries = sorted(p.name for p in lambda_build.rglob("*.so"))
    assert any(name.startswith("_pydantic_core.") for name in binaries), binaries
    wrong = [name for name in binaries if not name.endswith(".cpython-313-aarch64-linux-gnu.so")]
    assert wrong == [], wrong
    assert sorted(_pins()) == sorted(
        canonicalize_name(p.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        for p in lambda_build.glob("*.dist-info")
    )
    assert not (lambda_build / "bin").exists()
    assert not list(lambda_build.rglob("__pycache__"))
