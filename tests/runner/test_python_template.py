"""Python functions built from the host's template (builder/toolchains/python_template.py):
which sources it serves, which go to componentize-py, and that a function built from
it behaves as one built by componentize-py — on the real toolchain and a real Executor."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from builder.toolchains import python_template
from common import python_slot
from common.contracts import ExecuteRequest, Limits
from runner import templates
from runner.executor import Executor
from runner.settings import Settings

LIMITS = Limits(timeout_ms=5000, memory_mb=128, fuel=20_000_000_000)
TEMPLATE_SLOT = python_slot.MARKER + python_slot.FUNCTION

STATEFUL = """\
import os
import random

CALLS = []
AT_IMPORT = os.environ.get("GREETING", "none")
print("module code ran")


def handle(event):
    CALLS.append(event)
    if event.get("fail"):
        return {"x": 1} / 0
    return {
        "calls": len(CALLS),
        "at_import": AT_IMPORT,
        "greeting": os.environ.get("GREETING"),
        "r": random.random() < 2,
    }
"""


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    """A runner's executor with an artifact store, as runners have (templates live there)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    return Executor(Settings(artifact_dir=str(artifacts), optimize_in_background=False))


def build(toolchains, source):
    output = toolchains["python"].compile(source, timeout=180)
    assert output.ok, output.error
    return output.wasm


def run(executor, wasm, event, env=None):
    sha = hashlib.sha256(wasm).hexdigest()
    executor.load_module(sha, "python", wasm)
    return executor.execute(ExecuteRequest(sha, json.dumps(event), LIMITS, env=env or {}))


def test_the_template_slot_has_the_same_size_on_both_sides():
    text = (python_template.DATA / "nil_template.py").read_text()
    size = re.search(r"^SLOT_BYTES = (.+)$", text, re.M).group(1)
    assert eval(size, {}) == python_slot.SLOT_BYTES
    assert 'reversed(b"tols-nohtyp-lin\\x01")' in text
    assert bytes(reversed(b"tols-nohtyp-lin\x01")) == python_slot.MARKER
    for name in ("CALL", "ENV_CALL", "PRIME", "PRIMED"):
        value = re.search(rf"^{name} = (\S+)", text, re.M).group(1)
        assert eval(value, {}) == getattr(python_slot, name), name


def test_a_function_from_the_template_runs_its_module_on_every_fresh_instance(toolchains, executor):
    wasm = build(toolchains, STATEFUL)
    assert TEMPLATE_SLOT in wasm  # built from the template, not by componentize-py
    for _ in range(3):  # a fresh instance per call: module state never carries over
        outcome = run(executor, wasm, {"n": 1}, env={"GREETING": "hi"})
        assert outcome.outcome == "ok", outcome
        # module code sees no environment (as at build time); handle sees the call's
        assert json.loads(outcome.output) == {
            "calls": 1,
            "at_import": "none",
            "greeting": "hi",
            "r": True,
        }
        assert "module code ran" in outcome.logs


RANDOM = """\
import os
import random

print("module code ran")


def handle(event):
    return {"greeting": os.environ.get("GREETING"), "r": random.random()}
"""


def test_an_instance_made_ahead_is_primed_and_its_call_gets_its_own_environment(
    toolchains, executor
):
    """idle() makes the next instance and primes it (python_slot.PRIME): the call on it
    sees its own environment, not the priming's nor the last call's, prints to its own
    log, gets a seed of its own, and pays for less of the instance's first call."""
    wasm = build(toolchains, RANDOM)
    assert python_slot.primes(python_slot.template_of(wasm)[0])
    first = run(executor, wasm, {}, env={"GREETING": "one"})  # a fresh instance
    replies = [first]
    for env in ({"GREETING": "two"}, {}, {"GREETING": "three"}):
        executor.idle()
        assert executor._prepared is not None and executor._prepared.primed
        replies.append(run(executor, wasm, {}, env=env))
    outputs = [json.loads(r.output) for r in replies]
    assert [o["greeting"] for o in outputs] == ["one", "two", None, "three"]
    assert len({o["r"] for o in outputs}) == 4  # seeded per instance, not per snapshot
    assert all(r.logs == "module code ran\n" for r in replies), replies
    assert all(r.fuel_used < first.fuel_used for r in replies[1:]), replies
    # A call already waits: the instance is made, not primed (the call reads the host's
    # environment at its instance's first call, as before priming existed).
    executor.idle(call_waiting=lambda: True)
    assert executor._prepared is not None and not executor._prepared.primed
    unprimed = run(executor, wasm, {}, env={"GREETING": "four"})
    assert json.loads(unprimed.output)["greeting"] == "four"
    assert unprimed.fuel_used == pytest.approx(first.fuel_used, rel=0.05)


