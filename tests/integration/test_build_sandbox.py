"""Hostile sources against the build sandbox, through the real builder, consumer,
gateway and runners (issue 13, findings 1 and 4).

A random token is planted where a build must never reach: a file in a temporary
directory, a file standing for Postgres's data under NIL_HOME, the environment of a
process standing for the builder, and the builder's own environment. Every include or
embed mechanism of every toolchain then tries to read it; the token must appear in no
compile error, artifact, execution output or log line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.settings import Settings as BuilderSettings
from builder.worker import Builder
from tests.integration.helpers import function_body, source


@dataclass(frozen=True)
class Canary:
    token: str
    plain: str  # a text file
    pg_wal: str  # a file standing for NIL_HOME/pgdata/pg_wal/…
    ts: str  # an AssemblyScript module exporting the token
    zig: str  # a Zig file exporting the token
    header: str  # a C header defining the token
    js: str  # a JavaScript module exporting the token
    rs: str  # a Rust module defining the token
    py_dir: str  # a directory holding secret.py
    environ: str  # /proc/<pid>/environ of a process standing for the builder


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    token = "CANARY" + secrets.token_hex(16)
    root = Path(tempfile.mkdtemp(prefix="nil-canary-"))
    os.chmod(root, 0o755)  # readable by every uid: only the sandbox stands in the way
    wal = root / "nil-home" / "pgdata" / "pg_wal"
    wal.mkdir(parents=True, mode=0o755)
    files = {
        "plain": root / "secret.txt",
        "pg_wal": wal / "000000010000000000000001",
        "ts": root / "secret.ts",
        "zig": root / "secret.zig",
        "header": root / "secret.h",
        "py": root / "secret.py",
        "js": root / "secret.js",
        "rs": root / "secret.rs",
    }
    files["plain"].write_text(f"{token}\n")
    files["pg_wal"].write_text(f"INSERT source {token}\n")
    files["ts"].write_text(f'export const secret: string = "{token}";\n')
    files["zig"].write_text(f'pub const secret = "{token}";\n')
    files["header"].write_text(f'#define SECRET "{token}"\n')
    files["py"].write_text(f'SECRET = "{token}"\n')
    files["js"].write_text(f'export default "{token}";\nexport const secret = "{token}";\n')
    files["rs"].write_text(f'pub const SECRET: &str = "{token}";\n')
    for path in files.values():
        os.chmod(path, 0o644)
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={"DATABASE_URL": f"postgresql://nil:{token}@db/nil", "NIL_CANARY": token},
    )
    yield Canary(
        token=token,
        plain=str(files["plain"]),
        pg_wal=str(files["pg_wal"]),
        ts=str(files["ts"]),
        zig=str(files["zig"]),
        header=str(files["header"]),
        js=str(files["js"]),
        rs=str(files["rs"]),
        py_dir=str(root),
        environ=f"/proc/{decoy.pid}/environ",
    )
    decoy.kill()
    decoy.wait()
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def confined_toolchains(canary) -> Iterator[dict]:
    """Toolchains started while the builder's environment holds the token (as its
    DATABASE_URL would): a compiler that inherited it could print it."""
    from builder.toolchains import all_toolchains

    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "NIL_CANARY")}
    os.environ["DATABASE_URL"] = f"postgresql://nil:{canary.token}@db/nil"
    os.environ["NIL_CANARY"] = canary.token
    try:
        chains = all_toolchains()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield chains
    for chain in chains.values():
        chain.close()


def up(path: str) -> str:
    """`path` reached from a job's directory by `../` traversal."""
    return "../" * 12 + path.lstrip("/")


C_RETURN = "NIL_HANDLE uint64_t handle(const char *in, uint32_t len) {{ {body} }}\n"


def c_source(prelude: str, body: str = "return nil_output(in, len);") -> str:
    return '#include "nil.h"\n' + prelude + "\n" + C_RETURN.format(body=body)


def c_embed(path: str) -> str:
    return c_source(
        f'static const char data[] = {{\n#embed "{path}"\n, 0}};',
        "return nil_output(data, sizeof data - 1);",
    )


