"""The runnable examples of docs/writing-functions.md: each is a fenced block preceded by
`<!-- example {"language": …, "input": …, "output": …} -->`. The tests run every one;
the benchmark times them. What a language's sources look like (file name, comment syntax)
is declared by its builder toolchain."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-functions.md"
_EXAMPLE = re.compile(r"<!-- example (\{.*?\}) -->\n```\w+\n(.*?)```", re.S)


@functools.cache
def comment_syntax() -> dict[str, str]:
    """What starts a line comment, per language (the toolchains declare it)."""
    from builder.toolchains import all_toolchains

    return {language: t.comment for language, t in all_toolchains().items()}


def examples() -> list[dict]:
    found = []
    for number, match in enumerate(_EXAMPLE.finditer(GUIDE.read_text()), start=1):
        spec = json.loads(match.group(1))
        found.append({**spec, "source": match.group(2), "name": f"guide-{number}"})
    return found


def with_comment(language: str, source: str, text: str) -> str:
    """The same program with a trailing comment: a distinct source, so a distinct build."""
    return f"{source}\n{comment_syntax()[language]} {text}\n"
