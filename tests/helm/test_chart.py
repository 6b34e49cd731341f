"""What the Helm chart renders, read as Kubernetes would read it.

`make helm-test` lints the chart, renders tests/helm/values-*.yaml and validates every rendered
object with kube-apiserver's own validation (tests/argo/cmd/validate-manifests). These tests read
the same rendering for what validation cannot know: the pod gets what the image and the
evaluator expect, and each value does what values.yaml says. They run the helm binary the
Makefile builds (HELM, or the newest .tools/helm-*/helm).
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "infra" / "helm" / "honeycomb-evaluator"
VALUES = Path(__file__).parent
RELEASE, NAMESPACE = "honeycomb-evaluator", "honeycomb-evaluator"


def _helm() -> str:
    if helm := os.environ.get("HELM"):
        return helm
    built = sorted(REPO.glob(".tools/helm-*/helm"))
    if not built:
        pytest.fail("helm is not built: run `make helm`")
    return str(built[-1])


def render(values_file: str | None = None, *settings: str) -> dict[str, dict[str, Any]]:
    """The chart's objects by kind (each kind appears once in this chart)."""
    argv = [_helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    if values_file:
        argv += ["-f", str(VALUES / values_file)]
    for setting in settings:
        argv += ["--set", setting]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(done.stderr)
    objects = [o for o in yaml.safe_load_all(done.stdout) if o]
    by_kind = {o["kind"]: o for o in objects}
    assert len(by_kind) == len(objects), "a kind rendered twice"
    return by_kind


class RenderError(Exception):
    pass


def _container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _env(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(objects)["env"]}


def test_minimal_install_is_a_hardened_two_replica_deployment() -> None:
    objects = render("values-minimal.yaml")
    assert set(objects) == {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"}
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(objects)
    assert deployment["spec"]["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    # Ready only while the key is readable and the state store answers; alive whatever they do.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    spread = pod["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert all(
        c["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"] for c in spread
    )
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_key_and_callers_are_mounted_directories_so_rotation_reaches_the_pod() -> None:
    objects = render("values-minimal.yaml")
    container = _container(objects)
    env = _env(objects)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    # A subPath mount would freeze the file at the pod's start.
    assert not any("subPath" in m for m in container["volumeMounts"])
    assert volumes["honeycomb-key"]["secret"]["secretName"] == "honeycomb-api-key"
    assert env["HONEYCOMB_API_KEY_FILE"] == mounts["honeycomb-key"]["mountPath"] + "/api-key"
    assert volumes["callers"]["configMap"]["name"] == "honeycomb-evaluator-callers"
    assert env["EVALUATOR_CALLERS_FILE"] == mounts["callers"]["mountPath"] + "/callers.json"
    assert env["HONEYCOMB_API_URL"] == "https://api.honeycomb.io"
    assert "EVALUATOR_ALLOW_ANONYMOUS" not in env


def test_replicas_without_redis_split_the_query_budget() -> None:
    env = _env(render("values-minimal.yaml"))
    assert "EVALUATOR_STATE_BACKEND" not in env
    assert env["EVALUATOR_RATE_LIMIT_PER_MINUTE"] == "5"  # 10 per minute over 2 replicas
    assert _env(render("values-minimal.yaml", "replicaCount=30"))["EVALUATOR_RATE_LIMIT_PER_MINUTE"] == "1"


def test_redis_from_a_secret_shares_state_and_the_whole_budget() -> None:
    objects = render("values-redis-secret.yaml")
    env = _env(objects)
    assert env["EVALUATOR_STATE_BACKEND"] == "redis"
    assert env["EVALUATOR_REDIS_URL"] == {
        "secretKeyRef": {"name": "honeycomb-evaluator-redis", "key": "redis-url"}
    }
    assert env["EVALUATOR_RATE_LIMIT_PER_MINUTE"] == "10"
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert _container(objects)["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    peers = objects["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert peers[0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "platform-rollouts"
    }
    assert peers[0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "argo-rollouts"}
    assert peers[1]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "smoke-tests"}


def test_observability_values_add_a_service_monitor_traces_and_markers() -> None:
    objects = render("values-observability.yaml")
    monitor, service = objects["ServiceMonitor"], objects["Service"]
    # The ServiceMonitor finds the Service by its labels and scrapes its named port.
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] and endpoint["path"] == "/metrics"
    assert (
        endpoint["interval"] == "15s" and monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    )
    env = _env(objects)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://api.honeycomb.io"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {
        "secretKeyRef": {"name": "honeycomb-otlp", "key": "otlp-headers"}
    }
    assert env["OTEL_SERVICE_NAME"] == "honeycomb-evaluator"
    assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.5")
    assert "k8s.pod.name=$(K8S_POD_NAME)" in env["OTEL_RESOURCE_ATTRIBUTES"]
    assert (env["EVALUATOR_MARKERS"], env["EVALUATOR_MARKERS_DATASET"]) == ("true", "__all__")
    # Prometheus (namespace `monitoring` by default) may reach the port /metrics is on.
    scrape = objects["NetworkPolicy"]["spec"]["ingress"][-1]
    assert scrape["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_observability_is_off_unless_asked_for() -> None:
    objects = render("values-minimal.yaml")
    assert "ServiceMonitor" not in objects
    env = _env(objects)
    assert not any(name.startswith("OTEL_") for name in env)
    assert "EVALUATOR_MARKERS" not in env and "EVALUATOR_METRICS" not in env
    assert _env(render("values-minimal.yaml", "metrics.enabled=false"))["EVALUATOR_METRICS"] == "false"


def _lint(*settings: str) -> subprocess.CompletedProcess[str]:
    argv = [_helm(), "lint", "--strict", str(CHART), "-f", str(VALUES / "values-minimal.yaml")]
    for setting in settings:
        argv += ["--set", setting]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("replicaCount=two", "'/replicaCount': got string, want integer"),
        ("metrics.serviceMonitor.enabled=yes", "'/metrics/serviceMonitor/enabled': got string, want boolean"),
        ("metrics.serviceMonitor.enabeld=true", "additional properties 'enabeld' not allowed"),
        ("tracing.sampleRatio=2", "'/tracing/sampleRatio': maximum: got 2, want 1"),
        ("redis.url=http://redis:6379", "'/redis/url'"),
        ("service.port=0", "'/service/port'"),
        ("replicaCont=3", "additional properties 'replicaCont' not allowed"),
    ],
)
def test_a_mistyped_or_misspelt_value_fails_lint_naming_it(setting: str, named: str) -> None:
    linted = _lint(setting)
    assert linted.returncode != 0
    assert named in linted.stdout + linted.stderr, linted.stdout + linted.stderr


