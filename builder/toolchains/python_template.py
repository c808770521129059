"""Python builds in under a second: one componentize-py template per host, a copy per function.

componentize-py takes ~7-10 s per build, most of it Cranelift compiling the interpreter
it snapshots. The template (data/python/nil_template.py) is built with it once per
host, with the standard library modules functions import most, and kept here with
its Winch-compiled form. A function's build is then:

1. the check: the compiled template, in a confined process (`--check`), parses the
   source, checks that every module it names is in the snapshot, runs the module
   once under fuel and answers its marshalled code — or why the function needs a
   snapshot of its own (another module, slow module code, any error);
2. the copy: the template's bytes with its slot (a bytes object in the snapshot's
   memory, one run of one data segment) overwritten with the source and the code.

Anything the template cannot serve goes to componentize-py as before (the caller's
slow path), which reports the source's errors with their usual text. A function built
here runs its module code on each call's fresh instance (the check keeps that under
MAX_MODULE_SECONDS in the template); one built by componentize-py runs it at build time.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import stat
import sys
import time
from dataclasses import replace
from pathlib import Path

import common.wasm as wasm_settings
from builder.sandbox.confine import Policy, enter
from builder.toolchains.compile_job import job_directory, run_confined
from builder.toolchains.worker_protocol import warn
from common import python_slot

DATA = Path(__file__).resolve().parent / "data" / "python"
WORLD = "nil-function"
TEMPLATE_FILES = ("nil_template.py", "nil_runtime.py")
CHECK_FUEL = 2_000_000_000  # a module's code runs in the check; ~1-3 s of Python at most
CHECK_MEMORY_BYTES = 512 << 20
ARTIFACT_FILE_BYTES = 256 << 20  # the compiled template (~60 MB) exceeds a build's file cap
CHECK_SECONDS = 10  # the check's wall clock: a module that sleeps is left to componentize-py
RETRY_SECONDS = 60.0  # a template that could not be used is tried again after this


def build_argv(app: Path, entry: str, output: Path) -> list[str]:
    """componentize-py's arguments for the module `entry` of `app` (python_worker.py)."""
    return [
        *("-q", "-d", str(DATA / "wit"), "-w", WORLD, "componentize"),
        *("-p", str(app), entry, "-o", str(output)),
    ]


