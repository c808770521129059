"""Compiled artifacts on disk, shared by the runners of one host, so an artifact is
compiled once per host and not once per runner process.

A Python function is a ~20 MB component that takes seconds to compile and tens of
milliseconds to deserialize. `Module.deserialize` loads machine code, so only files a
runner wrote are ever read: the directory belongs to the runners alone (not the
gateway, not the builder), every file carries the digest of its bytes (a torn or
altered file is recompiled, not loaded), and its name carries the wasmtime version
and the engine's settings (an upgrade never loads an old artifact). The digest follows
the artifact, so a verified file can be mapped as it is (`deserialize_file`): its pages
are the page cache's, shared by the host's runners and only resident where touched,
instead of a private copy per runner (a Python component: ~50 MB each). An flock per
artifact makes a second runner wait for the first one's compile instead of repeating it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
_DIGEST = hashlib.sha256().digest_size


class ArtifactStore:
    def __init__(
        self, directory: str | None, engine_settings: str, max_bytes: int = 4 << 30
    ) -> None:
        self.directory = Path(directory) if directory else None
        self.max_bytes = max_bytes
        fingerprint = f"wasmtime-{version('wasmtime')}|{engine_settings}|digest-last"
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def load(
        self,
        sha256: str,
        kind: str,
        compile_: Callable[[], Any],
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
        compile_serialized: Callable[[], bytes] | None = None,
        deserialize_file: Callable[[str], Any] | None = None,
    ) -> Any:
        """The artifact for `sha256`: from disk when a runner compiled it before, else
        compiled now (and written for the next runner). `compile_serialized`, when
        given, compiles elsewhere (a child process) and returns the serialized bytes;
        `deserialize_file`, when given, maps a verified file instead of copying it."""
        if self.directory is None:
            return compile_()
        path = self.directory / f"{sha256}.{kind}.{self.fingerprint}"
        with _locked(path.with_suffix(path.suffix + ".lock")):
            data = _read_verified(path)
            if data is not None:
                try:
                    artifact = (
                        deserialize_file(str(path)) if deserialize_file else deserialize(data)
                    )
                    os.utime(path)  # recently used: pruned last
                    return artifact
                except Exception as exc:  # a stale or foreign artifact: compile instead
                    logger.warning(
                        "artifact.unusable", extra={"path": path.name, "error": str(exc)}
                    )
            if compile_serialized is not None:
                data = compile_serialized()
                artifact = deserialize(data)
            else:
                artifact = compile_()
                data = serialize(artifact)
            try:
                _write_verified(path, data)
                self._prune()
            except OSError as exc:  # a full disk costs speed, not correctness
                logger.warning("artifact.unwritable", extra={"path": path.name, "error": str(exc)})
                return artifact
            if deserialize_file is not None:  # the mapped file, not the private copy
                del data
                artifact = deserialize_file(str(path))
            return artifact

    def peek(self, sha256: str, kind: str) -> str | None:
        """The path of a verified artifact when one is on disk, without waiting for a
        compile in progress (files appear whole: written aside, then renamed)."""
        if self.directory is None:
            return None
        path = self.directory / f"{sha256}.{kind}.{self.fingerprint}"
        if _read_verified(path) is None:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return str(path)

    def _prune(self) -> None:
        """Remove the least recently used artifacts while the directory is over budget."""
        assert self.directory is not None
        files = []
        for entry in os.scandir(self.directory):
            if entry.is_file() and not entry.name.endswith(".lock") and entry.name[0] != ".":
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, file in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file)
            total -= size


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_verified(path: Path) -> bytes | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    data, digest = raw[:-_DIGEST], raw[-_DIGEST:]
    if hashlib.sha256(data).digest() != digest:
        logger.warning("artifact.corrupt", extra={"path": path.name})
        return None
    return data


def _write_verified(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.write(hashlib.sha256(data).digest())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
