"""JSON values the platform can carry: what JSON itself allows and PostgreSQL's jsonb
stores. Python's json reads more than that — NaN, Infinity, numbers that overflow a
double (1e400 becomes inf), NUL characters and lone UTF-16 surrogates as escapes — and
recurses without bound until it raises RecursionError. One pure function checks a
value, one parses text and checks it; the gateway (input) and the runner (output) both
use them, so the same value is refused with the same words on either side."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 100  # nesting of arrays and objects; the outermost value is level 1

NOT_JSON = "is not valid JSON"
NON_FINITE = "contains a non-finite number (NaN, Infinity or a number too large for a double)"
TOO_DEEP = f"is nested deeper than {MAX_DEPTH} levels"


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
    return None


def parse(text: str | bytes) -> Any:
    """The value `text` holds. Raises InvalidJson when it is not JSON, or nests so deep
    that the parser gives up (far deeper than MAX_DEPTH); `unstorable_reason` then says
    whether the value can be carried."""
    try:
        return json.loads(text)
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
