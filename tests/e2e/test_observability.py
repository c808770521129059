"""Metrics move by the expected amounts, dashboards and alerts only name exported
metrics, and one flow's logs carry the seed's events with their ids."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import promql_parser
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_seed_flow import execute, ready_function

CHARTS = Path(__file__).resolve().parents[2] / "charts" / "nil"
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def scrape_text(platform) -> dict[str, str]:
    texts = {
        "gateway": requests.get(f"http://127.0.0.1:{platform.port}/metrics", timeout=10).text,
        "builder": requests.get(
            f"http://127.0.0.1:{platform.builder_port}/metrics", timeout=10
        ).text,
        "consumer": requests.get(
            f"http://127.0.0.1:{platform.consumer_port}/metrics", timeout=10
        ).text,
        "invoker": requests.get(
            f"http://127.0.0.1:{platform.invoker_port}/metrics", timeout=10
        ).text,
        "scheduler": requests.get(
            f"http://127.0.0.1:{platform.scheduler_port}/metrics", timeout=10
        ).text,
    }
    # every runner's metrics, labelled by runner, from the supervisor's one endpoint
    texts["runner"] = requests.get(
        f"http://127.0.0.1:{platform.supervisor_port}/metrics", timeout=10
    ).text
    return texts


def samples(text: str) -> dict[tuple, float]:
    """(name, sorted labels but `runner`) → summed value over every process in `text`."""
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = {k: v for k, v in s.labels.items() if k != "runner"}
            key = (s.name, tuple(sorted(labels.items())))
            found[key] = found.get(key, 0.0) + s.value
    return found


def value(snapshot: dict, name: str, **labels) -> float:
    return snapshot.get((name, tuple(sorted(labels.items()))), 0.0)


def exported_names(texts: dict[str, str]) -> set[str]:
    names = set()
    for text in texts.values():
        for family in text_string_to_metric_families(text):
            names.add(family.name)
            names.update(family.name + s for s in SUFFIXES.get(family.type, ()))
            names.update(s.name for s in family.samples)
    return names


def test_counters_move_by_the_expected_amounts(api, platform):
    before = {k: samples(v) for k, v in scrape_text(platform).items()}
    echo = ready_function(api, "echo")
    throw = ready_function(api, "throw")
    for i in range(3):
        assert execute(api, echo, {"input": {"i": i}}).json()["status"] == "COMPLETED"
    assert execute(api, throw, {"input": {"q": 0}}).json()["status"] == "FAILED"
    after = {k: samples(v) for k, v in scrape_text(platform).items()}

    def delta(service, name, **labels):
        return value(after[service], name, **labels) - value(before[service], name, **labels)

    assert delta("gateway", "nil_executions_total", language="assemblyscript", outcome="ok") == 3
    assert delta("gateway", "nil_executions_total", language="assemblyscript", outcome="trap") == 1
    assert (
        delta(
            "gateway",
            "nil_http_requests_total",
            route="/functions/<function_id>/execute",
            method="POST",
            status="200",
        )
        == 4
    )
    assert (
        delta("gateway", "nil_http_requests_total", route="/functions", method="POST", status="201")
        == 2
    )
    assert delta("gateway", "nil_execution_duration_seconds_count", language="assemblyscript") == 4
    assert delta("gateway", "nil_runner_wait_seconds_count", result="ran") == 4
    assert (
        delta("builder", "nil_builder_jobs_total", language="assemblyscript", outcome="success")
        == 2
    )
    assert (
        delta("builder", "nil_builder_compile_duration_seconds_count", language="assemblyscript")
        == 2
    )
    assert delta("consumer", "nil_consumer_results_total", outcome="applied") == 2
    assert (
        delta("runner", "nil_runner_executions_total", language="assemblyscript", outcome="ok") == 3
    )
    assert (
        delta("runner", "nil_runner_executions_total", language="assemblyscript", outcome="trap")
        == 1
    )
    assert value(after["gateway"], "nil_functions", status="READY") >= 2
    assert value(after["gateway"], "nil_component_up", component="database") == 1
    assert value(after["gateway"], "nil_runner_pool_runners") == 2
    assert value(after["runner"], "process_resident_memory_bytes") > 0
    assert value(after["runner"], "nil_supervisor_runners", kind="shared") == 2
    runners = {
        s.labels["runner"]
        for family in text_string_to_metric_families(scrape_text(platform)["runner"])
        for s in family.samples
        if family.name == "nil_runner_busy"
    }
    # two shared runners, each its own series (a loaded machine may have replaced one:
    # its successor is shared-<next n>)
    assert len(runners) == 2 and all(re.fullmatch(r"shared-\d+", r) for r in runners), runners


def test_no_label_carries_an_unbounded_value(api, platform):
    fid = ready_function(api, "echo")
    execute(api, fid, {"input": {}})
    api.get(f"/functions/{fid}")
    api.get("/no/such/path/abc")
    texts = scrape_text(platform)
    for text in texts.values():
        assert fid not in text
        assert "/no/such/path" not in text


def promql_expressions() -> list[str]:
    dashboard = json.loads((CHARTS / "dashboards" / "nil-overview.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((CHARTS / "alerts" / "nil.rules.yaml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return [e.replace("$__rate_interval", "5m") for e in exprs]


def selector_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def test_dashboards_and_alerts_name_only_exported_metrics(api, platform):
    ready_function(api, "echo")
    exported = exported_names(scrape_text(platform))
    exprs = promql_expressions()
    assert len(exprs) >= 20
    for expr in exprs:
        names = selector_names(expr) - {"up"}  # Prometheus's own: one per scrape target
        assert names or "up{" in expr, expr
        assert names <= exported, f"{expr} names {names - exported}"


SEED_EVENTS = (
    "function.created",
    "compilation.job.published",
    "job.received",
    "job.compiled",
    "result.published",
    "compilation.result.applied",
    "execution.started",
    "execution.completed",
)


def logged_events(platform, function_id: str) -> list[dict]:
    events = []
    for line in platform.log.getvalue().splitlines():
        _, _, payload = line.partition(" | ")
        if payload.startswith("{"):
            events.append(json.loads(payload))
    return [e for e in events if e.get("functionId") == function_id]


def test_a_flow_logs_the_seed_events_with_their_ids(api, platform):
    fid = ready_function(api, "echo")
    execution = execute(api, fid, {"input": {"secret": "do-not-log"}}).json()
    # A service's lines reach the supervisor's output through a pipe, so the answer
    # may arrive before its last line does: wait a little for them.
    deadline = time.monotonic() + 10
    while True:
        mine = logged_events(platform, fid)
        names = [e["event"] for e in mine]
        missing = [wanted for wanted in SEED_EVENTS if wanted not in names]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not missing, f"{missing} missing from {names}"
    by_name = {e["event"]: e for e in mine}
    assert by_name["function.created"]["language"] == "assemblyscript"
    assert by_name["job.compiled"]["durationMs"] > 0
    assert by_name["compilation.result.applied"]["success"] is True
    assert by_name["execution.completed"]["executionId"] == execution["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", by_name["function.created"]["requestId"])
    assert "do-not-log" not in platform.log.getvalue()
