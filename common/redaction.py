"""Redacting secret values from what a function leaves behind (SPEC §12).

The stored `logs` and `errorMessage` of an execution never hold a secret's value: every
occurrence of a value of at least MIN_CHARS characters — as printed, and in its escaped
forms (through a JSON encoder, Python's repr or unicode_escape, URL encoding) — becomes
`[redacted]`. A log cut at its cap may end in the first part of a value: `redact_cut`
replaces the last characters before the cut — as many as the longest spelling less one,
whatever they are, so that what is replaced tells nothing about a value (replacing only
a tail that begins a value would let a function's logs test guesses one character at a
time). The runner keeps enough bytes past the cap to see whole values first
(runner/capture.py). Outputs are not redacted: they are the function's answer to its
caller, returned as produced. Pure: used by the runner and by the execution path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

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
        found.add(repr(value)[1:-1])  # a printed dict of variables, f"{token!r}"
        found.add(value.encode("unicode_escape").decode("ascii"))
        found.add(quote(value, safe=""))
        found.add(quote_plus(value, safe=""))
    return sorted(found, key=len, reverse=True)


def redact(text: str | None, values: Iterable[str]) -> str | None:
    """`text` with every form of every value replaced by MARK."""
    spellings = forms(values)
    if not text or not spellings:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in spellings))
    return pattern.sub(MARK, text)


def redact_cut(text: str, values: Iterable[str]) -> str:
    """`text` (already redacted) was cut here: its last characters — as many as the
    longest spelling of a value less one — are replaced, whatever they are."""
    spellings = forms(values)
    if not spellings:
        return text
    hidden = min(len(spellings[0]) - 1, len(text))
    return text[: len(text) - hidden] + MARK


def largest_form_bytes(values: Iterable[str]) -> int:
    """The longest spelling in UTF-8 bytes: how far past a cap a value can reach."""
    return max((len(s.encode()) for s in forms(values)), default=0)
