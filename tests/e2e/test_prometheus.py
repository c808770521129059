"""The dashboard and the alerts against a real Prometheus (Debian's 2.42), as an operator
would see them: Prometheus on loopback scrapes a cluster on one machine — two gateways
(each its own gunicorn master), an invoker, a builder, a consumer, a scheduler and two
runners on TCP with their own metrics listeners (the Kubernetes shape) — every second,
while a mixed workload runs: executions that complete and fail, compiles that succeed and
fail, asynchronous invocations, a burst of 503s (no runner free in time) and of 429s
(`limits.concurrency`).

Then every dashboard expression (template variables substituted) and every alert rule's
expression (its threshold left off) is evaluated through Prometheus's HTTP API: each
returns data or is in ALLOWED_EMPTY with the reason; and the figures an operator reads in
an incident match the API: functions by status (not N times over with N gateways), runners busy
during the burst, executions by outcome."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import promql_parser
import pytest
import requests
import yaml

from tests.conftest import temporary_database
from tests.e2e.cluster import Cluster
from tests.e2e.conftest import free_port
from tests.e2e.test_cluster import SPIN_WAT
from tests.integration.helpers import function_body

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="no prometheus binary: install Debian's package prometheus (make setup does, as root)",
)
CHART = Path(__file__).resolve().parents[2] / "charts" / "nil"
RULES = CHART / "alerts" / "nil.rules.yaml"
DASHBOARD = CHART / "dashboards" / "nil-overview.json"
RATE_INTERVAL = "2m"  # $__rate_interval: the workload is all within it
VARIABLES = {"$namespace": ".*", "$job": ".*", "$instance": ".*"}  # "All"

# Metrics whose expressions may be empty after this workload by design, and why.
ALLOWED_EMPTY = {
    "nil_supervisor_": "a supervisor's own series: make dev and Docker only; runners found by"
    " static, DNS or Kubernetes discovery have none (their keeper's worker restarts count)",
}
# Alerts whose expression is empty while all is well, and why.
ALLOWED_EMPTY_RULES = {
    "NilComponentAbsent": "absent() answers only when no replica of a component is scraped",
}
TRAP_WAT = """(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle") (param i32 i32) (result i64) unreachable))"""


@pytest.fixture(scope="module")
def cluster(pg_url, template_url, tmp_path_factory):
    with temporary_database(pg_url, "nil_prometheus") as url:
        cluster = Cluster.of(
            url,
            tmp_path_factory.mktemp("prom-cluster"),
            runner=2,
            gateway=2,
            invoker=1,
            builder=1,
            consumer=1,
            scheduler=1,
        )
        # the gateways give up on a runner after 20 ms: the burst ends in 503s
        cluster.env_by_kind = {"gateway": {"NIL_RUNNER_WAIT_MS": "20"}}
        for runner in cluster.of_kind("runner"):
            runner.metrics_port = free_port()
        try:
            cluster.start_all()
            yield cluster
        finally:
            cluster.stop_all()


def scrape_config(cluster: Cluster) -> dict:
    def job(name: str, targets: list[str]) -> dict:
        return {"job_name": name, "static_configs": [{"targets": targets}]}

    jobs = [
        job(kind, [m.address for m in cluster.of_kind(kind)])
        for kind in ("gateway", "builder", "consumer", "invoker", "scheduler")
    ]
    jobs.append(job("runner", [f"127.0.0.1:{m.metrics_port}" for m in cluster.of_kind("runner")]))
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": jobs,
    }


@pytest.fixture(scope="module")
def prometheus(cluster, tmp_path_factory):
    yield from running_prometheus(scrape_config(cluster), tmp_path_factory.mktemp("prometheus"))


def running_prometheus(settings: dict, home: Path) -> Iterator[str]:
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert proc.poll() is None, (home / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/-/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def query(url: str, expr: str) -> list[dict]:
    response = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=30)
    assert response.status_code == 200, f"{expr}: {response.text}"
    return response.json()["data"]["result"]


def deploy(gateway: str, name: str, src: str, **extra) -> dict:
    created = requests.post(
        gateway + "/functions", json=function_body(name=name, src=src, **extra), timeout=30
    )
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    deadline = time.monotonic() + 90
    while (fn := requests.get(f"{gateway}/functions/{fid}", timeout=10).json())["status"] in (
        "PENDING",
        "COMPILING",
    ):
        assert time.monotonic() < deadline, fn
        time.sleep(0.05)
    return fn


