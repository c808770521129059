"""Container tests need a Docker engine and the three images. Without an engine they
skip with the reason; with one, missing images are built (`make images`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make images IMAGE_TAG=x` and NIL_TEST_IMAGE_TAG=x keep a worktree's images apart on a
# shared engine.
TAG = os.environ.get("NIL_TEST_IMAGE_TAG", "dev")


def image(component: str) -> str:
    return f"nil-{component}:{TAG}"


IMAGES = (image("gateway"), image("builder"), image("runner"))

# Pools this session starts are named after it, so its clean-up never touches the
# containers or volumes of another worktree's tests running on the same engine.
SESSION = uuid.uuid4().hex[:6]


def pool_name(kind: str) -> str:
    """A new pool name of this session: `kind` is "test" (a pool) or "ctr" (a platform)."""
    return f"{kind}-{SESSION}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def docker_client():
    try:
        from runner.launchers.docker import docker_client as patient_client

        client = patient_client()
        client.ping()
    except Exception as exc:  # no SDK, no socket, no daemon
        pytest.skip(
            f"no Docker engine reachable ({type(exc).__name__}); "
            "start dockerd to run the container tests (see .ci/run)"
        )
    missing = [i for i in IMAGES if not client.images.list(name=i)]
    if missing:
        subprocess.run(["make", "images", f"IMAGE_TAG={TAG}"], cwd=ROOT, check=True)
    yield client
    # whatever the test pools left behind (a real pool keeps its volume on purpose)
    for container in client.containers.list(all=True, filters={"label": "dev.nil.runner"}):
        pool = container.labels.get("dev.nil.runner.pool", "")
        if pool.startswith((f"test-{SESSION}-", f"ctr-{SESSION}-")):
            container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name.startswith((f"nil-test-{SESSION}-", f"nil-ctr-{SESSION}-")) and (
            volume.name.endswith("-artifacts")
        ):
            try:
                volume.remove(force=True)
            except Exception:  # still in use by a container being removed
                pass
    client.close()


@pytest.fixture
def runner_root():
    """A short runner directory (socket paths are limited to 108 bytes) that the
    containers' user (uid 10001) can write."""
    root = Path(tempfile.mkdtemp(prefix="nil-rd-"))
    root.chmod(0o777)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class UnixToTcpForwarder:
    """Loopback TCP → unix socket, so containers on the host network reach the
    embedded PostgreSQL, which listens on a unix socket only."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.server.close()
