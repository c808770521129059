"""Functions made from a Python template (common/python_slot.py) run on their template.

A Python function built from the host's template differs from it only in its slot: its
source and its code. So a runner compiles a template once per host and tier (kept in
the artifact store like any artifact) and runs every function made from it on that one
compiled template: each call's input is preceded by the function's source and code
(python_slot.call_prefix), which the pristine template runs on the call's fresh
instance. The template's ~20 MB of machine code is mapped once per runner, not once per
function, and loading a function takes the time of finding its slot. Anything else — a
component without a slot, a template that does not compile — is compiled as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common import python_slot

KIND = "template"


@dataclass(frozen=True)
class FromTemplate:
    """A function made from a template: the template's digest, and what precedes each
    of its calls' input (found once per load: the search and the digest read the whole
    ~20 MB component)."""

    digest: str
    prefix: str
    primes: bool  # the template primes instances made ahead (python_slot.PRIME)


@dataclass(frozen=True)
class Compiled:
    """A template compiled on one tier: one artifact object, shared by its functions."""

    artifact: Any
    tier: str


def find(wasm: bytes) -> FromTemplate | None:
    found = python_slot.template_of(wasm)
    if found is None:
        return None
    template, slot = found
    prefix = python_slot.call_prefix(slot)
    if prefix is None:
        return None
    return FromTemplate(python_slot.digest(template), prefix, python_slot.primes(template))


def template_bytes(wasm: bytes) -> bytes:
    """The template `wasm` was made from (only read when the template must be compiled)."""
    found = python_slot.template_of(wasm)
    assert found is not None
    return found[0]
