"""The Docker pool backend on a real engine: hardened runner containers, replaced when
they die or are OOM-killed, adopted by a restarted supervisor, scaled with load."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from pathlib import Path

import pytest
import wasmtime

from common import runner_dir as rd
from common.contracts import ExecuteRequest, Limits
from common.errors import RunnerFailed
from common.runners import Runner, RunnerPool
from common.runners.discovery import DirectoryDiscovery
from runner.launchers import LABEL, ContainerLimits, DockerLauncher
from runner.supervisor import Supervisor
from tests.containers.conftest import image
from tests.containers.conftest import pool_name as new_pool_name
from tests.runner import wat

MEMORY_LIMIT = 192 * 1024 * 1024
OOM_BOMB = wat.raw_module(
    """(local $pages i32)
    (loop $l
      (local.set $pages (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $pages) (i32.const -1)) (then unreachable))
      (memory.fill (i32.mul (local.get $pages) (i32.const 65536)) (i32.const 1)
                   (i32.const 1048576))
      (br $l))
    (i64.const 0)"""
)


class RunningSupervisor:
    """A supervisor checking in a background thread, like `python -m runner.supervisor`."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        supervisor.start()
        self.thread = threading.Thread(target=supervisor.run, daemon=True)
        self.thread.start()

    def halt(self, *, stop_runners: bool = True) -> None:
        self.supervisor.stop_flag.stop()
        self.thread.join(timeout=10)
        if stop_runners:
            self.supervisor.stop()


@pytest.fixture
def pool_name() -> str:
    return new_pool_name("test")


