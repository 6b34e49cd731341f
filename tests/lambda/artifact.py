"""Build the Lambda artifact the way `sam build` does, and run its handler the way Lambda does.

The build runs functions/evaluator/Makefile (the same target `sam build` runs), either for the
real runtime (arm64, CPython 3.13) or, with `PLATFORM_FLAGS=`, for a local interpreter so the
handler can actually be imported and invoked here: CPython 3.13 when the machine has it (pyenv
does here), else the interpreter running the tests. Invocations happen in a separate interpreter
started with `-I -S`: no site-packages, so the artifact plus what the Lambda runtime itself
provides (the AWS SDK) must be enough, and a missing dependency fails the test.

Used by tests/lambda and tests/bench/bench_lambda.py.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CODE_URI = REPO / "functions" / "evaluator"
TEMPLATE = REPO / "template.yaml"
EVENTS = REPO / "events"
ENV_JSON = EVENTS / "env.json"
INVOKER = Path(__file__).with_name("invoke.py")
FUNCTION = "EvaluatorFunction"

# What the Lambda Python runtime ships besides the standard library: boto3 and its dependencies.
# requirements.txt leaves these out on purpose.
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")

# Runtime dependencies of the evaluator that Lambda never needs: redis serves only replicas in a
# cluster (EVALUATOR_STATE_BACKEND=redis) and is imported by that backend alone; prometheus-client
# only by `serve` (GET /metrics).
NOT_FOR_LAMBDA = ("redis", "prometheus-client")


def runtime_version() -> str:
    """The template's Python version, e.g. "3.13" for `Runtime: python3.13`."""
    runtime: str = function_properties()["Runtime"]
    return runtime.removeprefix("python")


@functools.cache
def local_python() -> str:
    """The interpreter local builds are made for and run with: a CPython of the Lambda runtime's
    version if this machine has one (on PATH or under pyenv), so the artifact runs on the same
    Python minor as on Lambda; else the interpreter running this code."""
    version = runtime_version()
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    probe = "import sys, pip; print('%d.%d' % sys.version_info[:2])"
    for candidate in filter(None, candidates):
        answer = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, check=False)
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return sys.executable


