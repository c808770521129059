"""Choosing a runner for a call, and talking to it."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from common import unix_http
from common.contracts import ExecuteReply, ExecuteRequest, Limits
from gateway.errors import ServiceUnavailable


class NoRunnerAvailable(ServiceUnavailable):
    """No runner became free in time; try again shortly."""


class RunnerFailed(ServiceUnavailable):
    """The runner failed while running the call."""


@dataclass(frozen=True)
class Runner:
    """One runner's address and the lease that makes it ours for one call."""

    address: str

    def run(
        self,
        *,
        sha256: str,
        language: str,
        input_text: str,
        limits: Limits,
        load_module: Callable[[], bytes],
    ) -> ExecuteReply:
        """Run a call; if the runner lacks the module, send it once and retry."""
        request = json.dumps(ExecuteRequest(sha256, input_text, limits).to_json()).encode()
        timeout = limits.timeout_ms / 1000 + 10
        for _ in range(2):
            status, body = self._call("POST", "/execute", request, timeout)
            if status == 200:
                return ExecuteReply.from_json(json.loads(body))
            if status != 404:
                raise RunnerFailed(f"runner answered {status}: {body[:200]!r}")
            self._send_module(sha256, language, load_module())
        raise RunnerFailed("runner did not keep the module it was sent")

    def _send_module(self, sha256: str, language: str, wasm: bytes, timeout: float = 120.0) -> None:
        """The runner compiles what it is sent (seconds for a Python component) unless
        a runner of its host compiled it before."""
        status, body = self._call(
            "PUT",
            f"/modules/{sha256}?language={language}",
            wasm,
            timeout,
            content_type="application/wasm",
        )
        if status != 204:
            raise RunnerFailed(f"runner rejected the module: {body[:300]!r}")

    def _call(
        self,
        method: str,
        path: str,
        body: bytes,
        timeout: float,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        try:
            return unix_http.request(
                self.address,
                method,
                path,
                body=body,
                timeout=timeout,
                headers={"Content-Type": content_type},
            )
        except (OSError, http.client.HTTPException) as exc:
            raise RunnerFailed(
                f"runner failed during the call: {exc or type(exc).__name__}"
            ) from exc

    def preload(self, sha256: str, language: str, wasm: bytes, timeout: float) -> None:
        """Have the runner compile and cache an artifact before any call needs it."""
        self._send_module(sha256, language, wasm, timeout)

    def healthy(self) -> bool:
        try:
            status, _ = unix_http.request(self.address, "GET", "/health", timeout=1.0)
        except (OSError, http.client.HTTPException):
            return False
        return status == 200


def affinity_order(function_key: str, addresses: list[str]) -> list[str]:
    """Rendezvous hashing: a stable preference order of runners for a function."""

    def score(address: str) -> bytes:
        return hashlib.blake2b(f"{function_key}|{address}".encode(), digest_size=8).digest()

    return sorted(addresses, key=score, reverse=True)


class RunnerPool:
    """Base class: subclasses list addresses and lease one runner exclusively."""

    def __init__(self, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds

    def addresses(self) -> list[str]:
        raise NotImplementedError

    def dedicated_addresses(self, function_key: str) -> list[str]:
        """Runners reserved for one function; backends without them share the pool."""
        return self.addresses()

    dedicated_wait_seconds = 0.0

    def try_lease(self, address: str) -> Callable[[], None] | None:
        """Take the runner if it is free; returns its release function."""
        raise NotImplementedError

    @contextlib.contextmanager
    def lease(self, function_key: str, *, dedicated: bool = False) -> Iterator[Runner]:
        """The preferred free runner for this function, waiting up to `wait_seconds`
        (longer for a dedicated runner, which may have to be started first)."""
        wait = max(self.wait_seconds, self.dedicated_wait_seconds if dedicated else 0)
        deadline = time.monotonic() + wait
        pause = 0.0005
        while True:
            candidates = self.dedicated_addresses(function_key) if dedicated else self.addresses()
            for address in affinity_order(function_key, candidates):
                release = self.try_lease(address)
                if release is not None:
                    try:
                        yield Runner(address)
                    finally:
                        release()
                    return
            if time.monotonic() >= deadline:
                raise NoRunnerAvailable()
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def is_busy(self, address: str) -> bool:
        return False

    def healthy_count(self) -> int:
        """Runners that answer their health check; a busy runner is working, so healthy."""
        return sum(1 for a in self.addresses() if self.is_busy(a) or Runner(a).healthy())

    def size(self) -> int:
        return len(self.addresses())

    def close(self) -> None:
        pass
