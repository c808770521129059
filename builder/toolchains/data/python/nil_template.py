"""The shared Python template: one component for every Python function whose imports it
already holds, so a build needs neither componentize-py nor a snapshot of its own.

componentize-py runs this module once per builder host and snapshots the interpreter
with the standard library modules below imported, and a slot: a bytes object of
SLOT_BYTES the builder overwrites in a copy of the component with the function's
source and its compiled code (builder/toolchains/python_template.py). A function's
module is executed from the slot on the call's fresh instance, before its `handle`. A
runner runs every function of a template on the pristine template, called with CALL,
the function's code and source, then the input: its compiled code is mapped once.

An instance a runner makes ahead of a call is primed first (PRIME): it runs a constant
function through the path every call takes, so the pages of memory that path writes are
copied from the snapshot before the call, not during it (a fresh instance's first call
spends most of its time in those page faults). The priming is the instance's first call,
the one at which componentize-py reads the environment from the host and reseeds
`random`; so the runner hands the call's environment over in a call of its own
(ENV_CALL), before the function's call and outside its fuel.

The unpatched template is the builder's checker: `handle(source)` parses the source,
checks that every module it names is in the snapshot, runs its module once and
answers the marshalled code with the module's run time. Any failure sends the build
to componentize-py (nil_entry.py), which reports errors as before.
"""

import ast
import binascii
import importlib
import json
import linecache
import marshal
import os
import sys
import time
import types

import nil_runtime  # first: it makes waits cooperative before other modules load
import wit_world
from componentize_py_types import Err
from nil_runtime import SOURCE_NAME

nil_runtime.install()

# What functions import most; a function naming any other module is snapshotted alone.
STDLIB = (
    *("abc", "array", "base64", "binascii", "bisect", "calendar", "cmath", "collections"),
    *("collections.abc", "contextlib", "copy", "csv", "dataclasses", "datetime"),
    *("decimal", "difflib", "enum", "fractions", "functools", "hashlib", "heapq"),
    *("hmac", "html", "io", "itertools", "json", "keyword", "math", "numbers"),
    *("operator", "os", "pprint", "random", "re", "secrets", "statistics", "string"),
    *("struct", "sys", "textwrap", "time", "traceback", "types", "typing", "unicodedata"),
    *("urllib", "urllib.parse", "uuid", "zlib"),
)
for _name in STDLIB:
    importlib.import_module(_name)
nil_runtime.preload_lazy_stdlib()

# The slot: MARKER, a 4-byte state, the source's and the code's lengths (little-endian
# u32), then both. Non-zero filler keeps it one run of a data segment in the snapshot.
MARKER = bytes(reversed(b"tols-nohtyp-lin\x01"))  # not a literal: found once in memory
TEMPLATE, FUNCTION = b"TMPL", b"FUNC"
SLOT_BYTES = 3 * 1024 * 1024
SLOT = bytearray(b"\xa5") * (len(MARKER) + SLOT_BYTES)  # one allocation: one copy
SLOT[: len(MARKER) + 4] = MARKER + TEMPLATE
HEADER = len(MARKER) + 12
CALL = "\0nil-call\0"  # a runner's call of the pristine template: CALL code NUL source NUL input
ENV_CALL = "\0nil-env\0"  # a primed instance's environment: ENV_CALL environment-JSON
PRIME = "\0nil-prime\0"  # a runner priming an instance it made ahead of a call
PRIMED = "primed"  # the answer to PRIME and to ENV_CALL
PATH = SOURCE_NAME  # the function's code objects name this file
MAX_MODULE_SECONDS = 0.02  # slower module code is worth its own snapshot

nil_runtime.buffer_output()


def _slot():
    state = SLOT[len(MARKER) : len(MARKER) + 4]
    if state != FUNCTION:
        return None, None
    source_len = int.from_bytes(SLOT[HEADER - 8 : HEADER - 4], "little")
    code_len = int.from_bytes(SLOT[HEADER - 4 : HEADER], "little")
    view = memoryview(SLOT)
    source = str(view[HEADER : HEADER + source_len], "utf-8")
    code = view[HEADER + source_len : HEADER + source_len + code_len]
    return source, code


