"""Clients generated from the served /openapi.json by the real generators, used
unmodified against the running platform (issue 22): a Python client from
openapi-python-client, and an openapi-fetch program over openapi-typescript's types,
type-checked with `tsc --strict` and run on Node. Each is generated once."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.e2e.conftest import free_port
from tests.openapi import toolchain
from tools.platform import ROOT

ECHO_WAT = ROOT / "tests" / "fixtures" / "echo.wat"
NESTED = {"hello": "world", "nested": {"list": [1, "two", {"three": [3.5]}], "none": None}}
API_KEY = "openapi-22-key"


@pytest.fixture(scope="module")
def base_url(platform) -> str:
    return f"http://127.0.0.1:{platform.port}"


@pytest.fixture(scope="module")
def nil_client(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package `nil_client`, its modules as attributes."""
    directory = tmp_path_factory.mktemp("python_client")
    generated = toolchain.generate_python_client(f"{base_url}/openapi.json", directory)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(directory))
    try:
        names = (
            "models",
            "api.functions",
            "api.revisions",
            "api.executions",
            "api.invocations",
            "api.system",
        )
        modules = {name: importlib.import_module(f"nil_client.{name}") for name in names}
        package = importlib.import_module("nil_client")
        yield SimpleNamespace(
            Client=package.Client,
            AuthenticatedClient=package.AuthenticatedClient,
            models=modules["models"],
            functions=_operations(modules["api.functions"]),
            revisions=_operations(modules["api.revisions"]),
            executions=_operations(modules["api.executions"]),
            invocations=_operations(modules["api.invocations"]),
            system=_operations(modules["api.system"]),
        )
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n.split(".")[0] == "nil_client"]:
            del sys.modules[name]


def _operations(package: Any) -> SimpleNamespace:
    path = Path(package.__file__).parent
    return SimpleNamespace(
        **{
            p.stem: importlib.import_module(f"{package.__name__}.{p.stem}")
            for p in path.glob("*.py")
            if p.stem != "__init__"
        }
    )


def _no_undocumented_fields(model: Any) -> None:
    """A field the server sends that the document does not name lands here."""
    assert getattr(model, "additional_properties", {}) == {}, type(model).__name__