def test_the_schema_knows_every_value_and_refuses_unknown_keys_at_every_level() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if not isinstance(value, dict) or node.get("type") != "object" or "properties" not in node:
            return
        assert node.get("additionalProperties") is False, f"{path or '/'} accepts unknown keys"
        for name, child in value.items():
            assert name in node["properties"], f"{path}/{name} is in values.yaml but not in the schema"
            walk(child, node["properties"][name], f"{path}/{name}")

    walk(values, schema, "")


def test_trial_values_turn_the_optional_objects_off() -> None:
    objects = render("values-trial.yaml")
    assert set(objects) == {"Deployment", "Service"}
    env = _env(objects)
    assert env["EVALUATOR_ALLOW_ANONYMOUS"] == "true"
    assert env["EVALUATOR_REDIS_URL"] == "redis://redis.honeycomb-evaluator.svc.cluster.local:6379/0"
    assert "EVALUATOR_CALLERS_FILE" not in env
    assert objects["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == "default"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ((), "honeycomb.existingSecret"),
        (("honeycomb.existingSecret=k",), "callers: name the caller registry"),
        (
            ("honeycomb.existingSecret=k", "callers.existingSecret=a", "callers.existingConfigMap=b"),
            "not both",
        ),
        (
            (
                "honeycomb.existingSecret=k",
                "callers.allowAnonymous=true",
                "redis.url=redis://x",
                "redis.existingSecret=y",
            ),
            "not both",
        ),
    ],
)
def test_incomplete_values_fail_with_a_message_naming_the_value(
    settings: tuple[str, ...], message: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render(None, *settings)


def test_the_pod_runs_the_image_as_built() -> None:
    """The chart's args repeat the image's CMD, and its default tag is the package version."""
    container = _container(render("values-minimal.yaml"))
    containerfile = (REPO / "infra" / "image" / "Containerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", containerfile, re.MULTILINE)
    assert cmd is not None and yaml.safe_load(cmd.group(1)) == container["args"]
    assert re.search(r"^USER 10001:10001$", containerfile, re.MULTILINE)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    assert container["image"] == f"honeycomb-evaluator:{version}"


def test_in_cluster_analysis_template_calls_the_service() -> None:
    service = render("values-minimal.yaml")["Service"]
    template = yaml.safe_load(
        (REPO / "infra" / "argo-rollouts" / "analysistemplate-error-rate-in-cluster.yaml").read_text()
    )
    url = next(a["value"] for a in template["spec"]["args"] if a["name"] == "evaluate-url")
    name = service["metadata"]["name"]
    assert url == f"http://{name}.{NAMESPACE}.svc.cluster.local/v1/evaluate"
    assert service["spec"]["ports"][0]["port"] == 80