def _run_module(code, _environ=os.environ):
    """The function's module, run as a module of its own. The environment is hidden
    while it runs, as it is from a module snapshotted at build time: configuration and
    secrets are read in `handle`, the same whichever way the function was built."""
    module = types.ModuleType("function")
    module.__file__ = PATH
    sys.modules["function"] = module
    environment = dict(_environ)
    _environ.clear()
    try:
        exec(code, module.__dict__)
    finally:
        _environ.clear()
        _environ.update(environment)
    return module


def _missing_modules(tree):
    for lineno, name in nil_runtime.imported_names(tree):
        if name in sys.modules:
            continue
        if lineno is None:  # `from pkg import name`: a name of pkg, or a submodule
            package, _, attribute = name.rpartition(".")
            if hasattr(sys.modules.get(package), attribute):
                continue
        yield name


def _check(
    source,
    *,
    _dumps=marshal.dumps,
    _b64=binascii.b2a_base64,
    _clock=time.perf_counter,
    _callable=callable,
    _getattr=getattr,
    _limit=MAX_MODULE_SECONDS,
    _refusal=Err,
):
    """The unpatched template's answer: the function's code, or why it needs its own
    snapshot (the builder then runs componentize-py, which reports real errors).

    The answer is made before the module runs, and what decides after it are locals
    bound here: module code that patches `marshal`, `time`, builtins or this module
    cannot change the code the function is built with, nor how fast it seems."""
    try:
        tree = ast.parse(source, PATH)
        missing = sorted(set(_missing_modules(tree)))
        if missing:
            raise Err("not in the template: " + ", ".join(missing))
        code = compile(tree, PATH, "exec")
        answer = "code:" + _b64(_dumps(code), newline=False).decode("ascii")
    except Err:
        raise
    except BaseException as error:
        raise Err(f"{type(error).__name__}: {error}") from None
    try:
        started = _clock()
        module = _run_module(code)
        seconds = _clock() - started
        runnable = _callable(_getattr(module, "handle", None))
    except BaseException:
        raise _refusal("the module failed") from None
    if not runnable:
        raise _refusal("no handle")
    if seconds > _limit:
        raise _refusal("slow module code")
    return answer


def _call(input):
    """(source, code, input) of a runner's call of the pristine template: one compiled
    template serves every function made from it (runner/templates.py)."""
    code, source, input = input[len(CALL) :].split("\0", 2)
    return source, binascii.a2b_base64(code), input


def _environment(input, _environ=os.environ, _loads=json.loads):
    """A primed instance's environment, for the call that follows (the host's was read
    at the priming)."""
    _environ.clear()
    _environ.update(_loads(input[len(ENV_CALL) :]))
    return PRIMED


_PRIMER = "def handle(event):\n    return event\n"
_PRIMER_CODE = binascii.b2a_base64(marshal.dumps(compile(_PRIMER, PATH, "exec")), newline=False)
_PRIMER_CALL = f"{CALL}{_PRIMER_CODE.decode()}\0{_PRIMER}\0" + '{"primer": [1, "x", null, {}]}'


def _prime():
    """A constant function's call, through the path of every call (see the docstring);
    nothing of it is left for the call that follows but the pages it wrote."""
    _answer(*_call(_PRIMER_CALL))
    sys.modules.pop("function", None)
    return PRIMED


def _answer(source, code, input):
    try:
        function = _run_module(marshal.loads(code) if code else compile(source, PATH, "exec"))
        return json.dumps(function.handle(json.loads(input)), allow_nan=False)
    except BaseException as error:
        # Source lines for the traceback; mtime None: linecache never reads a file.
        linecache.cache[PATH] = (len(source), None, nil_runtime.source_lines(source), PATH)
        raise Err(nil_runtime.describe(error, PATH)) from None
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class WitWorld(wit_world.WitWorld):
    def handle(self, input: str) -> str:
        source, code = _slot()
        if source is None:
            if input == PRIME:
                return _prime()
            if input.startswith(ENV_CALL):
                return _environment(input)
            if not input.startswith(CALL):
                return _check(input)
            source, code, input = _call(input)
        return _answer(source, code, input)