def hostile_sources(c: Canary) -> list[tuple[str, str, str]]:
    """(case, language, source): every way each toolchain has to pull in a file."""
    zig_handle = "export fn handle(p: [*]const u8, l: u32) u64 {{ _ = p; _ = l; {body} }}\n"
    zig_out = 'const nil = @import("nil.zig");\ncomptime { _ = nil; }\n'
    return [
        ("c include absolute", "c", c_source(f'#include "{c.plain}"')),
        ("c include pg_wal", "c", c_source(f'#include "{c.pg_wal}"')),
        ("c include traversal", "c", c_source(f'#include "{up(c.plain)}"')),
        (
            "c include angle",
            "c",
            c_source(f"#include <{c.header}>", "return nil_output(SECRET, 38);"),
        ),
        ("c include proc environ", "c", c_source(f'#include "{c.environ}"')),
        ("c include own environ", "c", c_source('#include "/proc/self/environ"')),
        ("c embed absolute", "c", c_embed(c.plain)),
        ("c embed pg_wal", "c", c_embed(c.pg_wal)),
        ("c embed traversal", "c", c_embed(up(c.pg_wal))),
        ("c embed proc environ", "c", c_embed(c.environ)),
        ("c embed parent environ", "c", c_embed(f"/proc/{os.getpid()}/environ")),
        (
            "c has_include",
            "c",
            c_source(
                f'#if __has_include("{c.header}")\n#include "{c.header}"\n#else\n'
                '#define SECRET "none"\n#endif\n#line 1 "' + c.plain + '"\n'
                "static const char *f = __FILE__;",
                "(void)f; return nil_output(SECRET, sizeof SECRET - 1);",
            ),
        ),
        (
            "zig embedFile absolute",
            "zig",
            zig_out
            + f'const s = @embedFile("{c.plain}");\n'
            + zig_handle.format(body="return nil.output(s);"),
        ),
        (
            "zig embedFile traversal",
            "zig",
            zig_out
            + f'const s = @embedFile("{up(c.pg_wal)}");\n'
            + zig_handle.format(body="return nil.output(s);"),
        ),
        (
            "zig import absolute",
            "zig",
            zig_out
            + f'const s = @import("{c.zig}");\n'
            + zig_handle.format(body="return nil.output(s.secret);"),
        ),
        (
            "zig import traversal",
            "zig",
            zig_out
            + f'const s = @import("{up(c.zig)}");\n'
            + zig_handle.format(body="return nil.output(s.secret);"),
        ),
        (
            "assemblyscript import absolute",
            "assemblyscript",
            f'import {{ secret }} from "{c.ts[:-3]}";\n'
            "export function handle(input: string): string { return secret; }\n",
        ),
        (
            "assemblyscript import traversal",
            "assemblyscript",
            f'import {{ secret }} from "{up(c.ts[:-3])}";\n'
            "export function handle(input: string): string { return secret; }\n",
        ),
        *javascript_sources(c),
        *typescript_sources(c),
        *rust_sources(c),
        *(
            (
                f"python build-time reads{variant}",
                "python",
                prefix
                + PYTHON_READS.format(
                    files=[
                        *(c.plain, c.pg_wal, c.environ, "/proc/self/environ"),
                        c.py_dir + "/secret.py",
                    ],
                    dir=c.py_dir,
                ),
            )
            # The template's build, and componentize-py's (a module outside the template).
            for variant, prefix in (("", ""), (" (componentize-py)", "import fnmatch\n"))
        ),
    ]


def must_fail(case: str) -> bool:
    """Cases of the JavaScript, TypeScript and Rust toolchains that name a file or a
    variable at build time: the build itself must fail (the others run and leak nothing)."""
    language = case.split(" ", 1)[0]
    if language in ("javascript", "typescript"):
        return ("import" in case and "dynamic" not in case) or "reference" in case
    return language == "rust" and any(
        word in case for word in ("include", "path module", "env!", "proc-macro")
    )


JS_HANDLE = "export function handle(event) {{ return {{ leaked: {value} }}; }}\n"


