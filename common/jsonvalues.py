"""What PostgreSQL's jsonb cannot store: NUL characters and lone UTF-16 surrogates.
Python's json accepts both (as \\u0000 and unpaired \\ud800 escapes)."""

from __future__ import annotations

from typing import Any


def unstorable_reason(value: Any) -> str | None:
    """None when `value` can be stored as jsonb, else why not."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "contains NUL characters"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains lone UTF-16 surrogates"
    return None
