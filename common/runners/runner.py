"""One runner, reached at its address: run a call on it, warm it with an artifact, ask
whether it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.contracts import ExecuteReply, ExecuteRequest
from common.errors import RunnerFailed
from common.runners import transport

MODULE_UPLOAD_SECONDS = 120.0  # a Python component takes seconds to compile


@dataclass(frozen=True)
class Runner:
    """One runner's address; a lease (common/runners/pool.py) makes it ours for a call."""

    address: str

    def run(
        self, request: ExecuteRequest, *, language: str, load_module: Callable[[], bytes]
    ) -> ExecuteReply:
        """Run a call; if the runner lacks the module, send it once and retry."""
        timeout = request.limits.timeout_ms / 1000 + 10
        for _ in range(2):
            reply = transport.execute(self.address, request, timeout)
            if reply is not None:
                return reply
            transport.send_module(
                self.address, request.sha256, language, load_module(), MODULE_UPLOAD_SECONDS
            )
        raise RunnerFailed("runner did not keep the module it was sent")

    def preload(self, sha256: str, language: str, wasm: bytes, timeout: float) -> None:
        """Have the runner compile and cache an artifact before any call needs it."""
        transport.send_module(self.address, sha256, language, wasm, timeout)

    def healthy(self) -> bool:
        return transport.healthy(self.address)