def javascript_sources(c: Canary) -> list[tuple[str, str, str]]:
    """Every way a JavaScript module can name a file: static imports (absolute, `../`,
    of a module, of plain text, of /proc), dynamic import(), require()."""
    imported = [
        ("absolute", c.js),
        ("traversal", up(c.js)),
        ("plain file", c.plain),
        ("pg_wal", c.pg_wal),
        ("proc environ", c.environ),
        ("own environ", "/proc/self/environ"),
    ]
    cases = [
        (
            f"javascript import {name}",
            "javascript",
            f'import s from "{path}";\n' + JS_HANDLE.format(value="s"),
        )
        for name, path in imported
    ]
    return [
        *cases,
        (
            "javascript dynamic import",
            "javascript",
            f'let leaked = null;\nimport("{c.js}").then((m) => {{ leaked = m.default; }},'
            " (e) => { leaked = String(e); });\n" + JS_HANDLE.format(value="leaked"),
        ),
        (
            "javascript require",
            "javascript",
            f'const s = typeof require === "function" ? require("{c.js}") : null;\n'
            + JS_HANDLE.format(value="s"),
        ),
    ]


def typescript_sources(c: Canary) -> list[tuple[str, str, str]]:
    handle = (
        "export function handle(event: NilEvent): NilJson {{ return {{ leaked: {value} }}; }}\n"
    )
    return [
        (
            "typescript import absolute",
            "typescript",
            f'import {{ secret }} from "{c.js[:-3]}";\n' + handle.format(value="secret"),
        ),
        (
            "typescript import traversal",
            "typescript",
            f'import {{ secret }} from "{up(c.ts[:-3])}";\n' + handle.format(value="secret"),
        ),
        (
            "typescript reference path",
            "typescript",
            f'/// <reference path="{c.ts}" />\n' + handle.format(value="secret"),
        ),
    ]


RUST_HANDLE = (
    "pub fn handle(_e: serde_json::Value) -> Result<serde_json::Value, String> {{\n"
    '    Ok(serde_json::json!({{ "leaked": {value} }}))\n}}\n'
)


def rust_sources(c: Canary) -> list[tuple[str, str, str]]:
    """include_str!/include_bytes! of every file, #[path] modules, the environment at
    build time (env!, option_env!), a proc-macro crate of the user's, reads at run time."""
    cases = []
    for name, path in (
        ("absolute", c.plain),
        ("pg_wal", c.pg_wal),
        ("traversal", up(c.plain)),
        ("proc environ", c.environ),
        ("own environ", "/proc/self/environ"),
    ):
        cases.append(
            (
                f"rust include_str {name}",
                "rust",
                f'const S: &str = include_str!("{path}");\n' + RUST_HANDLE.format(value="S"),
            )
        )
        cases.append(
            (
                f"rust include_bytes {name}",
                "rust",
                f'const S: &[u8] = include_bytes!("{path}");\n'
                + RUST_HANDLE.format(value="String::from_utf8_lossy(S)"),
            )
        )
    return [
        *cases,
        (
            "rust path module",
            "rust",
            f'#[path = "{c.rs}"]\nmod secret;\n' + RUST_HANDLE.format(value="secret::SECRET"),
        ),
        (
            "rust env at build time",
            "rust",
            'const A: Option<&str> = option_env!("NIL_CANARY");\n'
            'const B: Option<&str> = option_env!("DATABASE_URL");\n'
            + RUST_HANDLE.format(value='format!("{:?}{:?}", A, B)'),
        ),
        (
            "rust env! at build time",
            "rust",
            'const A: &str = env!("NIL_CANARY");\n' + RUST_HANDLE.format(value="A"),
        ),
        (
            "rust proc-macro crate",
            "rust",
            '#![crate_type = "proc-macro"]\nextern crate proc_macro;\n'
            "#[proc_macro]\npub fn leak(_: proc_macro::TokenStream) -> proc_macro::TokenStream {\n"
            f'    std::fs::read_to_string("{c.plain}").unwrap().parse().unwrap()\n}}\n'
            + RUST_HANDLE.format(value="1"),
        ),
        (
            "rust reads at run time",
            "rust",
            RUST_HANDLE.format(
                value=f'format!("{{:?}}{{:?}}", std::fs::read_to_string("{c.plain}"),'
                " std::env::vars().collect::<Vec<_>>())"
            ),
        ),
    ]


