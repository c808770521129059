"""The `nil` command line end to end (issue 19): the installed console script, run as a
subprocess against the session's platform, the way a user at a shell drives it."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from tests.e2e.cli_helpers import NIL, nil, nil_tty
from tests.e2e.conftest import free_port
from tests.e2e.test_http_front import strict_gateway  # noqa: F401  (a gateway with a key)

AS_ECHO = """\
export function handle(input: string): string {
  console.log("got " + input);
  return input;
}
"""
AS_V2 = 'export function handle(input: string): string {\n  return "{\\"v\\": 2}";\n}\n'
AS_BROKEN = """\
export function handle(input: string): string {
  const n: i32 = 1;
  return nope + input;
}
"""
PY_ECHO = """\
def handle(event):
    print("python saw", event)
    return {"event": event}
"""
ESCAPE = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def url(platform) -> str:
    return f"http://127.0.0.1:{platform.port}"


def test_assemblyscript_deploy_invoke_logs_revisions_rollback(url, tmp_path):
    source = tmp_path / "cli-echo.as.ts"
    source.write_text(AS_ECHO)
    first = nil(url, "deploy", str(source))
    assert first.code == 0, first.err
    assert re.search(r"cli-echo revision 1 READY in [\d.]+s · [\d.]+ KiB · http://", first.out)

    run = nil(url, "invoke", "cli-echo", '{"hello": "world"}')
    assert (run.code, run.json()) == (0, {"hello": "world"})
    assert 'got {"hello":"world"}' in run.err  # the function's logs, on stderr

    executions = nil(url, "executions", "cli-echo", "--json").json()
    assert [e["status"] for e in executions] == ["COMPLETED"]
    logs = nil(url, "logs", executions[0]["id"])
    assert logs.code == 0 and 'got {"hello":"world"}' in logs.out

    source.write_text(AS_V2)
    assert nil(url, "deploy", str(source)).code == 0
    assert nil(url, "invoke", "cli-echo", '{"a": 1}').json() == {"v": 2}
    revisions = nil(url, "revisions", "cli-echo", "--json").json()
    assert [(r["revision"], r["status"]) for r in revisions] == [(2, "READY"), (1, "READY")]
    table = nil(url, "revisions", "cli-echo").out
    assert "live" in table and all(len(line) <= 80 for line in table.splitlines())

    rolled = nil(url, "rollback", "cli-echo")
    assert rolled.code == 0 and "revision 1" in rolled.out
    after = nil(url, "invoke", "cli-echo", '{"a": 1}', "--json").json()
    assert (after["revision"], after["output"]) == (1, {"a": 1})
    pinned = nil(url, "invoke", "cli-echo", "--revision", "2", "-d", '{"a": 1}')
    assert pinned.json() == {"v": 2}


def test_python_under_a_terminal_shows_the_build_then_rolls_back(url, tmp_path):
    """One Python build (the slow one, ~20-40 s) followed live on a pseudo-terminal;
    the second revision only changes limits, so it reuses the artifact."""
    source = tmp_path / "cli_py.py"
    source.write_text(PY_ECHO)
    screen = nil_tty(url, "deploy", str(source))
    assert screen.code == 0, screen.out[-2000:]
    states = [s for s in ("PENDING", "COMPILING", "READY") if s in screen.out]
    assert states == ["PENDING", "COMPILING", "READY"], screen.out[-2000:]
    assert screen.out.index("PENDING") < screen.out.index("COMPILING") < screen.out.rindex("READY")
    assert ESCAPE.search(screen.out)  # a live display: colours and cursor moves

    second = nil(url, "deploy", str(source), "--limit", "timeoutMs=5000")
    assert second.code == 0 and "revision 2 READY" in second.out, second.err
    run = nil(url, "invoke", "cli_py", "-d", '{"n": 1}')
    assert run.json() == {"event": {"n": 1}}
    assert "python saw {'n': 1}" in run.err
    assert nil(url, "rollback", "cli_py").code == 0
    old = nil(url, "invoke", "cli_py", "--json", stdin='{"n": 2}').json()
    assert (old["revision"], old["output"]) == (1, {"event": {"n": 2}})


def test_a_compile_error_shows_the_line_and_a_caret_under_the_column(url, tmp_path):
    source = tmp_path / "cli-broken.as.ts"
    source.write_text(AS_BROKEN)
    run = nil(url, "deploy", str(source))
    assert run.code == 1, (run.out, run.err)
    assert "cli-broken revision 1 FAILED" in run.out
    lines = run.out.splitlines()
    shown = lines.index("3 |   return nope + input;")
    assert lines[shown + 1] == " " * len("3 |   return ") + "^"
    assert f"{source}:3:10" in run.out
    assert "1 of 1 builds failed" in run.err


def test_nil_toml_deploys_in_parallel_and_one_bad_function_fails_the_command(url, tmp_path):
    (tmp_path / "a.as.ts").write_text(AS_ECHO)
    (tmp_path / "b.as.ts").write_text(AS_V2)
    (tmp_path / "bad.as.ts").write_text(AS_BROKEN)
    (tmp_path / "nil.toml").write_text(
        '[functions.toml-a]\nfile = "a.as.ts"\nlimits = { timeoutMs = 2000 }\n\n'
        '[functions.toml-b]\nfile = "b.as.ts"\nenv = { MODE = "b" }\n\n'
        '[functions.toml-bad]\nfile = "bad.as.ts"\n'
    )
    run = nil(url, "deploy", cwd=tmp_path)
    assert run.code == 1 and "1 of 3 builds failed" in run.err, (run.out, run.err)
    for name in ("toml-a", "toml-b"):
        assert nil(url, "get", name, "--json").json()["status"] == "READY"
    assert nil(url, "get", "toml-a", "--json").json()["limits"]["timeoutMs"] == 2000
    assert nil(url, "get", "toml-b", "--json").json()["env"] == {"MODE": "b"}
    assert nil(url, "get", "toml-bad", "--json").json()["status"] == "FAILED"
    # one plain progress line per state change when stderr is not a terminal
    assert len(re.findall(r"^toml-a: READY \([\d.]+s\)$", run.err, re.M)) == 1, run.err


def test_piped_output_is_json_and_every_read_command_has_json(url, tmp_path):
    source = tmp_path / "cli-json.as.ts"
    source.write_text(AS_ECHO)
    assert nil(url, "deploy", str(source), "--json").json()[0]["status"] == "READY"
    piped = nil(url, "invoke", "cli-json", '{"x": [1, 2]}')
    assert piped.out == '{"x": [1, 2]}\n'
    execution = nil(url, "invoke", "cli-json", "--json").json()
    for args in (
        ["ls"],
        ["get", "cli-json"],
        ["revisions", "cli-json"],
        ["executions", "cli-json"],
        ["logs", execution["id"]],
        ["status"],
        ["alias", "set", "cli-json", "beta", "1"],
        ["rollback", "cli-json", "--to", "1"],
    ):
        run = nil(url, *args, "--json")
        assert run.code == 0, (args, run.err)
        json.loads(run.out)
    queued = nil(url, "invoke", "cli-json", "{}", "--async")
    assert re.fullmatch(r"[0-9a-f-]{36}\n", queued.out), queued.out
    waited = nil(url, "invoke", "cli-json", '{"w": 1}', "--async", "--wait")
    assert waited.json() == {"w": 1}


def test_no_color_means_no_escape_codes_even_on_a_terminal(url, tmp_path):
    source = tmp_path / "cli-plain.as.ts"
    source.write_text(AS_ECHO)
    assert nil(url, "deploy", str(source)).code == 0
    for args in (["ls"], ["status"], ["revisions", "cli-plain"], ["invoke", "cli-plain", "{}"]):
        screen = nil_tty(url, *args, env={"NO_COLOR": "1"})
        assert screen.code == 0, screen.out[-2000:]
        assert not ESCAPE.search(screen.out), (args, screen.out)
    coloured = nil_tty(url, "invoke", "cli-plain", '{"k": 1}')
    assert ESCAPE.search(coloured.out) and '"k"' in coloured.out  # coloured without NO_COLOR


def test_an_unreachable_platform_is_exit_3_with_one_line_naming_the_url():
    dead = f"http://127.0.0.1:{free_port()}"
    run = nil(dead, "ls")
    assert run.code == 3 and run.out == ""
    assert run.err.count("\n") == 1
    assert dead in run.err and "make dev" in run.err


def test_a_wrong_api_key_is_exit_3_naming_401(strict_gateway):  # noqa: F811
    keyed = f"http://127.0.0.1:{strict_gateway}"
    run = nil(keyed, "ls", env={"NIL_API_KEY": "not-the-key"})
    assert run.code == 3 and run.err.startswith("error: 401: "), run.err
    assert "NIL_API_KEY" in run.err and run.err.count("\n") == 1


def test_usage_errors_are_exit_2_and_help_shows_examples(url, tmp_path):
    assert nil(url, "invoke").code == 2
    assert nil(url, "deploy", str(tmp_path / "x.unknown")).code == 2
    assert nil(url, "invoke", "x", "[1]").code == 2
    assert "Example" in nil(url, "--help").out
    for command in (
        "deploy",
        "invoke",
        "ls",
        "get",
        "rm",
        "revisions",
        "rollback",
        "executions",
        "logs",
        "retry",
        "status",
        "schedule",
        "alias",
    ):
        assert "Example" in nil(url, command, "--help").out, command
    assert nil(url, "get", "no-such-function").code == 3


def test_rm_asks_unless_yes(url, tmp_path):
    source = tmp_path / "cli-rm.as.ts"
    source.write_text(AS_ECHO)
    assert nil(url, "deploy", str(source), "--no-wait").code == 0
    refused = nil(url, "rm", "cli-rm", stdin="n\n")
    assert refused.code == 1 and nil(url, "get", "cli-rm").code == 0
    assert nil(url, "rm", "cli-rm", "--yes").code == 0
    assert nil(url, "get", "cli-rm").code == 3


AS_FAILS = """\
export function handle(input: string): string {
  console.log("got " + input);
  if (input.includes("fail")) throw new Error("boom");
  return input;
}
"""


def test_failures_idempotency_executions_and_retry(url, tmp_path):
    source = tmp_path / "cli-fails.as.ts"
    source.write_text(AS_FAILS)
    assert nil(url, "deploy", str(source)).code == 0
    failed = nil(url, "invoke", "cli-fails", '{"fail": 1}')
    assert failed.code == 1 and failed.out == ""
    assert failed.err.splitlines()[-1].startswith("error: FAILED: ") and "boom" in failed.err

    listed = nil(url, "executions", "cli-fails", "--failed", "--json").json()
    assert [e["status"] for e in listed] == ["FAILED"]
    assert nil(url, "executions", "cli-fails", "--dead", "--json").json() == []
    retried = nil(url, "retry", listed[0]["id"])
    assert retried.code == 0 and re.fullmatch(r"[0-9a-f-]{36}\n", retried.out)
    again = requests.get(f"{url}/executions/{retried.out.strip()}?wait=30", timeout=40).json()
    assert (again["status"], again["trigger"]) == ("FAILED", "async")

    keyed = [
        nil(url, "invoke", "cli-fails", '{"k": 1}', "--idempotency-key", "cli-k1", "--json")
        for _ in range(2)
    ]
    assert keyed[0].json()["id"] == keyed[1].json()["id"]
    resent = [
        nil(url, "retry", listed[0]["id"], "--idempotency-key", "cli-r1").out for _ in range(2)
    ]
    assert resent[0] == resent[1] != retried.out  # one new execution for the key


def test_logs_follow_prints_new_executions_until_ctrl_c(url, tmp_path):
    source = tmp_path / "cli-follow.as.ts"
    source.write_text(AS_ECHO)
    assert nil(url, "deploy", str(source)).code == 0
    follower = subprocess.Popen(
        [NIL, "logs", "cli-follow", "--follow"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NIL_URL": url},
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in follower.stdout])
    reader.start()
    seen = ""
    deadline = time.monotonic() + 120
    n = 0
    try:  # invoke until the follower (which skips what ended before it started) shows one
        while "got {" not in seen and time.monotonic() < deadline:
            n += 1
            assert nil(url, "invoke", "cli-follow", json.dumps({"n": n})).code == 0
            try:
                while True:
                    seen += lines.get(timeout=1)
            except queue.Empty:
                pass
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            code = follower.wait(timeout=30)
        finally:
            if follower.poll() is None:  # it ignored Ctrl-C: the assertion below says so
                follower.kill()
                follower.wait()
            reader.join(timeout=10)
            follower.stdout.close()
    assert re.search(r'^got \{"n":\d+\}$', seen, re.M), seen
    assert re.search(r"^--- [0-9a-f-]{36} COMPLETED ", seen, re.M)
    assert code == 0


def test_two_functions_with_one_name_are_an_error_listing_them(url, tmp_path):
    body = {"name": "cli-twin", "language": "assemblyscript", "source": AS_ECHO}
    ids = [requests.post(f"{url}/functions", json=body, timeout=30).json()["id"] for _ in "ab"]
    source = tmp_path / "cli-twin.as.ts"
    source.write_text(AS_ECHO)
    for args in (["deploy", str(source)], ["invoke", "cli-twin"], ["get", "cli-twin"]):
        run = nil(url, *args)
        assert run.code == 3 and all(i in run.err for i in ids), (args, run.err)
        assert "2 functions are named 'cli-twin'" in run.err
