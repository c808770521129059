"""The build sandbox's layers, each checked in a real child process (the test process
itself is never confined): Landlock paths and TCP, resource limits, the uid taken as
root, and how an exit status is told apart (limit of the build or platform fault)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from builder.sandbox import Policy, abi_version, limit_hit
from builder.sandbox.outcome import CPU, MEMORY, OUTPUT, PlatformFault, SourceCrash

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(abi_version() < 1, reason="this kernel has no Landlock")

PROBE = """
import json, os, socket, sys
sys.path.insert(0, {repo!r})
from builder.sandbox.confine import Policy, enter
enter(Policy.from_json({policy!r}))
result = {{"uid": os.getuid()}}
def attempt(name, action):
    try:
        result[name] = action()
    except OSError as exc:
        result[name] = type(exc).__name__
attempt("read_allowed", lambda: open({allowed!r}).read())
attempt("read_outside", lambda: open({outside!r}).read())
attempt("read_proc", lambda: open("/proc/1/environ", "rb").read().decode())
attempt("write_job", lambda: open({job!r} + "/out", "w").write("x"))
attempt("write_toolchain", lambda: open({allowed!r}, "a").write("x"))
attempt("connect", lambda: socket.socket().connect(("127.0.0.1", {port})))
udp = lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
attempt("udp", lambda: udp().sendto(b"x", ("127.0.0.1", {port})))
attempt("unix", lambda: socket.socket(socket.AF_UNIX).connect({unix!r}))
print(json.dumps(result))
"""


def probe(tmp_path: Path, policy: Policy, port: int) -> dict:
    daemon = socket.socket(socket.AF_UNIX)  # a socket file standing for a database's
    daemon.bind(str(tmp_path / "daemon.sock"))
    os.chmod(tmp_path / "daemon.sock", 0o777)
    daemon.listen()
    toolchain, job, outside = tmp_path / "toolchain", tmp_path / "job", tmp_path / "outside"
    for directory in (toolchain, job, outside):
        directory.mkdir()
        os.chmod(directory, 0o777)
    (toolchain / "tool.txt").write_text("tool")
    (outside / "secret.txt").write_text("secret")
    policy = policy.allowing(read=(str(toolchain),), write=(str(job),))
    code = PROBE.format(
        repo=str(REPO),
        policy=policy.to_json(),
        allowed=str(toolchain / "tool.txt"),
        outside=str(outside / "secret.txt"),
        job=str(job),
        port=port,
        unix=str(tmp_path / "daemon.sock"),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    daemon.close()
    return json.loads(done.stdout)


@pytest.fixture
def open_dir():
    """A directory every uid can reach (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nil-sandbox-test-"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def test_a_confined_process_reaches_only_its_toolchain_and_its_job(open_dir, listener):
    result = probe(open_dir, Policy(), listener)
    assert result["read_allowed"] == "tool"
    assert result["read_outside"] == "PermissionError"
    assert result["read_proc"] == "PermissionError"
    assert result["write_job"] == 1
    assert result["write_toolchain"] == "PermissionError"
    assert result["connect"] == "PermissionError"
    assert result["udp"] == "PermissionError"
    assert result["unix"] == "PermissionError"
    if os.geteuid() == 0:
        assert result["uid"] == 65534  # root's compilers run as an unprivileged uid


def test_without_the_sandbox_the_same_probe_reads_everything(open_dir, listener):
    result = probe(open_dir, Policy(enabled=False), listener)
    assert result["read_outside"] == "secret"
    assert (result["connect"], result["udp"], result["unix"]) == (None, 1, None)


def run_limited(policy: Policy, code: str) -> subprocess.CompletedProcess:
    program = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from builder.sandbox.confine import Policy, enter\n"
        f"enter(Policy.from_json({policy.to_json()!r}))\n" + code
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )


def test_the_memory_cap_stops_an_allocation():
    done = run_limited(Policy(memory_bytes=256 << 20), "b = bytearray(512 << 20)")
    assert done.returncode == 1 and "MemoryError" in done.stderr