PYTHON_READS = """\
import json
import sys

found = {{}}
for path in {files!r}:
    try:
        with open(path, "rb") as f:
            found[path] = f.read().decode("latin-1")
    except Exception as exc:
        found[path] = type(exc).__name__
sys.path.insert(0, {dir!r})
try:
    found["import"] = __import__("secret").SECRET
except Exception as exc:
    found["import"] = type(exc).__name__


def handle(event):
    return found
"""


def test_no_build_reads_a_file_outside_its_job(
    client, db, consumer, confined_toolchains, canary, caplog
):
    caplog.set_level(logging.INFO)
    cases = hostile_sources(canary)
    ids = {}
    for case, language, src in cases:
        response = client.post(
            "/functions", json=function_body(name="hostile", language=language, src=src)
        )
        assert response.status_code == 201, response.json
        ids[case] = response.json["id"]
    builder = Builder(db, BuilderSettings(compile_timeout_seconds=120), confined_toolchains)
    builder.run(wait=False)
    consumer.run(wait=False)
    seen = []
    for case, fid in ids.items():
        fn = client.get(f"/functions/{fid}").json
        assert fn["status"] in ("READY", "FAILED"), (case, fn)
        if must_fail(case):
            assert fn["status"] == "FAILED", (case, fn)
        seen.append(f"{case}: {fn['status']} {fn['compileError']}")
        if fn["status"] == "READY":
            with db.connection() as conn:
                wasm = conn.execute(
                    "SELECT a.wasm FROM artifacts a JOIN revisions r"
                    " ON r.artifact_sha256 = a.sha256 WHERE r.function_id = %s",
                    (fid,),
                ).fetchone()[0]
            assert canary.token.encode() not in bytes(wasm), case
            result = client.post(f"/functions/{fid}/execute", json={"input": {}}).json
            seen.append(f"{case}: ran {result}")
    report = "\n".join(seen)
    assert canary.token not in report, report
    assert canary.token not in caplog.text
    # Nothing of this machine's paths reaches a user either.
    for marker in ("/work/", "/root/", "site-packages", str(Path.home()), "/tmp/"):
        errors = [line for line in seen if "FAILED" in line and marker in line]
        assert errors == [], marker


def test_compiler_messages_carry_only_job_relative_paths(confined_toolchains):
    output = confined_toolchains["c"].compile(
        '#include <stdio.h>\n#include "nil.h"\nint x = printf(1, 2, 3);\n', timeout=120
    )
    assert not output.ok
    assert "stdio.h" in output.error
    for marker in ("/work/", "/root/", "site-packages", "/tmp/", "/var/cache"):
        assert marker not in output.error, output.error


C_BOMB = "\n".join(
    ["#define A0 x", *(f"#define A{i} A{i - 1} A{i - 1}" for i in range(1, 41)), "int v = A40;"]
)
ZIG_BOMB = """\
fn dbl(comptime n: usize) []const u8 {
    if (n == 0) return "ab";
    const x = comptime dbl(n - 1);
    return x ++ x;
}
export fn handle(ptr: [*]const u8, len: u32) u64 {
    _ = ptr;
    _ = len;
    @setEvalBranchQuota(100000000);
    const s = comptime dbl(40);
    return s.len;
}
"""


@pytest.mark.parametrize("language, bomb", [("c", C_BOMB), ("zig", ZIG_BOMB)])
def test_a_build_time_memory_bomb_fails_on_the_memory_cap(
    client, db, consumer, toolchains, language, bomb
):
    fid = client.post("/functions", json=function_body(language=language, src=bomb)).json["id"]
    started = time.monotonic()
    Builder(db, BuilderSettings(compile_timeout_seconds=60), toolchains).run(wait=False)
    elapsed = time.monotonic() - started
    consumer.run(wait=False)
    fn = client.get(f"/functions/{fid}").json
    assert fn["status"] == "FAILED"
    assert fn["compileError"] == "the build exceeded its memory limit (1024 MiB)"
    assert elapsed < 45, elapsed  # well before the 60 s time limit