def test_a_primed_call_costs_no_more_fuel_than_a_fresh_one_whatever_its_environment(
    toolchains, executor
):
    """The environment is handed to a primed instance outside the call's fuel: a call
    that fits its fuel on a fresh instance fits it on a primed one (outside attack)."""
    wasm = build(toolchains, "import os\n\ndef handle(e):\n    return {'n': len(os.environ)}\n")
    env = {f"V{i:02}": "z" * 480 for i in range(64)}  # the documented maximum, ~31 KiB
    fresh = run(executor, wasm, {}, env=env)
    executor.idle()
    assert executor._prepared.primed
    primed = run(executor, wasm, {}, env=env)
    assert json.loads(fresh.output) == json.loads(primed.output) == {"n": 64}
    assert primed.fuel_used < fresh.fuel_used, (primed.fuel_used, fresh.fuel_used)


def test_idle_frees_the_answered_calls_stores_whether_or_not_it_makes_an_instance(
    toolchains, executor
):
    """idle() makes the next instance before it frees the last call's store (a call that
    follows at once waits less); every way out of the making frees it all the same."""
    wasm = build(toolchains, "def handle(e):\n    return {'ok': True}\n")
    for making in ("the next instance", "nothing wanted", "an artifact no longer cached"):
        run(executor, wasm, {})
        spent = list(executor._spent)
        assert spent  # the answered call's store, kept until idle()
        if making == "nothing wanted":
            executor._next = None
        elif making == "an artifact no longer cached":
            executor._next = ("0" * 64, executor._next[1])
        executor.idle()
        assert executor._spent == [] and all(closed(store) for store in spent), making
        assert (executor._prepared is not None) == (making == "the next instance")


def closed(store) -> bool:
    try:
        store.get_fuel()
    except ValueError:  # "already closed"
        return True
    return False


PRINTS = """\
import os
import sys

def handle(event):
    stream = sys.stderr if event["stderr"] else sys.stdout
    line = event["char"] * event["width"]
    for i in range(event["lines"]):
        print(i, line, file=stream)
    if event["long"]:
        stream.write(line * 200 + "\\n")
    big = event["big"]
    if big:
        stream.flush()
        sys.stdout.buffer.write(big.encode())
        sys.__stdout__.write(big)
        sys.stdout.writelines([big, big])
        sys.stdout.flush()
        os.write(2, big.encode())
    return {}
"""


