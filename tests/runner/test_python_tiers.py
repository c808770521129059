"""A Python component on both compiler tiers (runner/engine.py) and with instances made
ahead of a call (Executor.idle), in-process on the real toolchain: the baseline tier
(Winch) keeps fuel and the deadline, the optimized tier (Cranelift) replaces it in the
background and is what the next runner of the host loads; an instance made ahead serves
one call only, with that call's environment and output, and nothing of one call — its
state, its environment — reaches the next."""

from __future__ import annotations

import hashlib
import json

import pytest

from common.contracts import ExecuteRequest, Limits, Outcome
from runner.engine import BASELINE, OPTIMIZED
from runner.executor import Executor
from runner.settings import Settings

LIMITS = Limits(timeout_ms=2000, memory_mb=64, fuel=20_000_000_000)
# fuel no loop burns in 2 s: the optimized tier spends 20e9 in under 2 s on a quiet machine
ENDLESS = Limits(timeout_ms=2000, memory_mb=64, fuel=10**15)

PYTHON = """\
import os

SEEN = []


def handle(event):
    SEEN.append(event.get("mark"))
    if event.get("op") == "burn":
        total = 0
        for i in range(10**9):
            total += i
        return {"total": total}
    if event.get("op") == "fail":
        raise RuntimeError("failed on purpose")
    print("token", os.environ.get("TOKEN"))
    return {"seen": SEEN, "token": os.environ.get("TOKEN"), "keys": sorted(os.environ)}
"""


@pytest.fixture(scope="module")
def wasm(toolchains) -> bytes:
    output = toolchains["python"].compile(PYTHON, timeout=300)
    assert output.ok, output.error
    return output.wasm


def call(executor, sha, event, env=None, limits=LIMITS):
    return executor.execute(ExecuteRequest(sha, json.dumps(event), limits, env or {}))


def test_baseline_first_then_optimized_in_the_background(wasm, tmp_path):
    sha = hashlib.sha256(wasm).hexdigest()
    executor = Executor(Settings(artifact_dir=str(tmp_path)))
    executor.load_module(sha, "python", wasm)
    assert executor.cache.peek(sha).tier == BASELINE
    assert executor.upgrades_pending == 1  # what a runner's health says as `upgrading`
    # Winch keeps both the deterministic budget and the wall clock
    burnt = call(executor, sha, {"op": "burn"}, limits=Limits(2000, 64, 50_000_000))
    assert burnt.outcome == Outcome.FUEL_EXHAUSTED
    late = call(executor, sha, {"op": "burn"}, limits=ENDLESS)
    assert late.outcome == Outcome.TIMEOUT
    assert call(executor, sha, {"mark": 1}).outcome == Outcome.OK
    assert executor.wait_for_upgrades(600)
    assert executor.upgrades_pending == 0
    assert executor.cache.peek(sha).tier == OPTIMIZED
    assert json.loads(call(executor, sha, {"mark": 2}).output)["seen"] == [2]
    timed_out = call(executor, sha, {"op": "burn"}, limits=ENDLESS)
    assert timed_out.outcome == Outcome.TIMEOUT
    # both tiers of its template are on disk under names of their own (the function
    # runs on its template: runner/templates.py); a neighbour loads the optimized one
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert all(".template." in name for name in names), names
    assert len({name.rsplit(".", 1)[1] for name in names}) == 2, names
    assert len(names) == 2, names
    neighbour = Executor(Settings(artifact_dir=str(tmp_path)))
    neighbour.load_module(sha, "python", wasm)
    assert neighbour.cache.peek(sha).tier == OPTIMIZED
    assert neighbour.wait_for_upgrades(1)  # nothing to do


def test_a_function_of_a_compiled_template_starts_on_the_optimized_tier(wasm, toolchains, tmp_path):
    first = Executor(Settings(artifact_dir=str(tmp_path)))
    first.load_module(hashlib.sha256(wasm).hexdigest(), "python", wasm)
    assert first.wait_for_upgrades(600)  # the optimized template is on disk now
    other = toolchains["python"].compile("def handle(e):\n    return {'other': e}\n", timeout=300)
    sha = hashlib.sha256(other.wasm).hexdigest()
    executor = Executor(Settings(artifact_dir=str(tmp_path)))
    executor.load_module(sha, "python", other.wasm)
    assert executor.cache.peek(sha).tier == OPTIMIZED
    assert executor.upgrades_pending == 0
    assert json.loads(call(executor, sha, 5).output) == {"other": 5}


def test_an_instance_made_ahead_serves_one_call_and_leaks_nothing(wasm):
    sha = hashlib.sha256(wasm).hexdigest()
    executor = Executor(Settings(optimize_in_background=False))
    executor.load_module(sha, "python", wasm)
    first = call(executor, sha, {"mark": "a"}, {"TOKEN": "first-secret"})
    assert json.loads(first.output) == {"seen": ["a"], "token": "first-secret", "keys": ["TOKEN"]}
    executor.idle()  # what the server does after each answer
    made = executor._prepared
    assert made is not None
    second = call(executor, sha, {"mark": "b"})  # the instance made ahead, no env
    assert executor._prepared is None  # taken: never a second call
    assert json.loads(second.output) == {"seen": ["b"], "token": None, "keys": []}
    assert second.logs == "token None\n" and "first-secret" not in (second.logs or "")
    executor.idle()
    assert executor._prepared is not None and executor._prepared is not made
    third = call(executor, sha, {"mark": "c"}, {"TOKEN": "third"})
    assert json.loads(third.output)["seen"] == ["c"] and third.logs == "token third\n"
    # Charged its own work only: not the priming's (its fuel is set again after it), and
    # less than a fresh instance's first call, whose interpreter setup the priming ran.
    assert 0.5 * first.fuel_used < third.fuel_used < first.fuel_used


def test_an_instance_made_ahead_is_dropped_for_other_limits_and_after_a_failure(wasm):
    sha = hashlib.sha256(wasm).hexdigest()
    executor = Executor(Settings(optimize_in_background=False))
    executor.load_module(sha, "python", wasm)
    call(executor, sha, {"mark": 1})
    executor.idle()
    other = Limits(timeout_ms=2000, memory_mb=96, fuel=LIMITS.fuel)
    reply = call(executor, sha, {"mark": 2}, limits=other)  # not the limits it was made for
    assert json.loads(reply.output)["seen"] == [2]
    assert executor._prepared is None
    executor.idle()
    failed = call(executor, sha, {"op": "fail"}, limits=other)  # on the instance made ahead
    assert failed.outcome == Outcome.EXCEPTION and "failed on purpose" in failed.error
    executor.idle()
    after = call(executor, sha, {"mark": 3}, limits=other)  # a fresh one, not the failed one
    assert json.loads(after.output)["seen"] == [3]
