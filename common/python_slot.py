"""The slot of the Python template (builder/toolchains/data/python/nil_template.py): a bytes
object in the template's snapshot that the builder overwrites, in a copy, with a
function's source and code. The builder writes slots (builder/toolchains/python_template.py);
the runner recognises them and compiles a template once per host instead of every
function made from it (runner/templates.py): a function differs from its template only
in the slot's bytes, which a compiled artifact keeps verbatim as data.

Layout: MARKER, a 4-byte state (TEMPLATE in the template, FUNCTION in a function), the
source's and the code's lengths (u32, little-endian), then both; the rest is filler.
"""

from __future__ import annotations

import hashlib

MARKER = b"\x01nil-python-slot"  # nil_template.py builds it reversed: found once in memory
TEMPLATE, FUNCTION = b"TMPL", b"FUNC"
SLOT_BYTES = 3 * 1024 * 1024  # after MARKER; nil_template.SLOT_BYTES (a unit test compares)
PRISTINE = MARKER + TEMPLATE + b"\xa5" * (SLOT_BYTES - 4)  # the template's slot, as made
CAPACITY = SLOT_BYTES - 12  # source and code together


def fill(template: bytes, offset: int, source: str, code: bytes) -> bytes:
    """`template` with its slot (at `offset`) holding `source` and `code` (code dropped
    when both do not fit: the function then compiles its source per call)."""
    source_bytes = source.encode()
    if len(source_bytes) > CAPACITY:
        raise ValueError("the source does not fit the slot")
    if len(source_bytes) + len(code) > CAPACITY:
        code = b""
    lengths = len(source_bytes).to_bytes(4, "little") + len(code).to_bytes(4, "little")
    payload = FUNCTION + lengths + source_bytes + code
    start = offset + len(MARKER)
    return template[:start] + payload + template[start + len(payload) :]


def template_of(wasm: bytes) -> tuple[bytes, bytes] | None:
    """(the template, the function's slot) when `wasm` is a function made from a
    template, else None. The template is `wasm` with its slot as made; it must hold
    that slot exactly once, so the slot's place is known."""
    offset = wasm.find(MARKER + FUNCTION)
    if offset < 0 or offset + len(PRISTINE) > len(wasm):
        return None
    slot = wasm[offset : offset + len(PRISTINE)]
    lengths = len(MARKER) + 4
    used = (
        lengths
        + 8
        + sum(int.from_bytes(slot[at : at + 4], "little") for at in (lengths, lengths + 4))
    )
    if used > len(PRISTINE) or slot[used:] != PRISTINE[used:]:
        return None  # the marker's bytes, but not a slot the builder filled
    template = wasm[:offset] + PRISTINE + wasm[offset + len(PRISTINE) :]
    if template.count(PRISTINE) != 1:
        return None
    return template, slot


def fill_compiled(compiled: bytes, slot: bytes) -> bytes | None:
    """A compiled template with its slot's bytes replaced by a function's: the compiled
    function, when the artifact holds the slot verbatim exactly once (else None)."""
    offset = compiled.find(PRISTINE)
    if offset < 0 or compiled.find(PRISTINE, offset + 1) >= 0:
        return None
    return compiled[:offset] + slot + compiled[offset + len(slot) :]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
