"""Configuration has one home per service: only settings modules read the environment,
and every NIL_* variable the code reads is documented in the README's table and set by
the chart — or listed below with the reason it is not."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from common.config import ConfigError
from common.settings import POOL_BACKENDS, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]

# Modules that may touch os.environ without being settings modules: they build the
# environment of a process they start, or are the typed readers themselves.
ENVIRONMENT_BUILDERS = {
    "common/config.py",  # the env_* readers the settings modules use
    "runner/launchers/process.py",  # a runner process inherits the supervisor's
    "builder/toolchains/base.py",  # a compiler process inherits the builder's
    "builder/toolchains/zig_worker.py",  # zig's own processes
    "builder/toolchains/python_worker.py",  # its template folder, from the builder
    "builder/toolchains/data/python/nil_template.py",  # a function's, hidden from its module
    "tools/platform.py",  # `make dev` and the tests start every service
}

LOCAL_POOL = "local/docker backends only: in the chart runners are a Deployment found by DNS"
DEFAULT_KEPT = "a tuning knob the chart does not expose; its default applies"
NOT_IN_CHART = {
    "NIL_HOME": LOCAL_POOL,
    "NIL_RUNNER_DIR": LOCAL_POOL,
    "NIL_SUPERVISE_RUNNERS": LOCAL_POOL,
    "NIL_RUNNERS": LOCAL_POOL,
    "NIL_RUNNERS_MAX": LOCAL_POOL,
    "NIL_RUNNER_IDLE_SECONDS": LOCAL_POOL,
    "NIL_RUNNER_PARENT_PID": LOCAL_POOL + " (set by the process launcher)",
    "NIL_RUNNER_IMAGE": LOCAL_POOL,
    "NIL_POOL_NAME": LOCAL_POOL,
    "NIL_RUNNER_MEMORY_MB": LOCAL_POOL + " (the pod's resources are its limits)",
    "NIL_RUNNER_CPUS": LOCAL_POOL + " (the pod's resources are its limits)",
    "NIL_RUNNER_PIDS": LOCAL_POOL + " (the pod's resources are its limits)",
    "NIL_RUNNER_ENDPOINTS": "static backend only; the chart uses the kubernetes backend",
    "NIL_ZIG_CACHE_DIR": "set by the builder image (Dockerfile.builder)",
    "NIL_PYTHON_TEMPLATE_DIR": "set by the builder image (Dockerfile.builder)",
    "NIL_ZIG_CACHE_SEED": "set by the builder image (Dockerfile.builder)",
    "NIL_RUST_DIR": "set by the builder image (Dockerfile.builder)",
    "NIL_DEDICATED_RUNNERS_MAX": LOCAL_POOL,
    "NIL_SUPERVISOR_HOST": LOCAL_POOL,
    "NIL_SUPERVISOR_PORT": LOCAL_POOL,
    "NIL_RUNNER_LOAD_TIMEOUT": DEFAULT_KEPT,
    "NIL_RUNNER_QUEUE_MAX": DEFAULT_KEPT,
    "NIL_RUNNER_MAX_WASM_STACK": DEFAULT_KEPT,
    "NIL_RUNNER_CACHE_BYTES": DEFAULT_KEPT,
    "NIL_RUNNER_CACHE_ENTRIES": DEFAULT_KEPT,
    "NIL_MAX_OUTPUT_BYTES": DEFAULT_KEPT,
    "NIL_RUNNER_WAIT_MS": DEFAULT_KEPT,
    "NIL_DB_POOL_MIN": DEFAULT_KEPT,
    "NIL_MAX_BODY_BYTES": DEFAULT_KEPT,
    "NIL_MAX_SOURCE_BYTES": DEFAULT_KEPT,
    "NIL_MAX_INPUT_BYTES": DEFAULT_KEPT,
    "NIL_DEFAULT_FUEL": DEFAULT_KEPT,
    "NIL_MAX_FUEL": DEFAULT_KEPT,
    "NIL_RATE_LIMIT_PER_SECOND": DEFAULT_KEPT,
    "NIL_RATE_LIMIT_BURST": DEFAULT_KEPT,
    "NIL_BUILDER_MAX_READS": DEFAULT_KEPT,
    "NIL_BUILDER_VISIBILITY_SECONDS": DEFAULT_KEPT,
    "NIL_CONSUMER_VISIBILITY_SECONDS": DEFAULT_KEPT,
}
NOT_IN_README: dict[str, str] = {}  # none: the README documents every variable read
NAME = re.compile(r"\bNIL_[A-Z0-9_]+\b")
READ = re.compile(r"\benv(?:_str|_int|_float|_bool|_list)?\(\s*\"(NIL_[A-Z0-9_]+)\"")
READS_ENVIRONMENT = re.compile(r"os\.environ|os\.getenv|\benv_(str|int|float|bool|list)\(")


def sources() -> dict[str, str]:
    """Every tracked Python file outside the tests, by path."""
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {p: (ROOT / p).read_text() for p in listed if not p.startswith("tests/")}


def read_by_code() -> set[str]:
    return {name for text in sources().values() for name in READ.findall(text)}


def readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configure it") :]
    section = section[: section.index("\n## ", 1)]
    return set(NAME.findall(section))


def chart_templates() -> set[str]:
    return {
        name
        for template in (ROOT / "charts" / "nil" / "templates").iterdir()
        for name in NAME.findall(template.read_text())
    }


def test_only_settings_modules_read_the_environment():
    readers = {path for path, text in sources().items() if READS_ENVIRONMENT.search(text)}
    settings_modules = {p for p in readers if p.endswith("settings.py")}
    assert readers - settings_modules <= ENVIRONMENT_BUILDERS


def test_every_variable_read_is_in_the_readme_table_and_vice_versa():
    read, documented = read_by_code(), readme_table()
    assert read - documented <= set(NOT_IN_README), sorted(read - documented)
    assert documented == read, sorted(documented ^ read)


def test_every_variable_read_is_in_the_chart_or_excused_and_vice_versa():
    read, charted = read_by_code(), chart_templates()
    assert charted <= read, f"the chart sets variables no code reads: {sorted(charted - read)}"
    assert read - charted == set(NOT_IN_CHART), sorted((read - charted) ^ set(NOT_IN_CHART))


def test_a_backend_names_a_discovery_and_a_launcher():
    from common.runners import DISCOVERIES
    from runner.launchers import LAUNCHERS

    for discovery, launcher in POOL_BACKENDS.values():
        assert discovery in DISCOVERIES
        assert launcher is None or launcher in LAUNCHERS
    assert ServiceSettings(pool_backend="docker").launcher == "docker"
    with pytest.raises(ConfigError, match="NIL_POOL_BACKEND must be one of"):
        ServiceSettings(pool_backend="nomad")


def test_fields_are_read_from_their_variables_by_type(monkeypatch):
    from gateway.settings import Settings
    from runner.settings import Settings as RunnerSettings

    monkeypatch.setenv("NIL_HOME", "/srv/nil")
    monkeypatch.setenv("NIL_RUNNER_WAIT_MS", "250")
    monkeypatch.setenv("NIL_SUPERVISE_RUNNERS", "0")
    monkeypatch.setenv("NIL_API_KEYS", " a, b ,")
    monkeypatch.setenv("NIL_RATE_LIMIT_PER_SECOND", "2.5")
    settings = Settings.from_env({"port": 9000})
    assert (settings.runner_dir, settings.runner_wait_ms) == ("/srv/nil/runners", 250)
    assert (settings.supervise_runners, settings.port) == (False, 9000)
    assert (settings.api_keys, settings.rate_limit_per_second) == (("a", "b"), 2.5)
    assert RunnerSettings.from_env().artifact_dir is None
    assert Settings().runner_dir == ".nil/runners"
    monkeypatch.setenv("NIL_GATEWAY_WORKERS", "two")
    with pytest.raises(ConfigError, match="NIL_GATEWAY_WORKERS must be an integer, got 'two'"):
        Settings.from_env()