def burst(url: str, fid: str, calls: int, threads: int, seconds: float = 0.0) -> list[int]:
    """`calls` executions from `threads` clients, going on for at least `seconds`: long
    enough for the 1 s scrapes to see the runners busy (calls refused after the 20 ms
    wait come back at once, so a burst of a fixed count can end between two scrapes)."""
    statuses: list[int] = []
    until = time.monotonic() + seconds

    def one(n: int) -> None:
        with requests.Session() as session:
            i = n
            while i < calls or time.monotonic() < until:
                r = session.post(f"{url}/functions/{fid}/execute", json={"input": {"i": i}})
                statuses.append(r.status_code)
                i += threads

    workers = [threading.Thread(target=one, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    return statuses


@pytest.fixture(scope="module")
def workload(cluster, prometheus) -> dict:
    """Run the mixed workload through both gateways; returns what the API says of it."""
    urls = [m.url for m in cluster.of_kind("gateway")]
    seen: dict = {"statuses": []}
    echo = deploy(urls[0], "echo", src=None, route="obs/echo")
    trap = deploy(urls[1], "trap", src=TRAP_WAT)
    long = {"fuel": 50_000_000_000, "timeoutMs": 10_000}
    spin = deploy(urls[0], "spin", src=SPIN_WAT % 100_000_000, limits=long)
    limited = deploy(urls[1], "limited", src=SPIN_WAT % 20_000_000, limits={"concurrency": 1})
    broken = deploy(urls[0], "broken", src="(module (func $oops")
    assert [f["status"] for f in (echo, trap, spin, limited)] == ["READY"] * 4
    assert broken["status"] == "FAILED"
    for i in range(20):
        r = requests.post(f"{urls[i % 2]}/functions/{echo['id']}/execute", json={"input": {}})
        assert r.json()["status"] == "COMPLETED"
    for i in range(5):
        r = requests.post(f"{urls[i % 2]}/functions/{trap['id']}/execute", json={"input": {}})
        assert r.json()["status"] == "FAILED"
    for i in range(4):
        assert requests.post(f"{urls[i % 2]}/fn/obs/echo", json={}).status_code == 200
    invocations = [
        requests.post(f"{urls[i % 2]}/functions/{fid}/invocations", json={"input": {}})
        for i, fid in enumerate([echo["id"]] * 6 + [limited["id"]] * 3)
    ]
    assert all(r.status_code == 202 for r in invocations), [r.text for r in invocations]
    requests.post(
        f"{urls[0]}/functions/{echo['id']}/schedules", json={"cron": "* * * * *", "input": {}}
    )
    one = requests.post(f"{urls[0]}/functions/{spin['id']}/execute", json={"input": {}}).json()
    print(f"\na spin call: {one['status']} in {one.get('durationMs')} ms")
    seen["statuses"] += burst(urls[0], spin["id"], calls=60, threads=12, seconds=3)
    seen["statuses"] += burst(urls[1], spin["id"], calls=60, threads=12, seconds=3)
    seen["statuses"] += burst(urls[1], limited["id"], calls=30, threads=4)
    for r in invocations:
        eid = r.json()["id"]
        deadline = time.monotonic() + 60
        while requests.get(f"{urls[0]}/executions/{eid}").json()["status"] not in (
            "COMPLETED",
            "FAILED",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    time.sleep(4)  # a few more scrapes and rule evaluations
    seen["functions"] = requests.get(f"{urls[0]}/functions?limit=100").json()
    return seen


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], expr))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    """Each alert's expression without its threshold: what it compares must exist."""
    rules = yaml.safe_load(RULES.read_text())
    found = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            node = promql_parser.parse(rule["expr"])
            if isinstance(node, promql_parser.BinaryExpr) and str(node.op) in (
                ">",
                "<",
                "==",
                "!=",
                ">=",
                "<=",
            ):
                node = node.lhs
            found.append((rule["alert"], str(node)))
    return found