HOSTILE_SLOW = """\
fn spin() u64 {
    @setEvalBranchQuota(4000000000);
    var i: u64 = 0;
    while (i < 4000000000) : (i += 1) {}
    return i;
}
export fn handle(ptr: [*]const u8, len: u32) u64 {
    _ = ptr;
    _ = len;
    return comptime spin();
}
"""


def wait_for_status(client, consumer, fid, statuses, deadline):
    while time.monotonic() < deadline:
        consumer.run(wait=False)
        fn = client.get(f"/functions/{fid}").json
        if fn["status"] in statuses:
            return fn
        time.sleep(0.05)
    raise AssertionError(f"still {fn['status']}")


@pytest.fixture
def background_builder(db):
    """A builder running in a thread with its own compilers, stopped afterwards."""
    import threading

    from builder.toolchains import all_toolchains

    running = []

    def start(**settings):
        chains = all_toolchains()
        builder = Builder(db, BuilderSettings(**settings), chains)
        thread = threading.Thread(target=builder.run, daemon=True)
        thread.start()
        running.append((builder, thread, chains))
        return builder, chains

    yield start
    for builder, thread, chains in running:
        builder.stop_flag.stop()
        for chain in chains.values():
            chain.close()  # a compile still running is killed: its job is returned
        thread.join(timeout=30)


def test_a_wat_build_behind_a_hostile_build_is_ready_within_seconds(
    client, consumer, background_builder
):
    hostile = client.post("/functions", json=function_body(language="zig", src=HOSTILE_SLOW))
    background_builder(compile_timeout_seconds=40, concurrency=2)
    deadline = time.monotonic() + 30
    wait_for_status(client, consumer, hostile.json["id"], {"COMPILING"}, deadline)
    started = time.monotonic()
    fid = client.post("/functions", json=function_body(src=source("echo.wat"))).json["id"]
    fn = wait_for_status(client, consumer, fid, {"READY", "FAILED"}, started + 10)
    took = time.monotonic() - started
    assert fn["status"] == "READY"
    assert took < 5, took
    assert client.get(f"/functions/{hostile.json['id']}").json["status"] == "COMPILING"


# A module outside the Python template: componentize-py builds it, which takes seconds.
SLOW_PYTHON = "import fnmatch\n\n\ndef handle(event):\n    return event\n"