def test_the_cpu_limit_stops_a_busy_loop_with_sigxcpu():
    done = run_limited(Policy(cpu_seconds=1), "while True: pass")
    assert done.returncode == -signal.SIGXCPU
    assert limit_hit(done.returncode, done.stderr) == CPU


def test_the_file_size_limit_stops_an_oversized_output(open_dir):
    policy = Policy(file_bytes=1 << 20).allowing(write=(str(open_dir),))
    done = run_limited(policy, f"open({str(open_dir / 'out')!r}, 'wb').write(b'x' * (2 << 20))")
    # Python ignores SIGXFSZ and gets EFBIG; a compiler that does not is killed by it.
    assert "File too large" in done.stderr
    assert limit_hit(done.returncode, done.stderr) == OUTPUT


@pytest.mark.parametrize(
    "returncode, output, expected",
    [
        (0, "", None),
        (1, "function.c:1:1: error: expected expression", None),
        (1, "LLVM ERROR: out of memory\nAllocation failed", MEMORY),
        (1, "error: OutOfMemory", MEMORY),
        (
            -signal.SIGABRT,
            "FATAL ERROR: Reached heap limit - JavaScript heap out of memory",
            MEMORY,
        ),
        (-signal.SIGABRT, "memory allocation of 1048576 bytes failed", MEMORY),
        (-signal.SIGXCPU, "", CPU),
        (-signal.SIGXFSZ, "", OUTPUT),
    ],
)
def test_how_a_compile_ended(returncode, output, expected):
    assert limit_hit(returncode, output) == expected


@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_no_limit_explains_is_a_platform_fault(number):
    with pytest.raises(PlatformFault, match=signal.Signals(number).name):
        limit_hit(-number, "Segmentation fault")


@pytest.mark.parametrize("number", [signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL])
def test_a_crash_signal_of_the_compiler_is_the_sources_failure(number):
    name = signal.Signals(number).name
    with pytest.raises(SourceCrash, match=rf"the compiler crashed on this source \({name}\)"):
        limit_hit(-number, "Segmentation fault")


SHELL_TOOLS = ("/bin", "/usr/bin", "/lib", "/lib64", "/usr/lib", "/usr/lib64")
WRITE_FILES = "i=0; while [ $i -lt 100 ]; do yes abcdefg | head -c 1048576 > f$i; i=$((i+1)); done"
WRITE_DELETED = (
    "exec 3>big; rm big; i=0;"
    " while [ $i -lt 100 ]; do yes abcdefg | head -c 1048576 >&3; i=$((i+1)); done"
)


@pytest.mark.parametrize("script", [WRITE_FILES, WRITE_DELETED], ids=["files", "deleted"])
def test_a_build_writing_past_its_disk_cap_is_killed(tmp_path, script):
    """RLIMIT_FSIZE caps each file; the monitor caps their sum, deleted-but-open files
    included, and kills every process of the build (the `sleep` it left running too)."""
    import psutil

    from builder.sandbox.outcome import DISK
    from builder.toolchains.compile_job import run_confined

    marker = f"{secrets_token()}"
    policy = Policy(read=SHELL_TOOLS, disk_bytes=8 << 20)
    started = time.monotonic()
    done = run_confined(
        ["/bin/sh", "-c", f"{script}; sleep 30 # {marker}"], tmp_path, policy, {"PATH": "/bin"}
    )
    assert done.limit == DISK
    assert time.monotonic() - started < 20
    assert not [p for p in psutil.process_iter(["cmdline"]) if marker in str(p.info["cmdline"])]
    used = sum(f.stat().st_size for f in tmp_path.iterdir())
    assert used < 64 << 20, used  # stopped within a few rounds of the cap, not at 100 MiB


def test_a_build_within_its_disk_cap_finishes(tmp_path):
    from builder.toolchains.compile_job import run_confined

    policy = Policy(read=SHELL_TOOLS, disk_bytes=128 << 20)
    done = run_confined(["/bin/sh", "-c", WRITE_FILES], tmp_path, policy, {"PATH": "/bin"})
    assert (done.returncode, done.limit, done.fault) == (0, None, None)


def secrets_token() -> str:
    import secrets

    return "nil-disk-" + secrets.token_hex(8)
