"""Functions made from a Python template (common/python_slot.py) compile as their template.

A Python function built from the host's template differs from it only in the slot's
bytes, which a compiled artifact keeps verbatim as data. So a runner compiles the
template once per host and tier (kept in the artifact store like any artifact), and
a function's artifact is the compiled template with the function's slot written in:
~0.3 s instead of a compile of seconds (Winch) or ~7 s (Cranelift) per function.
Anything else — a component without a slot, an artifact that does not hold the slot
exactly once — is compiled as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from common import python_slot
from runner.artifacts import ArtifactStore

KIND = "template"


def compiled_from_template(
    store: ArtifactStore, wasm: bytes, compile_serialized: Callable[[bytes], bytes]
) -> bytes | None:
    """The serialized artifact of `wasm` made from its template's, or None."""
    found = python_slot.template_of(wasm)
    if found is None:
        return None
    template, slot = found
    compiled = store.load(
        python_slot.digest(template),
        KIND,
        lambda: compile_serialized(template),
        _same,
        _same,
        lambda: compile_serialized(template),
    )
    return python_slot.fill_compiled(compiled, slot)


def template_on_disk(store: ArtifactStore, wasm: bytes) -> bool:
    """Whether `wasm`'s template is compiled in `store` already (its function is then
    made from it in a fraction of a second)."""
    found = python_slot.template_of(wasm)
    return found is not None and store.peek(python_slot.digest(found[0]), KIND) is not None


def _same(data: bytes) -> bytes:
    return data
