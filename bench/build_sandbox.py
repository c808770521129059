"""What the build sandbox costs per build: p50 of N AssemblyScript and N C builds with
the sandbox and without it, plus the alternative of a fresh confined Node per build.

    .venv/bin/python -m bench.build_sandbox [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from builder.settings import Settings
from builder.toolchains import all_toolchains

LABELS = (("without sandbox", "off"), ("with sandbox", "required"))
FRESH = "assemblyscript, a fresh confined Node per build"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
C_SOURCE = (
    '#include <stdio.h>\n#include "nil.h"\n'
    "NIL_HANDLE uint64_t handle(const char *in, uint32_t len) {{\n"
    '    printf("{n}\\n");\n    return nil_output(in, len);\n}}\n'
)


def measure(count: int) -> dict[str, float]:
    """Builds alternate between the two setups, so load from elsewhere hits both alike."""
    as_source = (FIXTURES / "add.ts").read_text()
    setups = {label: all_toolchains(Settings.from_env({"sandbox": mode})) for label, mode in LABELS}
    samples: dict[str, list[float]] = {}
    try:
        for chains in setups.values():
            for language in ("assemblyscript", "c"):
                chains[language].warm_up(300)
        for n in range(count):
            for label, chains in setups.items():
                sources = {"assemblyscript": f"{as_source}\n// {n}\n", "c": C_SOURCE.format(n=n)}
                for language, source in sources.items():
                    started = time.perf_counter()
                    output = chains[language].compile(source, timeout=60)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert output.ok, output.error
                    samples.setdefault(f"{language} {label}", []).append(elapsed)
            started = time.perf_counter()
            fresh = all_toolchains(Settings.from_env({"sandbox": "required"}))
            try:
                output = fresh["assemblyscript"].compile(f"{as_source}\n// {n}\n", timeout=60)
            finally:
                for chain in fresh.values():
                    chain.close()
            assert output.ok, output.error
            samples.setdefault(FRESH, []).append((time.perf_counter() - started) * 1000)
    finally:
        for chains in setups.values():
            for chain in chains.values():
                chain.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name, p50 in measure(count).items():
        print(f"{name:50s} p50 {p50:8.1f} ms  (n={count})")


if __name__ == "__main__":
    main()