def test_a_compiler_killed_mid_build_is_retried_not_failed(
    client, consumer, background_builder, caplog
):
    import psutil

    fid = client.post("/functions", json=function_body(language="python", src=SLOW_PYTHON)).json[
        "id"
    ]
    _, chains = background_builder(compile_timeout_seconds=120, concurrency=1)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        for pid in chains["python"].pids():
            for child in psutil.Process(pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    if "--build" in child.cmdline():  # componentize-py's, not the check
                        victim = child
        time.sleep(0.05)
    assert victim is not None, "no build process appeared"
    time.sleep(0.5)  # mid-build
    victim.kill()
    fn = wait_for_status(client, consumer, fid, {"READY", "FAILED"}, time.monotonic() + 120)
    assert (fn["status"], fn["compileError"]) == ("READY", None)
    assert "compiler.crashed" in caplog.text


def test_a_job_outliving_its_visibility_is_compiled_once_by_one_builder(
    client, consumer, background_builder, caplog
):
    caplog.set_level(logging.INFO, logger="builder.worker")
    fid = client.post("/functions", json=function_body(language="python", src=SLOW_PYTHON)).json[
        "id"
    ]
    # The job reappears every second while a Python build takes several: the other slot
    # reads it again and must leave it to the slot compiling it.
    background_builder(compile_timeout_seconds=120, concurrency=2, visibility_seconds=1)
    fn = wait_for_status(client, consumer, fid, {"READY", "FAILED"}, time.monotonic() + 120)
    assert fn["status"] == "READY"
    published = [r for r in caplog.records if r.getMessage() == "result.published"]
    assert len(published) == 1


DISK_FILLER = """\
import fnmatch  # outside the Python template: componentize-py runs this module at build time
import os, sys

def _fill(tag):
    # Module-level code runs at build time: write 12 x 60 MiB (each under RLIMIT_FSIZE)
    # into the first directory of the job that takes it (site-packages is one).
    chunk = b"x" * (1 << 20)
    for folder in sys.path:
        try:
            for n in range(12):
                with open(os.path.join(folder, f"{tag}-{n}.bin"), "wb") as out:
                    for _ in range(60):
                        out.write(chunk)
            return
        except OSError:
            continue

_fill("TAG")

def handle(event):
    return event
"""


def test_a_build_writing_past_its_disk_cap_fails_and_its_directory_is_removed(
    client, db, consumer, toolchains
):
    tag = "nil-fill-" + secrets.token_hex(8)
    src = DISK_FILLER.replace("TAG", tag)
    fid = client.post("/functions", json=function_body(language="python", src=src)).json["id"]
    started = time.monotonic()
    Builder(db, BuilderSettings(compile_timeout_seconds=120), toolchains).run(wait=False)
    elapsed = time.monotonic() - started
    consumer.run(wait=False)
    fn = client.get(f"/functions/{fid}").json
    assert (fn["status"], fn["compileError"]) == (
        "FAILED",
        "the build wrote more than 256 MB (its disk limit)",
    )
    assert elapsed < 90, elapsed
    left = [str(p) for p in Path(tempfile.gettempdir()).glob(f"nil-python-*/**/{tag}-*")]
    assert left == []


AS_GENERIC_RECURSION = """\
function f<T>(x: T): i32 { return f<StaticArray<T>>([x]); }
export function handle(input: string): string { f<i32>(1); return input; }
"""
C_BIG_STATIC = """\
#include "nil.h"
static char big[200u << 20] = {1, 2, 3};
char *p = big;
int nil_handle(const char *in, int len) { big[len] = in[0]; return nil_output(p, len); }
"""


@pytest.mark.parametrize(
    "language, src, cause",
    [
        ("assemblyscript", AS_GENERIC_RECURSION, "exit code 1: RangeError: Maximum call stack"),
        ("c", C_BIG_STATIC, "SIGABRT"),
    ],
)
def test_a_source_that_crashes_its_compiler_fails_at_once(
    client, db, consumer, toolchains, caplog, language, src, cause
):
    """A compiler that crashes on its own (a stack overflow, an abort) is the source's
    failure, named as such — not a platform fault retried five times into "try again"."""
    caplog.set_level(logging.INFO, logger="builder.worker")
    toolchains["assemblyscript"].warm_up(timeout=60)
    warm = toolchains["assemblyscript"].pids()
    fid = client.post("/functions", json=function_body(language=language, src=src)).json["id"]
    started = time.monotonic()
    Builder(db, BuilderSettings(compile_timeout_seconds=60), toolchains).run(wait=False)
    elapsed = time.monotonic() - started
    consumer.run(wait=False)
    fn = client.get(f"/functions/{fid}").json
    assert fn["status"] == "FAILED"
    assert fn["compileError"].startswith(f"the compiler crashed on this source ({cause}")
    assert "try again" not in fn["compileError"]
    assert "compiler.crashed" not in caplog.text  # never sent back to the queue
    assert elapsed < 30, elapsed
    if language == "assemblyscript":
        # asc's own crash report is caught: the warm compiler serves the next build.
        assert toolchains["assemblyscript"].pids() == warm
        ok = client.post("/functions", json=function_body(language="assemblyscript")).json["id"]
        Builder(db, BuilderSettings(compile_timeout_seconds=60), toolchains).run(wait=False)
        consumer.run(wait=False)
        assert client.get(f"/functions/{ok}").json["status"] == "READY"
