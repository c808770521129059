"""Builds Python functions into components with componentize-py (toolchains' line protocol).

Each build runs componentize-py in a fresh process and directory holding function.py and
Nil's entry module, against the WIT world in data/python/wit. VIRTUAL_ENV points at an
empty environment so nothing from the builder's own site-packages is bundled: functions
get the standard library only. The build process (`python_worker.py --build ARGS POLICY`)
imports componentize-py, then confines itself to the WIT files and its job directory
before it runs a line of the function (whose top-level code runs at build time).

Most builds take a shortcut: a copy of the host's template, built by componentize-py
once (python_template.py). Only a source the template cannot serve is built here.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.sandbox.confine import Policy, enter
from builder.toolchains import python_template
from builder.toolchains.compile_job import job_directory, run_confined
from builder.toolchains.worker_protocol import crashed, failed, faulted, limited, ok, serve

DATA = python_template.DATA
TEMPLATE = python_template.PythonTemplate(os.environ.get("NIL_PYTHON_TEMPLATE_DIR", ""))
_APP_PATH = re.compile(r'"/\d+/function\.py"')


def compile_one(request: dict) -> dict:
    source = request["source"].removeprefix("\ufeff")  # a BOM, as a .py file may start
    if not re.search(r"\bhandle\b", source):
        # A build takes seconds; one that cannot succeed fails at once.
        return failed("function.py must define a function handle(event)")
    policy = Policy.from_json(request["policy"])
    wasm = TEMPLATE.build(source, policy)
    if wasm is not None:
        return ok(wasm)
    with job_directory("python") as work:
        app = work / "app"
        app.mkdir()
        (app / "function.py").write_text(source, encoding="utf-8")
        for name in ("nil_entry.py", "nil_runtime.py"):
            (app / name).write_bytes((DATA / name).read_bytes())
        output = work / "function.wasm"
        argv = [
            *(sys.executable, __file__, "--build"),
            *python_template.build_argv(app, "nil_entry", output),
        ]
        policy = policy.allowing(read=(str(DATA / "wit"),))
        env = python_template.sandbox_env(work)
        done = run_confined(argv, work, policy, env, self_confining=True)
        if done.fault:
            return faulted(done.fault)
        if done.crash:
            return crashed(done.crash)
        if done.limit:
            return limited(done.limit)
        if done.returncode != 0 or not output.exists():
            return failed(build_error(done.output))
        return ok(output.read_bytes())


def build(argv: list[str], policy: str) -> int:
    """The build process: confined before componentize-py runs the function's code."""
    import componentize_py

    enter(Policy.from_json(policy))
    sys.argv = ["componentize-py", *argv]
    return componentize_py.script()


def build_error(text: str) -> str:
    """The Python part of componentize-py's report, with only the function's own frames."""
    match = re.search(r"AssertionError: (.*?)(?:\n\s*\nCaused by:|\Z)", text, re.S)
    if match is None:
        tail = [line for line in text.strip().splitlines() if line.strip()][-20:]
        return "\n".join(tail) or "the Python build failed"
    report = match.group(1).strip()
    if not report:  # the guest printed nothing: the error's one-line summary
        caused = re.search(r"Caused by:\s*\n\s*(.+)", text)
        report = caused.group(1).strip() if caused else "the Python build failed"
    build_error_line = re.search(r"^(?:\w+\.)?BuildError: (.*)$", report, re.M)
    if build_error_line:
        return build_error_line.group(1).strip()
    return _user_frames(report)


def _user_frames(report: str) -> str:
    kept: list[str] = []
    skipping = False
    for line in report.splitlines():
        if line.startswith('  File "'):
            skipping = _APP_PATH.search(line) is None
            if not skipping:
                kept.append(_APP_PATH.sub('"function.py"', line))
        elif skipping and line.startswith("    "):
            continue
        else:
            skipping = False
            kept.append(line)
    if len(kept) == 2 and kept[0].startswith("Traceback"):
        kept = kept[1:]
    return "\n".join(kept).strip()


if __name__ == "__main__":
    modes = {
        "--build": build,
        "--check": python_template.check,
        "--precompile": python_template.precompile,
    }
    if sys.argv[1:2] and sys.argv[1] in modes:
        sys.exit(modes[sys.argv[1]](sys.argv[2:-1], sys.argv[-1]))
    serve(compile_one)