@pytest.fixture
def start_pool(docker_client, runner_root, pool_name):
    started: list[RunningSupervisor] = []

    def start(min_runners=1, max_runners=1, idle_seconds=60.0) -> RunningSupervisor:
        launcher = DockerLauncher(
            image("runner"),
            pool_name,
            ContainerLimits(memory_bytes=MEMORY_LIMIT),
            client=docker_client,
        )
        running = RunningSupervisor(
            Supervisor(
                launcher,
                runner_root,
                min_runners=min_runners,
                max_runners=max_runners,
                idle_seconds=idle_seconds,
                check_interval=0.2,
            )
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.halt()
    for container in docker_client.containers.list(
        all=True, filters={"label": f"{LABEL}.pool={pool_name}"}
    ):
        container.remove(force=True)


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def healthy_shared(root: Path, count: int) -> bool:
    sockets = rd.shared_sockets(root)
    return len(sockets) == count and all(Runner(f"unix:{s}").healthy() for s in sockets)


ECHO_LIMITS = Limits(2000, 64, 10**9)


def run_module(address: str, text: str, limits: Limits = ECHO_LIMITS, language: str = "wat"):
    wasm = bytes(wasmtime.wat2wasm(text))
    request = ExecuteRequest(hashlib.sha256(wasm).hexdigest(), '{"n":1}', limits)
    return Runner(address).run(request, language=language, load_module=lambda: wasm)


def containers(client, pool_name):
    return client.containers.list(filters={"label": f"{LABEL}.pool={pool_name}"})


def test_runner_containers_are_hardened_and_serve(
    start_pool, runner_root, docker_client, pool_name
):
    start_pool()
    wait_for(lambda: healthy_shared(runner_root, 1), what="a healthy runner container")
    [container] = containers(docker_client, pool_name)
    host = container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 64
    assert host["Memory"] == MEMORY_LIMIT
    assert host["NanoCpus"] == 1_000_000_000
    assert container.attrs["Config"]["User"] == "10001:10001"
    assert container.attrs["NetworkSettings"]["Networks"].keys() == {"none"}
    [socket] = rd.shared_sockets(runner_root)
    result = run_module(f"unix:{socket}", wat.ECHO)
    assert (result.outcome, result.output) == ("ok", '{"n":1}')


def test_a_killed_container_is_replaced(start_pool, runner_root, docker_client, pool_name):
    running = start_pool()
    wait_for(lambda: healthy_shared(runner_root, 1), what="a healthy runner")
    [victim] = containers(docker_client, pool_name)
    victim.kill()
    killed = time.monotonic()
    healed = wait_for(
        lambda: (
            healthy_shared(runner_root, 1)
            and containers(docker_client, pool_name)[0].id != victim.id
        ),
        what="a replacement",
    )
    assert running.supervisor.replacements == 1
    print(f"killed runner container → healthy pool in {healed - killed:.2f} s")


def test_an_oom_kill_fails_the_call_and_only_that_container(
    start_pool, runner_root, docker_client, pool_name
):
    start_pool(min_runners=2, max_runners=2)
    wait_for(lambda: healthy_shared(runner_root, 2), what="two runners")
    first, second = rd.shared_sockets(runner_root)
    by_name = {c.labels[f"{LABEL}.name"]: c for c in containers(docker_client, pool_name)}
    victim = by_name[first.parent.name]
    since = int(time.time()) - 1
    with pytest.raises(RunnerFailed, match="runner failed during the call"):
        run_module(f"unix:{first}", OOM_BOMB, limits=Limits(20_000, 512, 10**12))
    # The kernel killed the runner inside that container, and nothing else. The engine
    # reports the event a moment after the call has failed.

    def oom_events() -> set[str]:
        events = docker_client.events(
            since=since,
            until=int(time.time()) + 1,
            decode=True,
            filters={"type": "container", "event": "oom"},
        )
        return {e["id"] for e in events}

    wait_for(lambda: victim.id in oom_events(), timeout=15, what="the OOM event")
    assert oom_events() == {victim.id}
    assert run_module(f"unix:{second}", wat.ECHO).outcome == "ok"
    # The pool heals: the runner behind the first socket serves again.
    wait_for(lambda: healthy_shared(runner_root, 2), what="a whole pool")
    wait_for(
        lambda: run_module(f"unix:{rd.shared_sockets(runner_root)[0]}", wat.ECHO).outcome == "ok",
        what="the OOM-killed runner to serve again",
    )


def test_a_restarted_supervisor_adopts_its_predecessors_containers(
    start_pool, runner_root, docker_client, pool_name
):
    first = start_pool(min_runners=1)
    wait_for(lambda: healthy_shared(runner_root, 1), what="a runner")
    [original] = containers(docker_client, pool_name)
    first.halt(stop_runners=False)  # the supervisor dies; its container lives on
    second = start_pool(min_runners=1)
    assert list(second.supervisor.slots) == [original.labels[f"{LABEL}.name"]]
    assert [c.id for c in containers(docker_client, pool_name)] == [original.id]


def test_stale_containers_of_a_pool_are_removed(start_pool, runner_root, docker_client, pool_name):
    stale = docker_client.containers.run(
        image("runner"),
        detach=True,
        network_mode="none",
        labels={LABEL: "1", f"{LABEL}.pool": pool_name, f"{LABEL}.name": "shared-99"},
    )
    start_pool(min_runners=1)
    ids = {
        c.id
        for c in docker_client.containers.list(
            all=True, filters={"label": f"{LABEL}.pool={pool_name}"}
        )
    }
    assert stale.id not in ids and len(ids) == 1


def test_the_pool_grows_under_load_and_shrinks_when_idle(start_pool, runner_root):
    start_pool(min_runners=1, max_runners=2, idle_seconds=1.0)
    wait_for(lambda: healthy_shared(runner_root, 1), what="one runner")
    [only] = rd.shared_sockets(runner_root)
    long_call = threading.Thread(  # a long call keeps the only runner busy
        target=run_module,
        args=(f"unix:{only}", wat.sleeper(8000), Limits(10_000, 64, 10**9), "c"),
    )
    long_call.start()
    try:
        wait_for(lambda: healthy_shared(runner_root, 2), what="the pool to grow")
    finally:
        long_call.join(timeout=15)
    wait_for(lambda: len(rd.shared_sockets(runner_root)) == 1, what="the pool to shrink")


def test_a_dedicated_runner_starts_on_demand_and_is_reaped(
    start_pool, runner_root, docker_client, pool_name
):
    start_pool(min_runners=1, idle_seconds=2.0)
    function_id = str(uuid.uuid4())
    runners = RunnerPool(DirectoryDiscovery(runner_root), wait_seconds=1.0)
    wasm = bytes(wasmtime.wat2wasm(wat.ECHO))
    request = ExecuteRequest(hashlib.sha256(wasm).hexdigest(), "{}", ECHO_LIMITS)
    try:
        reply = runners.run(
            function_id, request, language="wat", load_module=lambda: wasm, dedicated=True
        )
    finally:
        runners.close()
    assert reply.outcome == "ok"
    name = rd.dedicated_name(function_id)
    assert (runner_root / name / rd.SOCKET).exists()
    dedicated = [
        c for c in containers(docker_client, pool_name) if c.labels[f"{LABEL}.name"] == name
    ]
    assert [c.labels[f"{LABEL}.function"] for c in dedicated] == [function_id]
    wait_for(lambda: not (runner_root / name).exists(), what="the reaping")
    assert name not in {c.labels[f"{LABEL}.name"] for c in containers(docker_client, pool_name)}