def test_every_dashboard_expression_returns_data(prometheus, workload):
    empty, table = [], []
    for title, expr in dashboard_expressions():
        data = bool(query(prometheus, expr))
        table.append(f"| {title} | `{expr}` | {'data' if data else 'empty'} |")
        if not data and not any(metric in expr for metric in ALLOWED_EMPTY):
            empty.append(f"{title}: {expr}")
    print("\n" + "\n".join(table))
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_every_alert_expression_returns_data_and_every_rule_loads(prometheus, workload):
    empty = [
        f"{a}: {e}"
        for a, e in rule_expressions()
        if a not in ALLOWED_EMPTY_RULES and not query(prometheus, e)
    ]
    assert not empty, "alerts that compare nothing:\n" + "\n".join(empty)
    rules = requests.get(prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {r["name"]: r for g in rules for r in g["rules"]}
    assert set(loaded) == {a for a, _ in rule_expressions()}
    assert all(r["health"] == "ok" for r in loaded.values()), loaded
    firing = {r["name"] for r in loaded.values() if r["state"] == "firing"}
    assert not firing & {"NilComponentDown", "NilComponentAbsent", "NilNotReady"}, firing


def test_functions_by_status_match_the_api_whatever_the_gateways(prometheus, workload):
    by_status: dict[str, int] = {}
    for fn in workload["functions"]:
        by_status[fn["status"]] = by_status.get(fn["status"], 0) + 1
    shown = {
        r["metric"]["status"]: float(r["value"][1])
        for r in query(prometheus, dashboard_query("Functions by status"))
    }
    assert {s: v for s, v in shown.items() if v} == by_status


def test_runners_busy_during_the_burst_and_the_pool_not_multiplied(prometheus, workload):
    statuses = workload["statuses"]
    assert 503 in statuses and 429 in statuses and 200 in statuses, sorted(set(statuses))
    pool = {
        legend: query(prometheus, f"max_over_time(({expr})[3m:1s])")
        for legend, expr in dashboard_targets("Runner pool").items()
    }
    assert float(pool["runners"][0]["value"][1]) == 2  # two runners, two gateways seeing them
    assert float(pool["busy"][0]["value"][1]) > 0
    [busy] = query(prometheus, 'max_over_time(sum(nil_runner_busy{job="runner"})[3m:1s])')
    assert float(busy["value"][1]) > 0
    no_runner = 'sum(nil_runner_wait_seconds_count{job="gateway", result="no_runner"})'
    [waits] = query(prometheus, no_runner)
    assert float(waits["value"][1]) == statuses.count(503)


def test_executions_by_outcome_match_the_calls(prometheus, workload):
    got = {
        r["metric"]["outcome"]: float(r["value"][1])
        for r in query(prometheus, "sum by (outcome) (nil_executions_total)")
    }
    assert got["trap"] >= 5
    assert got["ok"] >= 20 + 4 + 6
    [gateways] = query(
        prometheus, 'sum(nil_executions_total{job="gateway", outcome="platform_error"})'
    )
    assert float(gateways["value"][1]) == workload["statuses"].count(503)
    assert set(got) >= {"ok", "trap", "timeout", "fuel_exhausted", "platform_error"}


def dashboard_targets(title: str) -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    [panel] = [p for p in dashboard["panels"] if p["title"].startswith(title)]
    targets = {}
    for target in panel["targets"]:
        expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        targets[re.sub(r"\{\{.*?\}\}\s*", "", target["legendFormat"]).strip()] = expr
    return targets


def dashboard_query(title: str) -> str:
    [expr] = dashboard_targets(title).values()
    return expr


@pytest.fixture(scope="module")
def dev_prometheus(platform, tmp_path_factory):
    """Prometheus scraping the `make dev` platform (tests/e2e/conftest.py): its runners
    only through the supervisor's one endpoint, NIL_SUPERVISOR_PORT."""

    def job(name: str, port: int) -> dict:
        return {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}

    settings = {
        "global": {"scrape_interval": "3s", "evaluation_interval": "3s"},
        "scrape_configs": [
            job("gateway", platform.port),
            job("builder", platform.builder_port),
            job("consumer", platform.consumer_port),
            job("invoker", platform.invoker_port),
            job("scheduler", platform.scheduler_port),
            # the supervisor reads each runner's socket in turn: more time on a busy machine
            {**job("runner", platform.supervisor_port), "scrape_timeout": "3s"},
        ],
    }
    yield from running_prometheus(settings, tmp_path_factory.mktemp("dev-prometheus"))


def test_make_dev_runners_are_scraped_through_the_supervisor(api, dev_prometheus):
    fid = deploy(api.base, "dev-echo", src=None)["id"]
    for _ in range(5):
        assert api.post(f"/functions/{fid}/execute", json={"input": {}}).status_code == 200
    deadline = time.monotonic() + 45  # a few scrapes (the supervisor asks every runner)
    while len(runners := query(dev_prometheus, "count by (runner) (nil_runner_busy)")) < 2:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    targets = requests.get(dev_prometheus + "/api/v1/targets", timeout=10).json()["data"]
    errors = {t["labels"]["job"]: t["lastError"] for t in targets["activeTargets"]}
    assert len(runners) == 2, (runners, errors)
    for title in (
        "Runner workers restarted",
        "Module cache hit ratio",
        "Artifact load time",
        "Runners busy and draining",
        "Runner pool",
    ):
        for legend, expr in dashboard_targets(title).items():
            while not (found := query(dev_prometheus, expr)) and time.monotonic() < deadline:
                time.sleep(0.5)  # increase() and rate() need two scrapes
            assert found, f"{title}: {legend}: {expr}"
