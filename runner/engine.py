"""The process's wasmtime Engines (one for core modules, one for components), the epoch
ticker, and the in-memory cache of compiled artifacts.

Engines and artifacts live long; Stores live for one call. The ticker advances every
engine's epoch every `tick_ms`, which is what makes the per-call deadline fire.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import wasmtime

from common.wasm import engine_config, use_baseline_compiler
from runner import metrics

# Compiler tiers. "optimized" is Cranelift (opt level speed); "baseline" is Winch, a
# single-pass compiler: a Python component compiles ~4x faster (1.5 s against 6.3 s on
# two cores) into code that runs CPU-heavy Python ~2x slower. A component is compiled
# with Winch first (its function becomes READY seconds sooner), then with Cranelift in
# the background (runner/executor.py). Each tier has its own Engine: wasmtime refuses an
# artifact of the other tier ("compiled with Winch calling convention").
OPTIMIZED = "optimized"
BASELINE = "baseline"


def engine_fingerprint(max_wasm_stack: int, tier: str = OPTIMIZED) -> str:
    """The settings below that compiled code depends on (names the shared artifacts)."""
    base = f"stack={max_wasm_stack}|fuel|epoch|speed|multi-memory-components"
    return base if tier == OPTIMIZED else f"{base}|winch"


def make_engine(
    max_wasm_stack: int, *, component_model: bool = False, tier: str = OPTIMIZED
) -> wasmtime.Engine:
    config = engine_config(component_model)
    config.consume_fuel = True
    config.epoch_interruption = True
    config.max_wasm_stack = max_wasm_stack
    config.cranelift_opt_level = "speed"
    if tier == BASELINE:
        use_baseline_compiler(config)
    return wasmtime.Engine(config)


class EpochTicker:
    """The one thread that advances the engines' epochs."""

    def __init__(self, engines: list[wasmtime.Engine], tick_ms: int) -> None:
        self.engines = engines
        self.tick_seconds = tick_ms / 1000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="epoch-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            for engine in self.engines:
                engine.increment_epoch()

    def ticks_for(self, timeout_ms: int) -> int:
        return max(1, int(timeout_ms / (self.tick_seconds * 1000)) + 1)

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class CachedModule:
    sha256: str
    language: str
    artifact: Any  # a wasmtime.Module or a wasmtime.component.Component
    size: int
    abi_problem: str | None = None  # checked once when cached
    tier: str = OPTIMIZED  # which engine compiled `artifact` (and must run it)
    prefix: str = ""  # what precedes each call's input: a function run on its template
    primes: bool = False  # its instances made ahead are primed (runner/executor.py)


class ModuleCache:
    """A bounded LRU of compiled modules keyed by sha256: a hit never compiles."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedModule] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, sha256: str) -> CachedModule | None:
        with self._lock:
            entry = self._entries.get(sha256)
            if entry is not None:
                self._entries.move_to_end(sha256)
        (metrics.CACHE_HITS if entry else metrics.CACHE_MISSES).inc()
        return entry

    def put(self, entry: CachedModule) -> list[CachedModule]:
        """Cache `entry`; returns the entries evicted to make room."""
        evicted: list[CachedModule] = []
        with self._lock:
            if entry.sha256 in self._entries:
                return evicted
            self._entries[entry.sha256] = entry
            self._bytes += entry.size
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.size
                evicted.append(old)
                metrics.CACHE_EVICTIONS.inc()
            metrics.CACHE_BYTES.set(self._bytes)
            metrics.CACHE_ENTRIES.set(len(self._entries))
        return evicted

    def peek(self, sha256: str) -> CachedModule | None:
        """The entry, without counting a hit or a miss or refreshing its place."""
        with self._lock:
            return self._entries.get(sha256)

    def upgrade(self, entry: CachedModule) -> CachedModule | None:
        """Put `entry` in place of the cached one of the same sha256 (same size and
        place in the LRU); returns the replaced entry, or None when it is not cached."""
        with self._lock:
            old = self._entries.get(entry.sha256)
            if old is None:
                return None
            self._entries[entry.sha256] = entry
            return old

    def entries(self) -> list[CachedModule]:
        with self._lock:
            return list(self._entries.values())

    def __contains__(self, sha256: str) -> bool:
        with self._lock:
            return sha256 in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def now_ms() -> float:
    return time.perf_counter() * 1000