def sandbox_env(work: Path) -> dict[str, str]:
    """An empty virtual environment: nothing of the builder's site-packages is bundled."""
    (work / "env" / "lib" / "site-packages").mkdir(parents=True, exist_ok=True)
    return {"VIRTUAL_ENV": str(work / "env"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def template_key() -> str:
    """Names one template: its modules' text, the WIT world, the engine settings and
    componentize-py's and wasmtime's versions (a compiled template is only valid for
    the engine that compiled it)."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in TEMPLATE_FILES:
        digest.update((DATA / name).read_bytes())
    for module in (__file__, wasm_settings.__file__, python_slot.__file__):  # engine, slot
        digest.update(Path(module).read_bytes())
    for path in sorted((DATA / "wit").iterdir()):
        digest.update(path.read_bytes())
    digest.update(f"{version('componentize-py')}|{version('wasmtime')}".encode())
    return digest.hexdigest()[:24]


class PythonTemplate:
    """The template of this host in `directory` (made once, under a lock; shared by the
    builder's compiler processes and every builder of the host that uses the folder).

    A manifest names the digests of both files; they are checked when the template is
    loaded, and the compiled one again by every check, which reads it once, verified
    (a folder or file swapped while the builder runs is never run). A template that
    cannot be used is reported (`compiler.warning`) and tried again a minute later;
    meanwhile builds take componentize-py's path."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory or ".")
        self.home = self.directory / template_key()
        self.wasm_path = self.home / "template.wasm"
        self.compiled_path = self.home / "template.cwasm"
        self.manifest_path = self.home / "template.json"
        self._template: bytes | None = None
        self._offset = -1
        self._compiled_digest = ""
        self._retry_at = 0.0
        # Why builds cannot use it (they then take componentize-py's path).
        self.problem = None if directory else "no template folder (NIL_PYTHON_TEMPLATE_DIR)"

    def build(self, source: str, policy: Policy) -> bytes | None:
        """The function's component, or None when the template cannot serve it."""
        if len(source.encode()) > python_slot.CAPACITY or not self._ready(policy):
            return None
        assert self._template is not None
        with job_directory("python") as work:
            (work / "function.py").write_text(source, encoding="utf-8")
            argv = [
                *(sys.executable, _WORKER, "--check", str(self.compiled_path)),
                *(self._compiled_digest, "function.py"),
            ]
            done = run_confined(argv, work, policy, {"LANG": "C.UTF-8"}, self_confining=True)
            code = _answered_code(work / "check.json")
            if done.returncode != 0 or code is None:
                if done.returncode != 0:
                    self._unusable(f"its check ended with {done.returncode}: {done.output[-500:]}")
                return None
        return python_slot.fill(self._template, self._offset, source, code)

    def _ready(self, policy: Policy) -> bool:
        if self._template is not None:
            try:  # the folder again: it may have been swapped since it was loaded
                _private_folder(self.directory)
                _private_folder(self.home)
            except OSError as exc:
                self._unusable(f"the template folder: {exc}")
            return self._template is not None
        if self.problem is not None and time.monotonic() < self._retry_at:
            return False
        try:
            problem = self._load(policy)
        except OSError as exc:
            problem = f"the template folder: {exc}"
        if problem is not None:
            self._unusable(problem)
        return self._template is not None

    def _unusable(self, problem: str) -> None:
        self._template, self.problem = None, problem
        self._retry_at = time.monotonic() + RETRY_SECONDS
        warn(f"the Python template is not used, builds take componentize-py: {problem}")

    def _load(self, policy: Policy) -> str | None:
        _private_folder(self.directory)
        _private_folder(self.home)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder of the host makes it
            made = self._verified()
            if made is None:
                problem = self._make(policy)
                if problem is not None:
                    return problem
                made = self._verified()
                if made is None:
                    return "the template made now does not match its manifest"
        template, self._compiled_digest = made
        offset = template.find(python_slot.PRISTINE)
        if offset < 0 or template.find(python_slot.PRISTINE, offset + 1) >= 0:
            return "its slot is not one run of one data segment"
        self._template, self._offset, self.problem = template, offset, None
        return None

    def _verified(self) -> tuple[bytes, str] | None:
        """(the template, the compiled template's digest) when both match the manifest."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
            template = self.wasm_path.read_bytes()
            compiled = hashlib.sha256(self.compiled_path.read_bytes()).hexdigest()
        except (OSError, ValueError):
            return None
        if manifest != {"wasm": hashlib.sha256(template).hexdigest(), "compiled": compiled}:
            return None
        return template, compiled

    def _make(self, policy: Policy) -> str | None:
        """componentize-py on the template (confined like a build), then its compile."""
        with job_directory("python-template") as work:
            app = work / "app"
            app.mkdir()
            for name in TEMPLATE_FILES:
                (app / name).write_bytes((DATA / name).read_bytes())
            output = work / "template.wasm"
            argv = [sys.executable, _WORKER, "--build", *build_argv(app, "nil_template", output)]
            build_policy = policy.allowing(read=(str(DATA / "wit"),))
            done = run_confined(argv, work, build_policy, sandbox_env(work), self_confining=True)
            if done.returncode != 0 or not output.exists():
                return f"componentize-py failed: {done.output[-2000:]}"
            wasm = output.read_bytes()
            if wasm.count(python_slot.PRISTINE) != 1:
                return "its slot is not one run of one data segment"
            compiled = work / "template.cwasm"
            argv = [sys.executable, _WORKER, "--precompile", output.name, compiled.name]
            compile_policy = replace(policy, file_bytes=ARTIFACT_FILE_BYTES)
            env = {"LANG": "C.UTF-8"}
            done = run_confined(argv, work, compile_policy, env, self_confining=True)
            if done.returncode != 0 or not compiled.exists():
                return f"compiling the template failed: {done.output[-2000:]}"
            manifest = work / "template.json"
            digests = {
                "wasm": hashlib.sha256(wasm).hexdigest(),
                "compiled": hashlib.sha256(compiled.read_bytes()).hexdigest(),
            }
            manifest.write_text(json.dumps(digests))
            for path, final in (
                (output, self.wasm_path),
                (compiled, self.compiled_path),
                (manifest, self.manifest_path),  # last: it says "made"
            ):
                staged = final.with_suffix(".part")
                staged.write_bytes(path.read_bytes())
                staged.chmod(0o644)
                os.replace(staged, final)
        return None


def _answered_code(path: Path) -> bytes | None:
    """The marshalled code of a check's answer; None for a refusal or anything else."""
    try:
        answer = json.loads(path.read_text())
        return base64.b64decode(answer["code"], validate=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _private_folder(path: Path) -> None:
    """Made if missing; refused unless this uid owns it and nobody else may write it
    (a planted template would run as every Python function of the host)."""
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise OSError(f"{path} must be a folder of uid {os.geteuid()} that only it may write")


def template_engine():
    """The engine the template is compiled for and checked on: Winch (~2 s for the
    template; the check runs one module once), fuel to bound the module's code."""
    import wasmtime

    config = wasm_settings.engine_config(component_model=True)
    config.consume_fuel = True
    wasm_settings.use_baseline_compiler(config)
    return wasmtime.Engine(config)


def precompile(argv: list[str], policy: str) -> int:
    """`python_worker.py --precompile TEMPLATE OUTPUT POLICY`: the compiled template."""
    from wasmtime import component

    engine = template_engine()
    enter(Policy.from_json(policy))
    wasm_name, output_name = argv
    with open(wasm_name, "rb") as file:
        compiled = component.Component(engine, file.read())
    with open(output_name, "wb") as file:
        file.write(compiled.serialize())
    return 0


def check(argv: list[str], policy: str) -> int:
    """`python_worker.py --check COMPILED DIGEST SOURCE POLICY`: the template's answer
    for the source, written to check.json ({"code"} or {"problem"}). The compiled
    template is read and verified against DIGEST before the process confines itself;
    the source's module runs after, under fuel and CHECK_SECONDS of wall-clock time
    (a module that sleeps burns no fuel: the alarm ends the process)."""
    import signal

    import wasmtime
    from wasmtime import component

    engine = template_engine()
    compiled_name, digest, source_name = argv
    fd = os.open(compiled_name, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        compiled = file.read()
    if hashlib.sha256(compiled).hexdigest() != digest:
        print("the compiled template does not match its digest", file=sys.stderr)
        return 3
    template = component.Component.deserialize(engine, compiled)
    del compiled
    linker = component.Linker(engine)
    linker.add_wasip2()
    enter(Policy.from_json(policy))
    with open(source_name, encoding="utf-8") as file:
        source = file.read()
    if "\0" in source:  # not Python; and the template's call of a runner starts with one
        with open("check.json", "w") as file:
            json.dump({"problem": "the source holds a NUL character"}, file)
        return 0
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=CHECK_MEMORY_BYTES)
    store.set_fuel(CHECK_FUEL)
    store.set_wasi(wasmtime.WasiConfig())  # no output, no environment, no files
    signal.alarm(CHECK_SECONDS)
    try:
        instance = linker.instantiate(store, template)
        result = instance.get_func(store, "handle")(store, source)
        payload = str(result.payload)
        ok = result.tag == "ok" and payload.startswith("code:")
        answer = {"code": payload[5:]} if ok else {"problem": payload[:500]}
    except wasmtime.WasmtimeError as exc:
        answer = {"problem": str(exc)[-500:]}
    with open("check.json", "w") as file:
        json.dump(answer, file)
    return 0


_WORKER = str(Path(__file__).resolve().parent / "python_worker.py")
