"""Redacting secret values from what a function leaves behind (SPEC §12).

The stored `logs` and `errorMessage` of an execution never hold a secret's value: every
occurrence of a value of at least MIN_CHARS characters — as printed, and in its
JSON-escaped forms (a value with quotes, backslashes, control or non-ASCII characters
printed through a JSON encoder) — becomes `[redacted]`. A log cut at its cap may end in
the first part of a value: `redact_cut` also replaces any tail of the kept text that
begins a value (the runner keeps enough bytes past the cap to see whole values first,
runner/capture.py). Outputs are not redacted: they are the function's answer to its
caller, returned as produced. Pure: used by the runner and by the execution path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

MARK = "[redacted]"
MIN_CHARS = 4  # shorter values ("1", "true") would redact ordinary text


def forms(values: Iterable[str]) -> list[str]:
    """Every spelling of `values` to look for, longest first."""
    found: set[str] = set()
    for value in values:
        if len(value) < MIN_CHARS:
            continue
        found.add(value)
        found.add(json.dumps(value)[1:-1])
        found.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return sorted(found, key=len, reverse=True)


def redact(text: str | None, values: Iterable[str]) -> str | None:
    """`text` with every form of every value replaced by MARK."""
    spellings = forms(values)
    if not text or not spellings:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in spellings))
    return pattern.sub(MARK, text)


def redact_cut(text: str, values: Iterable[str]) -> str:
    """`text` (already redacted) was cut here: a tail that starts a value is redacted."""
    longest = 0
    for spelling in forms(values):
        for n in range(min(len(spelling) - 1, len(text)), longest, -1):
            if text.endswith(spelling[:n]):
                longest = n
                break
    return text[:-longest] + MARK if longest else text


def largest_form_bytes(values: Iterable[str]) -> int:
    """The longest spelling in UTF-8 bytes: how far past a cap a value can reach."""
    return max((len(s.encode()) for s in forms(values)), default=0)
