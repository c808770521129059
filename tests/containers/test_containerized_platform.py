"""The platform from its images: gateway (with the Docker runner pool), result consumer
and builder on the host network (loopback only), Postgres on the host, runners as
hardened containers with no network."""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from common import runner_dir as rd
from common.runners import Runner
from runner.launchers import LABEL
from tests.conftest import temporary_database
from tests.containers.conftest import UnixToTcpForwarder, image
from tests.containers.conftest import pool_name as new_pool_name
from tests.containers.test_docker_pool import OOM_BOMB, wait_for
from tests.e2e.conftest import free_port
from tests.integration.helpers import source


@pytest.fixture(scope="module")
def database(pg_url, template_url):
    """A fresh database reachable over loopback TCP at the returned URL."""
    params = conninfo_to_dict(pg_url)
    forwarder = UnixToTcpForwarder(f"{params['host']}/.s.PGSQL.{params.get('port', 5432)}")
    with temporary_database(pg_url, "nil_ctr") as url:
        name = conninfo_to_dict(url)["dbname"]
        yield f"postgresql://postgres@127.0.0.1:{forwarder.port}/{name}"
    forwarder.close()


@pytest.fixture(scope="module")
def platform(docker_client, database, tmp_path_factory):
    import tempfile

    pool_name = new_pool_name("ctr")
    root = tempfile.mkdtemp(prefix="nil-ctr-")
    os.chmod(root, 0o777)
    port, builder_port = free_port(), free_port()
    env = {
        "DATABASE_URL": database,
        "NIL_HOST": "127.0.0.1",
        "PORT": str(port),
        "NIL_BUILDER_HOST": "127.0.0.1",
        "NIL_BUILDER_PORT": str(builder_port),
        "NIL_POOL_BACKEND": "docker",
        "NIL_POOL_NAME": pool_name,
        "NIL_RUNNER_DIR": root,
        "NIL_RUNNER_IMAGE": image("runner"),
        "NIL_RUNNERS": "2",
        "NIL_SUPERVISOR_PORT": str(free_port()),
        # host networking: every port its own, so two sessions on one engine do not collide
        "NIL_CONSUMER_PORT": str(free_port()),
        "NIL_INVOKER_PORT": str(free_port()),
        # enough to compile a Python component (~450 MB at its peak, in a child process)
        "NIL_RUNNER_MEMORY_MB": "768",
        "NIL_MAX_MEMORY_MB": "1024",
        "NIL_RUNNER_WAIT_MS": "10000",
    }
    common = {
        "detach": True,
        "network_mode": "host",
        "environment": env,
        "read_only": True,
        "tmpfs": {"/tmp": "size=64m"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "labels": {f"{LABEL}.test": pool_name},
    }
    try:
        yield _start_platform(docker_client, pool_name, root, env, common, port, builder_port)
    finally:  # also when the start failed half-way: nothing of this pool outlives it
        for label in (f"{LABEL}.test={pool_name}", f"{LABEL}.pool={pool_name}"):
            for container in docker_client.containers.list(all=True, filters={"label": label}):
                container.remove(force=True)


def _start_platform(docker_client, pool_name, root, env, common, port, builder_port) -> dict:
    """Migrate, then start the gateway, consumer and builder containers; wait until
    they answer."""
    docker_client.containers.run(
        image("gateway"),
        ["python", "-m", "db"],
        remove=False,
        **{**common, "detach": False, "name": f"{pool_name}-migrate"},
    )
    docker_sock_gid = os.stat("/var/run/docker.sock").st_gid
    gateway = docker_client.containers.run(
        image("gateway"),
        name=f"{pool_name}-gateway",
        group_add=[docker_sock_gid],
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            root: {"bind": root, "mode": "rw"},
        },
        **common,
    )
    consumer = docker_client.containers.run(  # sees the runners: it warms them before READY
        image("gateway"),
        ["python", "-m", "consumer"],
        name=f"{pool_name}-consumer",
        volumes={root: {"bind": root, "mode": "rw"}},
        **common,
    )
    builder = docker_client.containers.run(  # room for Zig's cache and Python builds
        image("builder"),
        name=f"{pool_name}-builder",
        **{**common, "tmpfs": {"/tmp": "size=512m"}},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{base}/ready"), timeout=120, what="the gateway to be ready")
        wait_for(
            lambda: _ok(f"http://127.0.0.1:{builder_port}/health"), timeout=60, what="the builder"
        )
    except TimeoutError:
        logs = "\n".join(
            c.logs(tail=40).decode(errors="replace") for c in (gateway, consumer, builder)
        )
        raise RuntimeError(f"containerized platform did not start:\n{logs}") from None
    return {"base": base, "root": root, "pool": pool_name}


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def register_ready(
    base: str, name: str, language: str, src: str, timeout: float = 90, **extra
) -> str:
    created = requests.post(
        f"{base}/functions",
        json={"name": name, "language": language, "source": src, **extra},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    wait_for(
        lambda: (
            requests.get(f"{base}/functions/{fid}", timeout=5).json()["status"]
            in ("READY", "FAILED")
        ),
        timeout=timeout,
        what="compilation",
    )
    fn = requests.get(f"{base}/functions/{fid}", timeout=5).json()
    assert fn["status"] == "READY", fn["compileError"]
    return fid


def execute(base: str, fid: str, body: dict):
    return requests.post(f"{base}/functions/{fid}/execute", json=body, timeout=60)


def runner_containers(docker_client, pool_name):
    return docker_client.containers.list(filters={"label": f"{LABEL}.pool={pool_name}"})


def test_seed_flow_through_the_images(platform):
    base = platform["base"]
    echo = register_ready(base, "echo", "assemblyscript", source("echo.ts"))
    result = execute(base, echo, {"input": {"from": "containers"}})
    assert result.status_code == 200
    assert (result.json()["status"], result.json()["output"]) == (
        "COMPLETED",
        {"from": "containers"},
    )
    add = register_ready(base, "add", "assemblyscript", source("add.ts"))
    assert execute(base, add, {"input": {"a": 5, "b": 3}}).json()["output"] == {"sum": 8}


def test_python_and_c_through_the_images(platform):
    """componentize-py and Zig in the builder image; components and WASI modules in the
    runner containers, warmed before READY and printing into the execution's logs."""
    base = platform["base"]
    python = register_ready(
        base,
        "py-add",
        "python",
        'def handle(event):\n    print("adding")\n    return {"sum": event["a"] + event["b"]}\n',
        timeout=300,
    )
    body = execute(base, python, {"input": {"a": 2, "b": 3}}).json()
    assert (body["status"], body["output"], body["logs"]) == ("COMPLETED", {"sum": 5}, "adding\n")
    c = register_ready(
        base,
        "c-echo",
        "c",
        '#include <stdio.h>\n#include "nil.h"\n'
        "NIL_HANDLE uint64_t handle(const char *in, uint32_t len) {\n"
        '    printf("c got %u bytes\\n", len);\n    return nil_output(in, len);\n}\n',
        timeout=180,
    )
    body = execute(base, c, {"input": {"k": 1}}).json()
    assert (body["output"], body["logs"]) == ({"k": 1}, "c got 7 bytes\n")


JS_RUST = {
    "javascript": 'export function handle(event) {\n  console.log("js", event.a);\n'
    "  return { sum: event.a + event.b };\n}\n",
    "typescript": "export function handle(event: NilEvent): NilJson {\n"
    '  console.log("ts", event.a);\n  return { sum: Number(event.a) + Number(event.b) };\n}\n',
    "rust": "use serde_json::{json, Value};\n\n"
    "pub fn handle(event: Value) -> Result<Value, String> {\n"
    '    println!("rust {}", event["a"]);\n'
    '    let (a, b) = (event["a"].as_i64().unwrap_or(0), event["b"].as_i64().unwrap_or(0));\n'
    '    Ok(json!({ "sum": a + b }))\n'
    "}\n",
}


@pytest.mark.parametrize("language", list(JS_RUST))
def test_javascript_typescript_and_rust_through_the_images(platform, language):
    """componentize-qjs, TypeScript and Debian's rustc (with the image's prebuilt crates)
    in the builder image; QuickJS components and Rust modules in the runner containers."""
    base = platform["base"]
    fid = register_ready(base, f"{language}-add", language, JS_RUST[language], timeout=180)
    body = execute(base, fid, {"input": {"a": 2, "b": 3}}).json()
    prefix = {"javascript": "js", "typescript": "ts", "rust": "rust"}[language]
    assert (body["status"], body["output"], body["logs"]) == (
        "COMPLETED",
        {"sum": 5},
        f"{prefix} 2\n",
    )


@pytest.mark.parametrize(
    ("language", "src"),
    [
        ("c", '#include "/proc/1/environ"\n'),  # the builder's own environment: DATABASE_URL
        ("c", 'static const char d[] = {\n#embed "/etc/passwd"\n, 0};\n'),
        ("rust", 'const S: &str = include_str!("/proc/1/environ");\n'),
        (
            "javascript",
            'import s from "/proc/1/environ";\nexport function handle(e) { return s; }\n',
        ),
    ],
)
def test_builds_in_the_image_read_nothing_of_the_container(platform, language, src):
    """The builder image (uid 10001, Docker's default seccomp, no capabilities): the
    compiler is confined by Landlock to its toolchain and its job."""
    base = platform["base"]
    created = requests.post(
        f"{base}/functions", json={"name": "peek", "language": language, "source": src}, timeout=10
    )
    fid = created.json()["id"]
    wait_for(
        lambda: (
            requests.get(f"{base}/functions/{fid}", timeout=5).json()["status"]
            in ("READY", "FAILED")
        ),
        timeout=120,
        what="compilation",
    )
    fn = requests.get(f"{base}/functions/{fid}", timeout=5).json()
    assert fn["status"] == "FAILED"
    for leak in ("postgresql", "DATABASE_URL", "root:x:0:0", "/opt/nil", "site-packages"):
        assert leak not in fn["compileError"], fn["compileError"]


def test_runners_run_hardened_without_network(platform, docker_client):
    containers = runner_containers(docker_client, platform["pool"])
    assert len(containers) >= 2
    for container in containers:
        host = container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert host["Memory"] == 768 * 1024 * 1024
        assert host["PidsLimit"] == 64
        assert container.attrs["Config"]["User"] == "10001:10001"


def test_a_runner_container_killed_mid_execution_gives_503_and_is_replaced(platform, docker_client):
    base, root = platform["base"], platform["root"]
    loop = register_ready(
        base,
        "loop",
        "assemblyscript",
        source("loop.ts"),
        limits={"timeoutMs": 30_000, "fuel": 10**11},
    )
    responses = []
    thread = threading.Thread(target=lambda: responses.append(execute(base, loop, {})))
    thread.start()
    busy = wait_for_busy(root)
    victim = next(
        c
        for c in runner_containers(docker_client, platform["pool"])
        if c.labels[f"{LABEL}.name"] == busy
    )
    victim.kill()
    killed = time.monotonic()
    thread.join(timeout=30)
    assert responses[0].status_code == 503
    assert responses[0].json()["message"].startswith("runner failed during the call")
    history = requests.get(f"{base}/functions/{loop}/executions", timeout=5).json()
    assert history[0]["status"] == "FAILED"
    wait_for(
        lambda: (
            requests.get(f"{base}/ready", timeout=5).json()["components"]["runners"]["healthy"] == 2
            and victim.id not in {c.id for c in runner_containers(docker_client, platform["pool"])}
        ),
        timeout=60,
        what="the pool to heal",
    )
    print(f"killed runner container → healthy pool in {time.monotonic() - killed:.2f} s")


def test_a_function_beyond_the_container_memory_fails_only_itself(platform):
    base = platform["base"]
    bomb = register_ready(
        base, "oom", "wat", OOM_BOMB, limits={"memoryMb": 1024, "timeoutMs": 30_000, "fuel": 10**11}
    )
    echo = register_ready(base, "echo-wat", "wat", source("echo.wat"))
    response = execute(base, bomb, {})
    assert response.status_code == 503
    history = requests.get(f"{base}/functions/{bomb}/executions", timeout=5).json()
    assert history[0]["status"] == "FAILED"
    wait_for(
        lambda: (
            requests.get(f"{base}/ready", timeout=5).json()["components"]["runners"]["healthy"] == 2
        ),
        timeout=60,
        what="the pool to heal",
    )
    for i in range(4):
        assert execute(base, echo, {"input": {"i": i}}).json()["output"] == {"i": i}


def wait_for_busy(root: str, timeout: float = 20.0) -> str:
    """The name of the runner a call is running on (its health answer says busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sock in rd.shared_sockets(__import__("pathlib").Path(root)):
            health = Runner(f"unix:{sock}").health()
            if health is not None and health.busy:
                return sock.parent.name
        time.sleep(0.05)
    raise TimeoutError("no runner became busy")