def _until_built(nc: Any, client: Any, fid: uuid.UUID, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fn = nc.functions.get_function.sync(fid, client=client)
        if fn.status.value in ("READY", "FAILED"):
            return fn
        time.sleep(0.05)
    raise TimeoutError(f"function {fid} did not build")


def test_python_client_runs_the_whole_flow(nil_client, base_url):
    nc, m = nil_client, nil_client.models
    with nc.Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        _whole_flow(nc, m, client)


def _whole_flow(nc: Any, m: Any, client: Any) -> None:
    body = m.FunctionRequest(
        name="py-flow", language=m.Language.WAT, source=ECHO_WAT.read_text(), description=None
    )
    created = nc.functions.create_function.sync_detailed(client=client, body=body)
    assert created.status_code == 201 and isinstance(created.parsed, m.Function)
    fid = created.parsed.id
    assert created.headers["Location"] == f"/functions/{fid}"
    assert created.parsed.status == m.FunctionStatus.PENDING and created.parsed.wasm_size is None

    fn = _until_built(nc, client, fid)
    assert fn.status == m.FunctionStatus.READY and fn.wasm_size > 0
    request = m.ExecuteRequest(input_=m.JsonObject.from_dict(NESTED))
    execution = nc.executions.execute_function.sync(fid, client=client, body=request)
    assert isinstance(execution, m.Execution), execution
    assert execution.status == m.ExecutionStatus.COMPLETED, execution.error_message
    assert execution.input_.to_dict() == NESTED and execution.output.to_dict() == NESTED
    assert execution.input_["hello"] == "world" and execution.error_message is None

    page = nc.functions.list_functions.sync_detailed(client=client, limit=1)
    assert [f.id for f in page.parsed] == [fid] and 'rel="next"' in page.headers["Link"]
    history = nc.executions.list_executions.sync(fid, client=client)
    assert [e.id for e in history] == [execution.id]
    read = nc.executions.get_execution.sync(execution.id, client=client)
    assert read.to_dict() == execution.to_dict()

    again = m.FunctionRequest.from_dict({**fn.to_dict(), "name": "py-flow-renamed"})
    updated = nc.functions.update_function.sync(fid, client=client, body=again)
    assert (updated.name, updated.revision, updated.status) == ("py-flow-renamed", 1, fn.status)
    deploys = _deploy_and_roll_back(nc, m, client, fid)
    queued = _invoke_asynchronously(nc, m, client, fid)
    deleted = nc.functions.delete_function.sync_detailed(fid, client=client)
    assert deleted.status_code == 204 and deleted.parsed is None
    for model in (
        fn,
        fn.limits,
        execution,
        *page.parsed,
        *history,
        read,
        updated,
        *deploys,
        *queued,
    ):
        _no_undocumented_fields(model)


def _invoke_asynchronously(nc: Any, m: Any, client: Any, fid: uuid.UUID) -> list[Any]:
    """202 with Location, an idempotent repeat, a 409 for another input, a long-poll,
    a retry, and the dead-letter filter."""
    body = m.ExecuteRequest(input_=m.JsonObject.from_dict({"a": 1}))
    accepted = nc.invocations.invoke_function.sync_detailed(
        fid, client=client, body=body, idempotency_key="py-flow-1"
    )
    assert accepted.status_code == 202 and isinstance(accepted.parsed, m.Execution)
    queued = accepted.parsed
    assert accepted.headers["Location"] == f"/executions/{queued.id}"
    assert queued.trigger == m.Trigger.ASYNC and queued.attempts == 0
    repeat = nc.invocations.invoke_function.sync_detailed(
        fid, client=client, body=body, idempotency_key="py-flow-1"
    )
    assert repeat.status_code == 202 and repeat.parsed.id == queued.id
    other = m.ExecuteRequest(input_=m.JsonObject.from_dict({"a": 2}))
    conflict = nc.invocations.invoke_function.sync_detailed(
        fid, client=client, body=other, idempotency_key="py-flow-1"
    )
    assert conflict.status_code == 409 and isinstance(conflict.parsed, m.Error)
    done = nc.executions.get_execution.sync(queued.id, client=client, wait=20)
    assert done.status == m.ExecutionStatus.COMPLETED and done.attempts == 1, done
    retried = nc.invocations.retry_execution.sync_detailed(queued.id, client=client)
    assert retried.status_code == 202 and retried.parsed.input_.to_dict() == {"a": 1}
    dead = nc.executions.list_executions.sync(fid, client=client, dead_lettered=True)
    assert dead == []
    return [queued, done, retried.parsed]


def _deploy_and_roll_back(nc: Any, m: Any, client: Any, fid: uuid.UUID) -> list[Any]:
    """Revision 2, a rollback to 1, a weighted alias, and a 409 for a FAILED target."""
    revs = nc.revisions
    source = ECHO_WAT.read_text().replace("1024", "2048")
    body = m.FunctionRequest(name="py-flow", language=m.Language.WAT, source=source)
    assert nc.functions.update_function.sync(fid, client=client, body=body).revision == 2
    fn = _until_built(nc, client, fid)
    assert (fn.status, fn.live_revision) == (m.FunctionStatus.READY, 2)
    live = revs.rollback_function.sync(fid, client=client)
    assert (live.name, live.revision, live.pinned) == ("live", 1, True)
    ran = nc.executions.execute_function.sync(fid, client=client, body=m.ExecuteRequest())
    assert ran.revision == 1
    routes = m.AliasRequestRoutes.from_dict({"1": 90, "2": 10})
    canary = revs.set_alias.sync(fid, "canary", client=client, body=m.AliasRequest(routes=routes))
    assert canary.routes.to_dict() == {"1": 90, "2": 10} and canary.revision is None
    picked = nc.executions.execute_function.sync(fid, client=client, alias="canary")
    assert picked.revision in (1, 2)
    follow = m.AliasRequest(revision=m.AliasRequestRevisionType1.LATEST)
    assert revs.set_alias.sync(fid, "live", client=client, body=follow).revision == 2
    aliases = revs.list_aliases.sync(fid, client=client)
    assert [(a.name, a.revision) for a in aliases] == [("latest", 2), ("live", 2), ("canary", None)]
    broken = m.FunctionRequest(name="py-flow", language=m.Language.WAT, source="(module (func")
    nc.functions.update_function.sync(fid, client=client, body=broken)
    failed = _until_built(nc, client, fid)
    assert (failed.status, failed.revision, failed.live_revision) == (m.FunctionStatus.FAILED, 3, 2)
    conflict = revs.set_alias.sync_detailed(
        fid, "canary", client=client, body=m.AliasRequest(revision=3)
    )
    _assert_error(nc, conflict, 409, "FAILED")
    listed = revs.list_revisions.sync(fid, client=client)
    assert [r.revision for r in listed] == [3, 2, 1]
    one = revs.get_revision.sync(fid, 2, client=client)
    assert (one.source, one.status, one.env.to_dict()) == (source, m.FunctionStatus.READY, {})
    gone = revs.delete_alias.sync_detailed(fid, "canary", client=client)
    assert gone.status_code == 204
    return [fn, live, ran, canary, *aliases, *listed, one]


def _assert_error(nc: Any, response: Any, status: int, fragment: str) -> Any:
    error = response.parsed
    assert response.status_code == status and isinstance(error, nc.models.Error), response
    assert error.status == status and fragment in error.message, error.message
    assert error.request_id == response.headers["X-Request-Id"]
    _no_undocumented_fields(error)
    return error


def test_python_client_parses_every_error_of_the_api(nil_client, base_url):
    nc, m = nil_client, nil_client.models
    with nc.Client(base_url=base_url) as client:
        _every_error(nc, m, client)


def _every_error(nc: Any, m: Any, client: Any) -> None:
    fns = nc.functions
    wat = ECHO_WAT.read_text()

    def create(**fields: Any) -> Any:
        body = {"name": "py-errors", "language": m.Language.WAT, "source": wat, **fields}
        return fns.create_function.sync_detailed(client=client, body=m.FunctionRequest(**body))

    _assert_error(nc, fns.list_functions.sync_detailed(client=client, limit=0), 400, "limit")
    broken = create(source="(module (func $oops")
    failed = _until_built(nc, client, broken.parsed.id)
    assert failed.status == m.FunctionStatus.FAILED and failed.compile_error
    not_ready = nc.executions.execute_function.sync_detailed(failed.id, client=client)
    _assert_error(nc, not_ready, 400, "READY")
    _assert_error(nc, fns.get_function.sync_detailed(uuid.uuid4(), client=client), 404, "not")
    source_limit = create(source="é" * 600_000)  # 600,000 characters, 1,200,000 bytes
    assert _assert_error(nc, source_limit, 413, "bytes").error == "Payload Too Large"
    body_limit = create(source="x" * (6 * 1024 * 1024))
    assert _assert_error(nc, body_limit, 413, "request body").error == "Payload Too Large"
    _assert_error(nc, create(language="cobol"), 415, "cobol")
    fns.delete_function.sync_detailed(failed.id, client=client)


@pytest.fixture(scope="module")
def keyed_gateway(platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second, small gateway on the same database with an API key whose rate limit
    allows two requests: one gunicorn worker, no runner supervisor of its own."""
    home = tmp_path_factory.mktemp("keyed_gateway")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": platform.database_url,
        "NIL_HOME": str(home),
        "PORT": str(port),
        "NIL_API_KEYS": API_KEY,
        "NIL_RATE_LIMIT_PER_SECOND": "0.01",
        "NIL_RATE_LIMIT_BURST": "2",
        "NIL_GATEWAY_WORKERS": "1",
        "NIL_GATEWAY_THREADS": "2",
        "NIL_SUPERVISE_RUNNERS": "0",
        "NIL_RUNNER_DIR": str(platform.home / "runners"),
    }
    argv = [sys.executable, "-m", "gunicorn", "-c", "gateway/gunicorn_conf.py", "gateway.wsgi:app"]
    with open(home / "gateway.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, home / "gateway.log")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the keyed gateway did not start:\n{log.read_text()[-3000:]}")


def test_python_client_parses_401_and_429(nil_client, keyed_gateway):
    nc = nil_client
    with nc.Client(base_url=keyed_gateway) as anonymous:
        _assert_error(nc, nc.system.openapi.sync_detailed(client=anonymous), 401, "API key")
    with nc.AuthenticatedClient(base_url=keyed_gateway, token=API_KEY) as keyed:
        document = nc.system.openapi.sync_detailed(client=keyed)
        assert document.status_code == 200 and document.parsed.openapi.startswith("3.1")
        missing = nc.functions.get_function.sync_detailed(uuid.uuid4(), client=keyed)
        _assert_error(nc, missing, 404, "not found")
        limited = nc.functions.get_function.sync_detailed(uuid.uuid4(), client=keyed)
        _assert_error(nc, limited, 429, "rate limit")
        assert int(limited.headers["Retry-After"]) >= 1


def test_typescript_program_type_checks_and_runs(base_url, tmp_path):
    generated = toolchain.generate_typescript(f"{base_url}/openapi.json", tmp_path)
    assert generated.returncode == 0, generated.stderr
    checked = toolchain.typecheck(tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = toolchain.run_program(tmp_path, base_url, str(ECHO_WAT))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"ok":true' in ran.stdout