@pytest.mark.parametrize("char", ["x", "é", "€", "🙂"])  # 1 to 4 bytes of UTF-8
def test_every_byte_printed_reaches_the_log_and_a_secret_is_redacted_whole(
    toolchains, executor, char
):
    """The host takes at most 8 KiB of one write: no byte past that may be lost, however
    a function writes (an outside attack printed a secret on 200 lines; the bytes past
    8,192 were lost, and with them the end of the secret that redaction needed)."""
    wasm = build(toolchains, PRINTS)
    for width in (1, 41, 500, 2047, 2049, 5000):
        line = char * width
        lines = max(1, 50_000 // len(f"9999 {line}\n".encode()))  # within the log cap
        long = len(line.encode()) * 200 < 10_000  # one write of many pieces
        expected = "".join(f"{i} {line}\n" for i in range(lines))
        expected += line * 200 + "\n" if long else ""
        for stderr in (False, True):
            event = {"char": char, "width": width, "lines": lines, "long": long}
            event |= {"stderr": stderr, "big": ""}
            assert run(executor, wasm, event).logs == expected, (width, stderr)
    big = (char * 9_000)[: 12_000 // len(char.encode())]  # over 8 KiB, 5 writes under 64
    event = {"char": "", "width": 0, "lines": 0, "long": False, "stderr": False, "big": big}
    assert run(executor, wasm, event).logs == big * 5
    secret = "SECRET" + char * 30
    source = f"def handle(e):\n    for i in range(300):\n        print(i, {secret!r})\n"
    wasm = build(toolchains, source)
    hashed = hashlib.sha256(wasm).hexdigest()
    executor.load_module(hashed, "python", wasm)
    reply = executor.execute(ExecuteRequest(hashed, "{}", LIMITS, redact=(secret,)))
    assert reply.logs.splitlines() == [f"{i} [redacted]" for i in range(300)]


def test_a_template_that_does_not_prime_is_not_primed():
    """Functions built from a template made before priming existed run as before."""
    assert not python_slot.primes(python_slot.PRISTINE + b"\0nil-call\0")
    assert python_slot.primes(b"..." + python_slot.PRIME.encode() + b"...")


def test_an_exception_in_a_template_function_shows_its_own_lines(toolchains, executor):
    wasm = build(toolchains, STATEFUL)
    outcome = run(executor, wasm, {"fail": True})
    assert outcome.outcome == "exception", outcome
    assert 'File "function.py", line 12, in handle' in outcome.error
    assert 'return {"x": 1} / 0' in outcome.error
    assert outcome.error.strip().endswith(
        "TypeError: unsupported operand type(s) for /: 'dict' and 'int'"
    )
    assert "nil_template" not in outcome.error and "nil_runtime" not in outcome.error


@pytest.mark.parametrize("module", ["", "import fnmatch\n"])  # the template, componentize-py
def test_a_traceback_shows_the_line_python_numbers_after_a_form_feed_or_a_bom(
    toolchains, executor, module
):
    source = f"\ufeff# a \x0c b\n{module}X = 1\ndef handle(event):\n    raise ValueError('here')\n"
    wasm = build(toolchains, source)
    assert (TEMPLATE_SLOT in wasm) == (not module)
    outcome = run(executor, wasm, {})
    assert outcome.outcome == "exception", outcome
    line = 5 if module else 4
    assert f'File "function.py", line {line}, in handle' in outcome.error
    assert "raise ValueError('here')" in outcome.error, outcome.error
    assert "def handle" not in outcome.error


def test_memory_a_template_function_needs_as_the_docs_say(toolchains, executor):
    """docs/writing-functions.md: a Python function needs 16 MB to start, and a 1 MiB
    input fits in 32 MB; below that, the call fails with the guest's own message (a
    component's memory is not visible to the runner), never a Rust backtrace note."""
    source = "import json\n\ndef handle(event):\n    return {'n': len(event['x'])}\n"
    wasm = build(toolchains, source)
    sha = hashlib.sha256(wasm).hexdigest()
    executor.load_module(sha, "python", wasm)
    big = json.dumps({"x": "é" * 524_238})

    def call(event, memory_mb):
        limits = Limits(timeout_ms=5000, memory_mb=memory_mb, fuel=20_000_000_000)
        return executor.execute(ExecuteRequest(sha, event, limits))

    too_small = call('{"x": ""}', 15)
    assert too_small.error == "function exceeded its memory limit of 15 MB", too_small
    assert json.loads(call('{"x": "abc"}', 16).output) == {"n": 3}
    assert json.loads(call(big, 32).output) == {"n": 524_238}
    for memory_mb in (16, 20, 24):
        tight = call(big, memory_mb)
        assert tight.outcome != "ok" or json.loads(tight.output) == {"n": 524_238}
        assert "RUST_BACKTRACE" not in (tight.error or ""), tight


@pytest.mark.parametrize(
    ("case", "source"),
    [
        ("a module outside the template", "import fnmatch\n\ndef handle(e):\n    return {}\n"),
        (
            "slow module code",
            "T = sum(i * i for i in range(300_000))\n\ndef handle(e):\n    return {'t': T}\n",
        ),
        (
            "a submodule outside the template, imported inside a function",
            "def handle(e):\n    from email import utils\n    return {'ok': bool(utils)}\n",
        ),
    ],
)
def test_sources_the_template_cannot_serve_are_built_by_componentize_py(
    toolchains, executor, case, source
):
    wasm = build(toolchains, source)
    assert TEMPLATE_SLOT not in wasm, case
    outcome = run(executor, wasm, {})
    assert outcome.outcome == "ok", (case, outcome)


def test_a_source_near_the_size_limit_is_served_by_the_template(toolchains, executor):
    text = "".join(f"{i:07d} " for i in range(110_000))  # ~880 KB in one constant
    handle = "def handle(e):\n    return {'v': TEXT[8 * e['k'] : 8 * e['k'] + 7]}\n"
    source = f"TEXT = {text!r}\n\n{handle}"
    assert 800_000 < len(source) < 1_000_000
    wasm = build(toolchains, source)
    assert TEMPLATE_SLOT in wasm
    outcome = run(executor, wasm, {"k": 109_999})
    assert json.loads(outcome.output) == {"v": "0109999"}


def test_a_template_folder_others_may_write_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    template = python_template.PythonTemplate(str(shared))
    policy = python_template.Policy()
    assert template.build("def handle(e):\n    return e\n", policy) is None
    assert "only it may write" in (template.problem or "")
    assert not any(Path(shared).iterdir())


def test_the_template_is_made_once_and_kept(toolchains):
    build(toolchains, "def handle(e):\n    return e\n")
    from builder.settings import Settings as BuilderSettings

    folder = Path(BuilderSettings.from_env().python_template_dir) / python_template.template_key()
    compiled = folder / "template.cwasm"
    made = compiled.stat().st_mtime_ns
    build(toolchains, "def handle(e):\n    return {'again': True}\n")
    assert compiled.stat().st_mtime_ns == made
    assert oct(folder.stat().st_mode & 0o777) == "0o755"
    assert os.stat(compiled).st_uid == os.geteuid()


def artifacts(folder, kind):
    return [p for p in folder.glob(f"*.{kind}.*") if not p.name.endswith(".lock")]


def test_the_runner_runs_every_function_of_a_template_on_one_compiled_template(
    toolchains, tmp_path
):
    executor = Executor(Settings(artifact_dir=str(tmp_path), optimize_in_background=False))
    first = build(toolchains, "def handle(e):\n    return {'one': e}\n")
    second = build(toolchains, "import math\n\ndef handle(e):\n    return {'two': math.e}\n")
    assert json.loads(run(executor, first, 1).output) == {"one": 1}
    [template] = artifacts(tmp_path, "template")
    made = template.stat().st_mtime_ns
    assert json.loads(run(executor, second, {}).output) == {"two": 2.718281828459045}
    assert json.loads(run(executor, first, 2).output) == {"one": 2}
    assert [template] == artifacts(tmp_path, "template")  # not compiled again
    assert template.stat().st_mtime_ns >= made
    # one artifact object for both: its machine code is mapped once
    entries = [executor.cache.peek(hashlib.sha256(w).hexdigest()) for w in (first, second)]
    assert entries[0].artifact is entries[1].artifact
    assert artifacts(tmp_path, "component") == []
    # A component without a slot compiles as it is.
    plain = build(toolchains, "import fnmatch\n\ndef handle(e):\n    return {'three': 3}\n")
    assert json.loads(run(executor, plain, {}).output) == {"three": 3}
    assert [template] == artifacts(tmp_path, "template")
    assert len(artifacts(tmp_path, "component")) == 1


def test_a_function_made_from_a_template_also_runs_as_it_is(toolchains, tmp_path, monkeypatch):
    """Its component holds its source and code: should a runner not find or compile
    its template, the function is compiled and runs as it is, the same."""
    wasm = build(toolchains, STATEFUL)
    monkeypatch.setattr(templates, "find", lambda wasm: None)
    executor = Executor(Settings(artifact_dir=str(tmp_path), optimize_in_background=False))
    outcome = run(executor, wasm, {"n": 1}, env={"GREETING": "hi"})
    assert json.loads(outcome.output) == {
        "calls": 1,
        "at_import": "none",
        "greeting": "hi",
        "r": True,
    }
    assert artifacts(tmp_path, "template") == []
    assert len(artifacts(tmp_path, "component")) == 1


def test_a_slot_found_twice_is_not_taken_for_a_template():
    template = b"\0asm" + python_slot.PRISTINE + b"middle" + python_slot.PRISTINE
    function = python_slot.fill(template, 4, "def handle(e):\n    return e\n", b"")
    assert python_slot.template_of(function) is None
    single = b"\0asm" + python_slot.PRISTINE + b"end"
    function = python_slot.fill(single, 4, "def handle(e):\n    return e\n", b"code")
    found = python_slot.template_of(function)
    assert found is not None and found[0] == single
    # the marker's bytes elsewhere (a string of a componentize-py build) are no slot
    lookalike = bytearray(function)
    lookalike[4 + 100] ^= 0xFF  # filler past the payload changed
    assert python_slot.template_of(bytes(lookalike)) is None
    # what a runner's calls of the template are preceded by: the code, then the source
    prefix = python_slot.call_prefix(found[1])
    assert prefix == python_slot.CALL + "Y29kZQ==\0def handle(e):\n    return e\n\0"
    with_nul = python_slot.fill(single, 4, "x = '\0'\n", b"")
    assert python_slot.call_prefix(python_slot.template_of(with_nul)[1]) is None


TAMPERING = """\
import binascii
import builtins
import marshal
import time

_dumps = marshal.dumps
HIDDEN = compile("def handle(e):\\n    return 'hidden'\\n", "x", "exec")
marshal.dumps = lambda code, *rest: _dumps(HIDDEN)
binascii.b2a_base64 = lambda *a, **k: b"AAAA"
builtins.callable = lambda thing: True
time.perf_counter = lambda: 0.0
SLOW = sum(i * i for i in range(SPIN))


def handle(event):
    return {"benign": True}
"""


@pytest.mark.parametrize("spin", [10, 300_000])
def test_module_code_cannot_change_what_the_check_answers(toolchains, executor, spin):
    wasm = build(toolchains, TAMPERING.replace("SPIN", str(spin)))
    # the code built is the source's; slow module code still gets its own snapshot
    assert (TEMPLATE_SLOT in wasm) == (spin == 10)
    outcome = run(executor, wasm, {})
    assert json.loads(outcome.output) == {"benign": True}, outcome


def test_a_changed_template_folder_is_made_again_or_refused(tmp_path, capsys):
    from builder.settings import Settings as BuilderSettings

    source = python_template.PythonTemplate(BuilderSettings.from_env().python_template_dir)
    policy = BuilderSettings.from_env().sandbox_config().policy(timeout=120, read=())
    assert source.build("def handle(e):\n    return e\n", policy) is not None
    copy = tmp_path / "templates"
    shutil.copytree(source.home, copy / source.home.name)
    copy.chmod(0o755)
    compiled = copy / source.home.name / "template.cwasm"
    good = compiled.read_bytes()
    # changed before it is loaded: the manifest does not match, so it is made again
    compiled.write_bytes(good[:1000] + b"x" + good[1001:])
    template = python_template.PythonTemplate(str(copy))
    assert template.build("def handle(e):\n    return {'again': e}\n", policy) is not None
    assert compiled.read_bytes() != good[:1000] + b"x" + good[1001:]
    # changed after it was loaded: the check refuses it, and says so
    made = compiled.read_bytes()
    compiled.write_bytes(made[:1000] + bytes([made[1000] ^ 1]) + made[1001:])
    assert template.build("def handle(e):\n    return e\n", policy) is None
    assert "does not match its digest" in (template.problem or "")
    assert "nil-warning: the Python template is not used" in capsys.readouterr().err
