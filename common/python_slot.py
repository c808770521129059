"""The slot of the Python template (builder/toolchains/data/python/nil_template.py): a bytes
object in the template's snapshot that the builder overwrites, in a copy, with a
function's source and code. The builder writes slots (builder/toolchains/python_template.py);
the runner recognises them and runs every function made from a template on that one
compiled template, handing it the slot's source and code with each call's input
(runner/templates.py).

Layout: MARKER, a 4-byte state (TEMPLATE in the template, FUNCTION in a function), the
source's and the code's lengths (u32, little-endian), then both; the rest is filler.
"""

from __future__ import annotations

import base64
import hashlib
import json

MARKER = b"\x01nil-python-slot"  # nil_template.py builds it reversed: found once in memory
TEMPLATE, FUNCTION = b"TMPL", b"FUNC"
SLOT_BYTES = 3 * 1024 * 1024  # after MARKER; nil_template.SLOT_BYTES (a unit test compares)
PRISTINE = MARKER + TEMPLATE + b"\xa5" * (SLOT_BYTES - 4)  # the template's slot, as made
CAPACITY = SLOT_BYTES - 12  # source and code together
HEADER = len(MARKER) + 12  # MARKER, the state, the two lengths
CALL = "\0nil-call\0"  # a call of the pristine template: nil_template.CALL (a unit test compares)
# An instance made ahead of a call is primed first (answered PRIMED); the call's
# environment is then handed over in a call of its own: ENV_CALL, the environment as
# JSON (answered PRIMED). nil_template.PRIME, PRIMED and ENV_CALL (a unit test compares).
PRIME = "\0nil-prime\0"
PRIMED = "primed"
ENV_CALL = "\0nil-env\0"


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
    used = HEADER + sum(_lengths(slot))
    if used > len(PRISTINE) or slot[used:] != PRISTINE[used:]:
        return None  # the marker's bytes, but not a slot the builder filled
    template = wasm[:offset] + PRISTINE + wasm[offset + len(PRISTINE) :]
    if template.count(PRISTINE) != 1:
        return None
    return template, slot


def _lengths(slot: bytes) -> tuple[int, int]:
    """The source's and the code's lengths in a slot's header."""
    at = len(MARKER) + 4
    source = int.from_bytes(slot[at : at + 4], "little")
    code = int.from_bytes(slot[at + 4 : HEADER], "little")
    return source, code


def contents(slot: bytes) -> tuple[str, bytes]:
    """The source and the code a filled slot holds."""
    source_len, code_len = _lengths(slot)
    body = slot[HEADER:]
    return body[:source_len].decode(), body[source_len : source_len + code_len]


def call_prefix(slot: bytes) -> str | None:
    """What precedes a call's input when a runner calls the pristine template for the
    function whose slot this is (runner/templates.py): CALL, the code in base64, NUL,
    the source, NUL. None when the source holds a NUL (it could not be told apart)."""
    source, code = contents(slot)
    if "\0" in source:
        return None
    return f"{CALL}{base64.b64encode(code).decode('ascii')}\0{source}\0"


def primes(template: bytes) -> bool:
    """Whether the template answers PRIME (templates made before it existed do not): its
    text is in the snapshot only if the template's code names it. A slot cannot hold it,
    the template's slot is pristine."""
    return PRIME.encode() in template


def environment_call(env: dict[str, str]) -> str:
    """What hands a primed instance the environment of the call that follows."""
    return f"{ENV_CALL}{json.dumps(env)}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
