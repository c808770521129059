"""The chart's alert rules checked by Prometheus's own promtool (Debian's package
prometheus, which `make setup` installs where apt runs as root): `check rules --lint=all`,
and `test rules` cases for every alert, one where it fires and one where it stays silent."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "charts" / "nil" / "alerts" / "nil.rules.yaml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="no promtool: install Debian's package prometheus (make setup does, as root)",
)


def series(name: str, values: str, **labels: str) -> dict:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


AGE = "nil_queue_oldest_message_age_seconds"
EXECUTIONS = "nil_executions_total"
HTTP = "nil_http_requests_total"
WAITS = "nil_runner_wait_seconds_count"
COMPONENTS = ("gateway", "runner", "builder", "consumer", "invoker", "scheduler")

# alert → (series where it fires, the labels it fires with, series where it stays silent).
# Every case is evaluated at 10 minutes, with one sample a minute.
CASES: dict[str, tuple[list[dict], dict[str, str], list[dict]]] = {
    "NilCompileBacklogTooOld": (
        [series(AGE, "400+60x15", queue="compilation_jobs", instance="a")],
        {},
        [series(AGE, "200x15", queue="compilation_jobs", instance="a")],
    ),
    "NilResultConsumerLagging": (
        [series(AGE, "130+60x15", queue="compilation_results")],
        {},
        [series(AGE, "100x15", queue="compilation_results")],
    ),
    "NilAsyncQueueTooOld": (
        [series(AGE, "400x15", queue="executions")],
        {},
        [series(AGE, "400x15", queue="compilation_results")],  # another queue's age
    ),
    "NilDeadLettersRising": (
        [series("nil_invoker_dead_letters_total", "0+2x15")],
        {},
        [series("nil_invoker_dead_letters_total", "0+0.5x15")],
    ),
    "NilExecutionPlatformErrors": (
        [
            series(EXECUTIONS, "0+10x15", language="wat", outcome="platform_error"),
            series(EXECUTIONS, "0+50x15", language="wat", outcome="ok"),
        ],
        {},
        [
            series(EXECUTIONS, "0+0x15", language="wat", outcome="platform_error"),
            series(EXECUTIONS, "0+50x15", language="wat", outcome="trap"),  # the user's
        ],
    ),
    "NilRunnerReplacementSpike": (
        [
            series("nil_runner_worker_restarts_total", "0+1x15", reason="crashed"),
            series("nil_supervisor_runner_replacements_total", "0+0.5x15"),
        ],
        {},
        [series("nil_runner_worker_restarts_total", "0+3x15", reason="watchdog")],  # timeouts
    ),
    "NilGatewayHigh5xxRate": (
        [
            series(HTTP, "0+10x15", route="/functions", method="GET", status="500"),
            series(HTTP, "0+50x15", route="/functions", method="GET", status="200"),
        ],
        {},
        [  # functions' own routes, scrapes and probes are not the API
            series(HTTP, "0+50x15", route="/functions", method="GET", status="200"),
            series(HTTP, "0+90x15", route="/fn/<path:route>", method="POST", status="500"),
            series(HTTP, "0+10x15", route="/ready", method="GET", status="503"),
            series(HTTP, "0+10x15", route="/metrics", method="GET", status="500"),
        ],
    ),
    "NilSchedulerStalled": (
        [series("nil_scheduler_last_look_timestamp_seconds", "0x15")],
        {},
        [series("nil_scheduler_last_look_timestamp_seconds", "0+60x15")],
    ),
    "NilNotReady": (
        [
            series("nil_component_up", "0x15", component="database", instance="a"),
            series("nil_component_up", "1x15", component="runners", instance="a"),
        ],
        {"component": "database"},
        [series("nil_component_up", "1x15", component="database", instance="a")],
    ),
    "NilNoRunnerAvailable": (
        [series(WAITS, "0+5x15", result="no_runner"), series(WAITS, "0+100x15", result="ran")],
        {},
        [series(WAITS, "0+0x15", result="no_runner"), series(WAITS, "0+100x15", result="ran")],
    ),
    "NilComponentDown": (
        [series("up", "0x15", job="gateway", instance="10.0.0.1:8080")],
        {"job": "gateway", "instance": "10.0.0.1:8080"},
        [series("up", "1x15", job="gateway", instance="10.0.0.1:8080")],
    ),
    "NilComponentAbsent": (
        [series("up", "1x15", job=f"nil-{c}") for c in COMPONENTS if c != "runner"],
        {"component": "runner"},
        [series("up", "1x15", job=f"nil-{c}") for c in COMPONENTS],
    ),
}


def alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def expanded(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    def fill(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

    return {k: fill(v) for k, v in annotations.items()}


def test_rules_pass_promtool_lint():
    result = subprocess.run(
        [PROMTOOL, "check", "rules", "--lint=all", "--lint-fatal", str(RULES)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_case():
    assert set(CASES) == set(alert_rules())


@pytest.mark.parametrize("alert", sorted(CASES))
def test_alert_fires_and_stays_silent(alert, tmp_path):
    rule = alert_rules()[alert]
    firing, labels, silent = CASES[alert]
    expected = {**rule.get("labels", {}), **labels}
    tests = [
        {
            "interval": "1m",
            "input_series": firing,
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": alert,
                    "exp_alerts": [
                        {
                            "exp_labels": expected,
                            "exp_annotations": expanded(rule.get("annotations", {}), expected),
                        }
                    ],
                }
            ],
        },
        {
            "interval": "1m",
            "input_series": silent,
            "alert_rule_test": [{"eval_time": "10m", "alertname": alert, "exp_alerts": []}],
        },
    ]
    case = tmp_path / "test.yaml"
    case.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "tests": tests}))
    result = subprocess.run([PROMTOOL, "test", "rules", str(case)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
