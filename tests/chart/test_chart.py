"""The Helm chart: lint, render every CI values file, validate every manifest offline
against the Kubernetes schemas, and assert the production hygiene a platform team
expects. No cluster is needed."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "nil"
HELM = shutil.which("helm", path=str(ROOT / ".venv" / "bin")) or shutil.which("helm")
CASES = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
K8S_VERSION = "1.34"
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
EXTERNAL_DB = ["--set", "database.url=postgresql://u:p@db:5432/nil"]

# Minimal schemas for the CRDs the chart renders (ServiceMonitor, PrometheusRule, KEDA):
# the fields the chart sets, with their upstream types.
CRD_SCHEMAS = {
    "ServiceMonitor": {
        "required": ["spec"],
        "properties": {
            "spec": {
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {"type": "object", "required": ["matchLabels"]},
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["port"],
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "PrometheusRule": {
        "required": ["spec"],
        "properties": {
            "spec": {
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "required": ["name", "rules"],
                            "properties": {
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "required": ["alert", "expr"],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "expr": {"type": "string"},
                                            "for": {"type": "string"},
                                            "labels": {"type": "object"},
                                            "annotations": {"type": "object"},
                                        },
                                    },
                                }
                            },
                        },
                    }
                },
            }
        },
    },
    "ScaledObject": {
        "required": ["spec"],
        "properties": {
            "spec": {
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {"required": ["name"]},
                    "minReplicaCount": {"type": "integer"},
                    "maxReplicaCount": {"type": "integer"},
                    "triggers": {"type": "array", "items": {"required": ["type", "metadata"]}},
                },
            }
        },
    },
    "TriggerAuthentication": {
        "required": ["spec"],
        "properties": {
            "spec": {
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {"required": ["parameter", "name", "key"]},
                    }
                }
            }
        },
    },
}

pytestmark = pytest.mark.skipif(HELM is None, reason="helm is not installed (make setup)")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([HELM, *args], capture_output=True, text=True, check=check)


def render(case: str | None = None, *sets: str) -> list[dict]:
    args = ["template", "nil", str(CHART), "--namespace", "functions"]
    if case:
        args += ["-f", str(CHART / "ci" / case)]
    out = helm(*args, *sets).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_specs(docs: list[dict]):
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def containers(docs: list[dict]):
    for doc, spec in pod_specs(docs):
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            yield doc, container


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict], kind: str, suffix: str) -> dict:
    [doc] = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    return doc


@pytest.mark.parametrize("case", CASES)
def test_lint_strict(case):
    result = helm("lint", "--strict", str(CHART), "-f", str(CHART / "ci" / case), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES)
def test_every_manifest_validates_offline(case):
    docs = render(case)
    assert len(docs) >= 12
    for doc in docs:
        if doc["kind"] in CRD_SCHEMAS:
            schema = {
                "type": "object",
                "required": ["apiVersion", "kind", "metadata"],
                **CRD_SCHEMAS[doc["kind"]],
            }
            jsonschema.validate(doc, schema)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("case", CASES)
def test_every_container_has_requests_and_limits(case):
    for doc, container in containers(render(case)):
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                f"{doc['metadata']['name']}/{container['name']} lacks {kind}"
            )


@pytest.mark.parametrize("case", CASES)
def test_pods_run_restricted(case):
    for doc, spec in pod_specs(render(case)):
        name = doc["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name


@pytest.mark.parametrize("case", CASES)
def test_long_running_containers_have_probes(case):
    for doc, container in containers(render(case)):
        if doc["kind"] == "Job":
            continue
        assert "livenessProbe" in container and "readinessProbe" in container, doc["metadata"][
            "name"
        ]


@pytest.mark.parametrize("case", CASES)
def test_selectors_match_labels(case):
    docs = render(case)
    pod_labels = [
        spec_doc["spec"]["template"]["metadata"]["labels"] for spec_doc, _ in pod_specs(docs)
    ]

    def selects_some_pod(selector: dict) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for doc, _ in pod_specs(docs):
        if doc["kind"] != "Job":
            selector = doc["spec"]["selector"]["matchLabels"]
            assert selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
            assert "app.kubernetes.io/version" not in selector  # selectors stay stable
    for service in by_kind(docs, "Service"):
        assert selects_some_pod(service["spec"]["selector"]), service["metadata"]["name"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for doc in by_kind(docs, kind):
            selector = doc["spec"].get("selector") or doc["spec"]["podSelector"]
            assert selects_some_pod(selector["matchLabels"]), doc["metadata"]["name"]
    workloads = {d["metadata"]["name"] for d in docs if d["kind"] in WORKLOADS}
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in workloads


@pytest.mark.parametrize("case", CASES)
def test_images_are_pinned_never_latest(case):
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for _doc, container in containers(render(case)):
        image = container["image"]
        assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1]
        if "nil-" in image:
            assert image.endswith(f":{app_version}"), image


def test_runner_network_policy_allows_only_the_callers_and_denies_egress():
    docs = render("default-values.yaml")
    policy = named(docs, "NetworkPolicy", "-runner")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"] == []
    [rule] = policy["spec"]["ingress"]
    assert [
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]
    ] == ["gateway", "consumer", "invoker"]
    assert rule["ports"] == [{"port": 9000, "protocol": "TCP"}]


def test_the_consumer_reaches_the_runners_it_warms():
    docs = render("default-values.yaml")
    consumer = named(docs, "Deployment", "-consumer")
    env = {
        e["name"]: e.get("value")
        for e in consumer["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["NIL_POOL_BACKEND"] == "kubernetes"
    assert env["NIL_RUNNER_SERVICE"] == "nil-runner.functions.svc:9000"


def test_runners_hold_no_credentials_and_sit_behind_a_headless_service():
    docs = render("default-values.yaml")
    runner = named(docs, "Deployment", "-runner")["spec"]["template"]["spec"]
    env = {e["name"] for e in runner["containers"][0]["env"]}
    assert env == {
        "NIL_RUNNER_BIND",
        "NIL_RUNNER_METRICS_BIND",
        "NIL_RUNNER_GRACEFUL_SECONDS",
        "NIL_LOG_LEVEL",
        "NIL_RUNNER_ARTIFACT_DIR",
    }
    assert "envFrom" not in runner["containers"][0]
    assert named(docs, "Service", "-runner")["spec"]["clusterIP"] == "None"
    gateway_env = {
        e["name"]: e.get("value")
        for e in named(docs, "Deployment", "-gateway")["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert gateway_env["NIL_POOL_BACKEND"] == "kubernetes"
    assert gateway_env["NIL_RUNNER_SERVICE"] == "nil-runner.functions.svc:9000"


def test_hooks_run_in_order():
    for case, job_hook in (
        ("default-values.yaml", "pre-install,pre-upgrade"),
        ("bundled-postgres-values.yaml", "post-install,pre-upgrade"),
    ):
        docs = render(case)
        secret = named(docs, "Secret", "-database")["metadata"]["annotations"]
        job = named(docs, "Job", "-migrate")["metadata"]["annotations"]
        assert job["helm.sh/hook"] == job_hook
        assert "pre-install" in secret["helm.sh/hook"]
        assert int(secret["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])


def test_production_toggles_render_monitoring_keda_ingress_and_gvisor():
    docs = render("production-values.yaml")
    rules = yaml.safe_load((CHART / "alerts" / "nil.rules.yaml").read_text())
    assert by_kind(docs, "PrometheusRule")[0]["spec"] == rules
    dashboard = by_kind(docs, "ConfigMap")[0]["data"]["nil-overview.json"]
    assert json.loads(dashboard)["uid"] == "nil-overview"
    assert by_kind(docs, "ServiceMonitor")
    scaled = by_kind(docs, "ScaledObject")[0]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "nil-builder"
    assert "pgmq.metrics('compilation_jobs')" in scaled["spec"]["triggers"][0]["metadata"]["query"]
    assert "replicas" not in named(docs, "Deployment", "-builder")["spec"]
    runner = named(docs, "Deployment", "-runner")["spec"]["template"]["spec"]
    assert runner["runtimeClassName"] == "gvisor"
    assert by_kind(docs, "Ingress")[0]["spec"]["tls"][0]["secretName"] == "nil-tls"
    assert not [d for d in by_kind(docs, "Secret")]  # all credentials from existing Secrets


def test_the_secrets_key_is_generated_once_kept_and_given_only_to_who_opens_secrets():
    docs = render("default-values.yaml")
    secret = named(docs, "Secret", "-secrets-key")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    key = base64.b64decode(base64.b64decode(secret["data"]["NIL_SECRETS_KEY"]))
    assert len(key) == 32
    template = (CHART / "templates" / "secrets-key.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template  # an upgrade keeps the installed key
    for doc, container in containers(docs):
        names = {e["name"]: e for e in container.get("env", [])}
        component = doc["metadata"]["name"].removeprefix("nil-")
        if component in ("gateway", "invoker", "consumer"):
            ref = names["NIL_SECRETS_KEY"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "nil-secrets-key", "key": "NIL_SECRETS_KEY"}
            assert names["NIL_SECRETS_OLD_KEYS"]["valueFrom"]["secretKeyRef"]["optional"]
        else:  # runners, the builder, the migrations Job never see the key
            assert "NIL_SECRETS_KEY" not in names, component


def test_api_keys_come_from_a_secret():
    docs = render("bundled-postgres-values.yaml")
    env = {
        e["name"]: e
        for e in named(docs, "Deployment", "-gateway")["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert env["NIL_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "nil-api-keys"


def test_a_changed_secret_rolls_the_pods():
    first = named(render("default-values.yaml"), "Deployment", "-gateway")
    second = named(
        render("default-values.yaml", "--set", "database.url=postgresql://other"),
        "Deployment",
        "-gateway",
    )
    key = "checksum/secrets"
    assert (
        first["spec"]["template"]["metadata"]["annotations"][key]
        != second["spec"]["template"]["metadata"]["annotations"][key]
    )


@pytest.mark.parametrize(
    "sets, message",
    [
        ([*EXTERNAL_DB, "--set", "image.tag=latest"], "/image/tag"),
        ([*EXTERNAL_DB, "--set", "gateway.replicas=0"], "/gateway/replicas"),
        ([*EXTERNAL_DB, "--set", "logLevel=LOUD"], "/logLevel"),
        ([*EXTERNAL_DB, "--set", "runner.port=70000"], "/runner/port"),
        ([*EXTERNAL_DB, "--set", "gatway.replicas=2"], "gatway"),
        (["--set", "database.url=mysql://x"], "/database/url"),
        ([*EXTERNAL_DB, "--set", "apiKeys.keys={short}"], "/apiKeys/keys/0"),
        ([], "set database.url, database.existingSecret, or database.bundled.enabled=true"),
        ([*EXTERNAL_DB, "--set", "database.bundled.enabled=true"], "not both"),
    ],
)
def test_wrong_values_are_refused(sets, message):
    result = helm("template", "nil", str(CHART), *sets, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_chart_readme_lists_every_value():
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def leaves(node, prefix=""):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if (
                isinstance(value, dict)
                and value
                and not path.endswith(
                    (
                        "resources",
                        "labels",
                        "annotations",
                        "podAnnotations",
                        "requests",
                        "limits",
                        "nodeSelector",
                        "affinity",
                    )
                )
            ) or path in ("limits",):
                yield from leaves(value, path + ".")
            else:
                yield path

    for path in leaves(values):
        last = path.rsplit(".", 1)[-1]
        assert path in readme or f".{last}" in readme or f"`{last}`" in readme, path


def test_runners_drain_before_they_go_and_expose_metrics_on_a_port_of_their_own():
    docs = render("default-values.yaml")
    pod = named(docs, "Deployment", "-runner")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # the longest timeout (60 s) + a 15 s margin to drain; preStop 5 s; 5 s more
    assert env["NIL_RUNNER_GRACEFUL_SECONDS"] == "75"
    assert pod["terminationGracePeriodSeconds"] == 85
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    assert env["NIL_RUNNER_METRICS_BIND"] == "0.0.0.0:9001"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "runner": 9000,
        "metrics": 9001,
    }
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"] == {"path": "/health", "port": "metrics"}
        assert probe["timeoutSeconds"] == 3
    service = named(docs, "Service", "-runner")
    assert [p["name"] for p in service["spec"]["ports"]] == ["runner", "metrics"]


def test_runner_metrics_scrapers_reach_the_metrics_port_only():
    scrapers = '[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]'
    docs = render(
        "default-values.yaml", "--set-json", f"networkPolicy.runnerMetricsFrom={scrapers}"
    )
    calls, metrics = named(docs, "NetworkPolicy", "-runner")["spec"]["ingress"]
    assert calls["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert metrics == {
        "from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "ports": [{"port": 9001, "protocol": "TCP"}],
    }
