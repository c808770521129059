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
    for doc, spec in pod_specs(render(case)):
        if doc["kind"] == "Job":
            continue
        for container in spec["containers"]:  # not the initContainers, which run once
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
    assert env["NIL_RUNNER_SERVICE"] == "nil-runner:9000"  # the pod's own namespace


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
        "NIL_RUNNER_ARTIFACT_MAX_MB",
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
    assert gateway_env["NIL_RUNNER_SERVICE"] == "nil-runner:9000"


def test_no_hooks_migrations_run_in_an_init_container_of_every_database_pod():
    """No Helm hook: `helm install --wait/--atomic` and Argo CD install the same objects,
    the database Secret is a normal release resource (rollback restores it), and a pod
    starts only after `python -m db` (waiting for the database, under an advisory lock)
    brought the schema up to its image."""
    for case in CASES:
        docs = render(case)
        for doc in docs:
            assert "helm.sh/hook" not in doc["metadata"].get("annotations", {}), doc
        assert not by_kind(docs, "Job")
        for doc, spec in pod_specs(docs):
            env_names = {e["name"] for c in spec["containers"] for e in c.get("env", [])}
            if "DATABASE_URL" not in env_names:
                assert doc["metadata"]["name"].endswith(("-runner", "-postgres"))
                continue
            first = spec["initContainers"][0]
            assert first["name"] == "migrate", doc["metadata"]["name"]
            assert first["command"] == ["python", "-m", "db"]
            assert {e["name"] for e in first["env"]} == {"DATABASE_URL", "NIL_LOG_LEVEL"}


def test_the_defaults_install_a_bundled_database():
    docs = render()  # no values at all
    postgres = named(docs, "StatefulSet", "-postgres")
    [claim] = postgres["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    [container] = postgres["spec"]["template"]["spec"]["containers"]
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        >= 300
    )  # initdb / crash recovery are not killed by liveness
    secret = named(docs, "Secret", "-database")["stringData"]
    password = secret["POSTGRES_PASSWORD"]
    assert len(password) == 32 and password != "nil-change-me"  # generated
    assert secret["DATABASE_URL"] == (
        f"postgresql://nil:{password}@nil-postgres.functions.svc.cluster.local:5432/nil"
    )
    for component in ("gateway", "consumer", "builder", "invoker", "scheduler", "runner"):
        named(docs, "Deployment", f"-{component}")
    policy = named(docs, "NetworkPolicy", "-postgres")
    assert {
        r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for r in policy["spec"]["ingress"]
    } == {"gateway", "consumer", "builder", "invoker", "scheduler"}


def test_the_bundled_password_is_url_encoded():
    docs = render(None, "--set-string", "database.bundled.password=p@ss/w#rd:1 x+")
    secret = named(docs, "Secret", "-database")["stringData"]
    assert secret["POSTGRES_PASSWORD"] == "p@ss/w#rd:1 x+"
    assert secret["DATABASE_URL"].startswith("postgresql://nil:p%40ss%2Fw%23rd%3A1%20x%2B@nil-")


@pytest.mark.parametrize(
    "sets",
    [EXTERNAL_DB, ["--set", "database.existingSecret=mine"]],
)
def test_an_external_database_turns_the_bundled_one_off(sets):
    docs = render(None, *sets)
    assert not by_kind(docs, "StatefulSet")
    assert not [
        d for d in by_kind(docs, "NetworkPolicy") if d["metadata"]["name"].endswith("-postgres")
    ]
    gateway = named(docs, "Deployment", "-gateway")["spec"]["template"]["spec"]
    [url] = [e for e in gateway["containers"][0]["env"] if e["name"] == "DATABASE_URL"]
    assert url["valueFrom"]["secretKeyRef"]["name"] == (
        "mine" if "database.existingSecret=mine" in sets else "nil-database"
    )


@pytest.mark.parametrize("case", CASES)
def test_every_probe_is_explicit(case):
    for doc, container in containers(render(case)):
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind in container:
                probe = container[kind]
                assert {"periodSeconds", "timeoutSeconds", "failureThreshold"} <= set(probe), (
                    doc["metadata"]["name"],
                    kind,
                )


def test_gateways_drain_their_longest_calls_before_they_go():
    docs = render()
    pod = named(docs, "Deployment", "-gateway")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NIL_GATEWAY_GRACEFUL_SECONDS"] == "75"  # 60 s longest call + 15 s margin
    assert pod["terminationGracePeriodSeconds"] == 85
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert env["NIL_DB_POOL_MAX"] == "10"


def test_a_pdb_only_where_more_than_one_pod_runs():
    names = {d["metadata"]["name"] for d in by_kind(render(), "PodDisruptionBudget")}
    assert names == {"nil-gateway", "nil-runner"}  # autoscaled from 2 and 3
    single = render(
        None,
        "--set",
        "gateway.autoscaling.enabled=false,gateway.replicas=1,runner.autoscaling.minReplicas=1",
    )
    assert not by_kind(single, "PodDisruptionBudget")


