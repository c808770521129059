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
from dataclasses import dataclass

from common import python_slot
from runner.artifacts import ArtifactStore

KIND = "template"


@dataclass(frozen=True)
class FromTemplate:
    """A function made from a template: the template's digest and the function's slot
    (found once per load: the search and the digest read the whole ~20 MB component)."""

    digest: str
    slot: bytes


def find(wasm: bytes) -> FromTemplate | None:
    found = python_slot.template_of(wasm)
    if found is None:
        return None
    template, slot = found
    return FromTemplate(python_slot.digest(template), slot)


def on_disk(store: ArtifactStore, made: FromTemplate) -> bool:
    """Whether the template is compiled in `store` already (its function is then made
    from it in a fraction of a second)."""
    return store.peek(made.digest, KIND) is not None


def compiled_from_template(
    store: ArtifactStore,
    made: FromTemplate,
    wasm: bytes,
    compile_serialized: Callable[[bytes], bytes],
) -> bytes | None:
    """The serialized artifact of `wasm` (made from a template) made from its
    template's, or None. The template is compiled the first time only."""

    def compile_template() -> bytes:
        found = python_slot.template_of(wasm)
        assert found is not None
        return compile_serialized(found[0])

    compiled = store.load(made.digest, KIND, compile_template, _same, _same, compile_template)
    return python_slot.fill_compiled(compiled, made.slot)


def _same(data: bytes) -> bytes:
    return data
