"""JSON values the platform can carry: what JSON itself allows and PostgreSQL's jsonb
stores. Python's json reads more than that — NaN, Infinity, numbers that overflow a
double (1e400 becomes inf), numbers PostgreSQL's numeric cannot hold although a double
can (-0e-99999 is a double's -0.0 but 99999 decimal places), NUL characters and lone
UTF-16 surrogates as escapes — and recurses without bound until it raises
RecursionError. One pure function checks a value, one parses text and checks it; the
gateway (input) and the runner (output) both use them, so the same value is refused with
the same words on either side."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 100  # nesting of arrays and objects; the outermost value is level 1

NOT_JSON = "is not valid JSON"
NON_FINITE = "contains a non-finite number (NaN, Infinity or a number too large for a double)"
TOO_DEEP = f"is nested deeper than {MAX_DEPTH} levels"
# PostgreSQL's numeric (what jsonb stores a number as): at most 16383 digits after the
# decimal point, and an exponent of at most 2**30 - 1 (numeric_in's INT32_MAX / 2)
NUMERIC_SCALE_MAX = 16383
NUMERIC_EXPONENT_MAX = (1 << 30) - 1
OUT_OF_RANGE = (
    f"contains a number outside PostgreSQL's numeric range (more than {NUMERIC_SCALE_MAX}"
    f" digits after the decimal point, or an exponent over {NUMERIC_EXPONENT_MAX})"
)
_NUMBER = re.compile(r"-?\d+(?:\.(\d+))?(?:[eE]([-+]?\d+))?")


class _OutOfRange(float):
    """A number json read as a double that numeric cannot store: the value stays a float
    (so parsing does not fail) and `unstorable_reason` refuses it."""


class InvalidJson(ValueError):
    """The text cannot be read as JSON; the message is NOT_JSON or TOO_DEEP."""


def unstorable_reason(value: Any) -> str | None:
    """None when `value` can be stored as jsonb and sent back as JSON, else why not."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return TOO_DEEP
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "contains NUL characters"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains lone UTF-16 surrogates"
        elif isinstance(item, float) and not math.isfinite(item):
            return NON_FINITE
        elif isinstance(item, _OutOfRange):
            return OUT_OF_RANGE
    return None


def _number(literal: str) -> float:
    """json's parse_float: the double, marked when numeric cannot store the literal."""
    value = float(literal)
    match = _NUMBER.fullmatch(literal)
    if match is not None and math.isfinite(value):
        fraction, exponent = match.group(1) or "", int(match.group(2) or 0)
        if exponent > NUMERIC_EXPONENT_MAX or len(fraction) - exponent > NUMERIC_SCALE_MAX:
            return _OutOfRange(value)
    return value


def parse(text: str | bytes) -> Any:
    """The value `text` holds. Raises InvalidJson when it is not JSON, or nests so deep
    that the parser gives up (far deeper than MAX_DEPTH); `unstorable_reason` then says
    whether the value can be carried."""
    try:
        return json.loads(text, parse_float=_number)
    except RecursionError:
        raise InvalidJson(TOO_DEEP) from None
    except ValueError:
        raise InvalidJson(NOT_JSON) from None


def check_text(text: str | bytes) -> str | None:
    """None when `text` is JSON the platform can carry, else why not: NOT_JSON, TOO_DEEP,
    NON_FINITE, or what jsonb cannot store (the runner's check of an output)."""
    try:
        value = parse(text)
    except InvalidJson as exc:
        return str(exc)
    return unstorable_reason(value)


def compact(value: Any) -> str:
    """`value` as the platform stores and sends JSON: no spaces, non-ASCII as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