def test_every_component_takes_scheduling_values_and_extra_env():
    components = ("gateway", "consumer", "invoker", "builder", "runner")
    sets = []
    for c in components:
        sets += [
            "--set-json",
            f'{c}.nodeSelector={{"pool":"{c}"}}',
            "--set-json",
            f'{c}.tolerations=[{{"key":"k","operator":"Exists"}}]',
            "--set-json",
            f'{c}.topologySpreadConstraints=[{{"maxSkew":1,"topologyKey":"zone",'
            f'"whenUnsatisfiable":"ScheduleAnyway"}}]',
            "--set",
            f"{c}.priorityClassName=high,{c}.runtimeClassName=gvisor",
            "--set-json",
            f'{c}.extraEnv=[{{"name":"EXTRA_{c.upper()}","value":"1"}}]',
        ]
    docs = render(None, *sets)
    for c in components:
        pod = named(docs, "Deployment", f"-{c}")["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"pool": c}
        assert pod["tolerations"] == [{"key": "k", "operator": "Exists"}]
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "zone"
        assert pod["priorityClassName"] == "high" and pod["runtimeClassName"] == "gvisor"
        assert {"name": f"EXTRA_{c.upper()}", "value": "1"} in pod["containers"][0]["env"]
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_production_toggles_render_monitoring_keda_ingress_and_gvisor():
    docs = render("production-values.yaml")
    rules = yaml.safe_load((CHART / "alerts" / "nil.rules.yaml").read_text())
    assert by_kind(docs, "PrometheusRule")[0]["spec"] == rules
    dashboard = by_kind(docs, "ConfigMap")[0]["data"]["nil-overview.json"]
    assert json.loads(dashboard)["uid"] == "nil-overview"
    [monitor] = by_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/component"  # job: the component
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["http", "metrics"]
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
        if component in ("gateway", "invoker", "consumer") and container["name"] != "migrate":
            ref = names["NIL_SECRETS_KEY"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "nil-secrets-key", "key": "NIL_SECRETS_KEY"}
            assert names["NIL_SECRETS_OLD_KEYS"]["valueFrom"]["secretKeyRef"]["optional"]
        else:  # runners, the builder, the scheduler, the migrations never see the key
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
        (
            ["--set", "database.bundled.enabled=false"],
            "set database.url, database.existingSecret, or database.bundled.enabled=true",
        ),
        ([*EXTERNAL_DB, "--set", "database.existingSecret=x"], "not both"),
        (["--set", "database.bundled.password=short"], "/database/bundled/password"),
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


def test_the_runners_artifact_cache_prunes_before_its_volume_fills():
    docs = render()
    pod = named(docs, "Deployment", "-runner")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    prune_mb = int(env["NIL_RUNNER_ARTIFACT_MAX_MB"])
    size_mb = int(volumes["artifacts"]["emptyDir"]["sizeLimit"].removesuffix("Mi"))
    assert prune_mb == 1536 and size_mb >= prune_mb + 256
    requested = int(container["resources"]["requests"]["ephemeral-storage"].removesuffix("Mi"))
    assert requested >= size_mb + 64  # the artifacts, /tmp, and logs
    assert container["resources"]["limits"]["ephemeral-storage"] == f"{requested}Mi"
    # a busy runner uses one core: a request of one core, not 250m
    assert container["resources"]["requests"]["cpu"] == "1"


def test_runners_can_scale_on_busy_runners_instead_of_cpu():
    docs = render(None, "--set", "runner.keda.enabled=true")
    [scaled] = [d for d in by_kind(docs, "ScaledObject") if d["metadata"]["name"] == "nil-runner"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert "nil_runner_busy" in trigger["metadata"]["query"]
    assert trigger["metadata"]["threshold"] == "0.7"
    assert "nil-runner" not in {
        d["metadata"]["name"] for d in by_kind(docs, "HorizontalPodAutoscaler")
    }
    assert "replicas" not in named(docs, "Deployment", "-runner")["spec"]
    for doc in by_kind(docs, "ScaledObject"):
        jsonschema.validate(doc, {"type": "object", **CRD_SCHEMAS["ScaledObject"]})


def test_keda_reaches_the_bundled_database():
    docs = render(None, "--set", "invoker.keda.enabled=true")
    policy = named(docs, "NetworkPolicy", "-postgres")
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in [
        peer for rule in policy["spec"]["ingress"] for peer in rule["from"]
    ]
    [auth] = by_kind(docs, "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"][0]["name"] == "nil-database"
    url = named(docs, "Secret", "-database")["stringData"]["DATABASE_URL"]
    assert "@nil-postgres.functions.svc.cluster.local:5432/" in url  # KEDA resolves it


def test_egress_is_dns_the_database_and_the_runners_only():
    docs = render()
    for component in ("gateway", "consumer", "invoker", "builder"):
        policy = named(docs, "NetworkPolicy", f"-{component}-egress")
        assert policy["spec"]["policyTypes"] == ["Egress"]
        ports = [[p["port"] for p in rule["ports"]] for rule in policy["spec"]["egress"]]
        expected = [[53, 53], [5432]] + ([] if component == "builder" else [[9000]])
        assert ports == expected, component
    external = render(None, *EXTERNAL_DB)
    rule = named(external, "NetworkPolicy", "-gateway-egress")["spec"]["egress"][1]
    assert rule == {"ports": [{"port": 5432, "protocol": "TCP"}]}