def local_python_version() -> str:
    answer = subprocess.run(
        [local_python(), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def build(dest: Path, *, for_lambda: bool) -> Path:
    """Run the SAM build target into `dest`: cross-built for Lambda, or for `local_python()`."""
    python = sys.executable if for_lambda else local_python()
    argv = ["make", "--no-print-directory", "-C", str(CODE_URI), f"build-{FUNCTION}"]
    argv += [f"ARTIFACTS_DIR={dest}", f"PYTHON={python}"]
    if not for_lambda:
        argv.append("PLATFORM_FLAGS=")
    # Run as SAM does, not as a sub-make of `make test`: no variables inherited from the outer make.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return dest


def runtime_sdk(dest: Path) -> Path:
    """A directory standing in for the runtime's AWS SDK: links to this venv's copies."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_SDK:
        dist = metadata.distribution(name)
        top_level = {Path(str(f)).parts[0] for f in dist.files or ()}
        for part in top_level:
            source = Path(str(dist.locate_file(part)))
            link = dest / part
            if source.exists() and not link.exists() and not part.endswith(".pth"):
                link.symlink_to(source)
    return dest


def unmet_requirements(paths: Sequence[Path]) -> list[str]:
    """Requirements of distributions in `paths` that nothing in `paths` satisfies, on the Python
    of the local build."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    full_version = local_python_version()
    marker_env = {"extra": "", "python_full_version": full_version}
    marker_env["python_version"] = ".".join(full_version.split(".")[:2])
    dists = list(metadata.distributions(path=[str(p) for p in paths]))
    versions = {canonicalize_name(d.metadata["Name"]): d.version for d in dists}
    problems = []
    for dist in dists:
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(marker_env):
                continue
            have = versions.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                problems.append(f"{dist.metadata['Name']} needs {req}, have {have or 'nothing'}")
    return sorted(problems)


def _yaml_with_intrinsics() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {suffix: value}

    Loader.add_multi_constructor("!", intrinsic)
    return Loader


def template() -> dict[str, Any]:
    """template.yaml, with each intrinsic read as a one-key mapping (`!Ref X` -> {"Ref": "X"})."""
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_yaml_with_intrinsics())
    return loaded


def function_properties() -> dict[str, Any]:
    properties: dict[str, Any] = template()["Resources"][FUNCTION]["Properties"]
    return properties


def local_invoke_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment `sam local invoke --env-vars events/env.json` gives the function.

    As SAM does: the template's literal variables, then env.json (which may only override
    variables the template declares), plus what the Lambda runtime sets. `overrides` replaces
    what only a test knows (server URLs, the moto endpoint).
    """
    declared = function_properties()["Environment"]["Variables"]
    env = {name: value for name, value in declared.items() if isinstance(value, str)}
    env.update(json.loads(ENV_JSON.read_text())[FUNCTION])
    env.update(
        {
            "AWS_SAM_LOCAL": "true",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function_properties()["MemorySize"]),
            "_HANDLER": function_properties()["Handler"],
        }
    )
    env.update(overrides)
    return env


STATE_TABLE = "evaluator-state"
DEMO_CALLERS = EVENTS / "callers" / "demo-callers.json"


def aws_client(service: str, env: Mapping[str, str]) -> Any:
    """A boto3 client for the moto server an `aws_env()` environment points at."""
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]  # boto3-stubs list each service name as a literal
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def provision(aws: Mapping[str, str], honeycomb_key: str) -> dict[str, str]:
    """Create on moto what the stack provides: the Honeycomb key and caller-registry secrets (under
    the names events/env.json uses, holding the key and events/callers/demo-callers.json) and the
    state table exactly as template.yaml defines it. Returns the variables that select them."""
    names = json.loads(ENV_JSON.read_text())[FUNCTION]
    secrets = aws_client("secretsmanager", aws)
    secrets.create_secret(Name=names["HONEYCOMB_SECRET_ID"], SecretString=honeycomb_key)
    secrets.create_secret(Name=names["EVALUATOR_CALLERS_SECRET_ID"], SecretString=DEMO_CALLERS.read_text())
    create_state_table(aws, STATE_TABLE)
    return {"EVALUATOR_STATE_BACKEND": "dynamodb", "EVALUATOR_TABLE_NAME": STATE_TABLE, **aws}


def create_state_table(aws: Mapping[str, str], name: str) -> None:
    """A state table on moto exactly as template.yaml defines `StateTable`."""
    table = template()["Resources"]["StateTable"]["Properties"]
    aws_client("dynamodb", aws).create_table(
        TableName=name,
        BillingMode=table["BillingMode"],
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
    )


@dataclass
class Invocation:
    """What one run of `invoke.py` answered, printed and measured."""

    responses: list[dict[str, Any]]
    output: str
    import_ms: float
    import_cpu_ms: float
    wall_ms: list[float]
    cpu_ms: list[float]
    peak_rss_mb: float


def invoke(
    artifact: Path,
    sdk: Path,
    events: Sequence[Path],
    env: Mapping[str, str],
    *,
    python_flags: Sequence[str] = (),
    timeout: float = 120.0,
) -> Invocation:
    """Invoke the built handler once per event, in order, in one fresh interpreter (one warm
    execution environment after its cold start)."""
    out = artifact.parent / f"invocation-{os.getpid()}-{time.monotonic_ns()}.json"
    argv = [local_python(), "-I", "-S", *python_flags, str(INVOKER), str(artifact), str(sdk), str(out)]
    clean_env = {"PATH": os.environ.get("PATH", ""), "LAMBDA_TASK_ROOT": str(artifact), **env}
    proc = subprocess.run(
        [*argv, *map(str, events)], env=clean_env, capture_output=True, text=True, timeout=timeout
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"the handler process failed ({proc.returncode}):\n{output}")
    result = json.loads(out.read_text())
    out.unlink()
    return Invocation(output=output, **result)
