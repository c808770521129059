"""How a warm compiler process's death is classified, with real child processes: a crash
of its own on a request is that source's failure (one fresh try if the process had
served other requests), a SIGKILL from outside is a platform fault."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from builder.compiler_process import CompilerCrashed, CompilerProcess, SourceCrashed

# Answers every request; aborts on "abort"; on "abort-if-worn" aborts only once it has
# served a request (a process damaged by an earlier build).
FAKE = r"""
import json, os, sys
served = 0
for line in sys.stdin:
    request = json.loads(line)
    if request["source"] == "abort" or (request["source"] == "abort-if-worn" and served):
        os.abort()
    if request["source"] == "overflow":
        sys.stderr.write("RangeError: Maximum call stack size exceeded\n"); sys.stderr.flush()
        sys.exit(1)
    if request["source"] == "exit":
        sys.exit(1)
    if request["source"] == "sleep":
        import time; time.sleep(30)
    if request["source"] == "warn":
        sys.stderr.write("nil-warning: the template is gone\nnoise\n"); sys.stderr.flush()
    served += 1
    sys.stdout.write(json.dumps({"ok": False, "error": "fine"}) + "\n"); sys.stdout.flush()
"""


@pytest.fixture
def process(tmp_path):
    proc = CompilerProcess([sys.executable, "-c", FAKE], cwd=str(tmp_path), env=dict(os.environ))
    yield proc
    proc.close()


def test_a_fresh_process_that_aborts_is_the_sources_crash(process):
    with pytest.raises(SourceCrashed, match=r"crashed on this source \(SIGABRT\)"):
        process.compile({"source": "abort"}, timeout=20)


def test_a_worn_process_gets_one_fresh_try(process):
    process.compile({"source": "ok"}, timeout=20)
    first = process.pid
    # Damaged by "an earlier build": it crashes only because it had served one; the fresh
    # process compiles the source.
    assert process.compile({"source": "abort-if-worn"}, timeout=20).error == "fine"
    assert process.pid != first
    # A source that crashes every process fails after that one fresh try.
    with pytest.raises(SourceCrashed, match="SIGABRT"):
        process.compile({"source": "abort"}, timeout=20)


def test_a_stack_overflow_report_names_its_cause(process):
    with pytest.raises(SourceCrashed) as crash:
        process.compile({"source": "overflow"}, timeout=20)
    assert str(crash.value) == (
        "the compiler crashed on this source "
        "(exit code 1: RangeError: Maximum call stack size exceeded)"
    )


def test_an_exit_without_a_crash_report_stays_a_platform_fault(process):
    with pytest.raises(CompilerCrashed):
        process.compile({"source": "exit"}, timeout=20)


def test_a_compiler_killed_from_outside_is_a_platform_fault(process):
    process.compile({"source": "ok"}, timeout=20)
    pid = process.pid
    assert pid is not None

    def kill() -> None:
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    with pytest.raises(CompilerCrashed, match="SIGKILL"):
        process.compile({"source": "sleep"}, timeout=20)
    killer.join()
    assert process.compile({"source": "ok"}, timeout=20).error == "fine"


def test_a_compilers_warning_line_is_logged_and_the_rest_of_stderr_is_not(process, caplog):
    caplog.set_level("WARNING", logger="builder.compiler_process")
    assert process.compile({"source": "warn"}, timeout=20).error == "fine"
    deadline = time.monotonic() + 10  # stderr is read by a thread of its own
    while "compiler.warning" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    warnings = [r for r in caplog.records if r.getMessage() == "compiler.warning"]
    assert [r.detail for r in warnings] == ["the template is gone"]
    assert "noise" not in caplog.text
