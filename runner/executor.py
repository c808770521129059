"""Run one call of a cached module under fuel, an epoch deadline and store limits,
and map every way it can end to exactly one outcome."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

import wasmtime

from common.abi import ABI_BY_LANGUAGE, AbiError, check_module
from common.jsonvalues import unstorable_reason
from runner import metrics
from runner.abi import ADAPTERS, AbiAdapter, CallContext, GuestAbort, InvalidOutput
from runner.engine import CachedModule, EpochTicker, ModuleCache, make_engine
from runner.settings import Settings

logger = logging.getLogger(__name__)
WASM_PAGE = 65536


class ModuleRejected(Exception):
    """The bytes sent as a module are not an acceptable WebAssembly module."""


@dataclass(frozen=True)
class CallLimits:
    timeout_ms: int
    memory_mb: int
    fuel: int


@dataclass
class Outcome:
    outcome: str  # ok | trap | timeout | fuel_exhausted | memory_limit | abi_error | invalid_output
    output: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    fuel_used: int = 0
    logs: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "output": self.output,
            "error": self.error,
            "durationMs": round(self.duration_ms, 3),
            "fuelUsed": self.fuel_used,
            "logs": self.logs,
        }


class Executor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.max_wasm_stack)
        self.ticker = EpochTicker(self.engine, settings.epoch_tick_ms)
        self.cache = ModuleCache(settings.cache_entries, settings.cache_bytes)
        self.adapters: dict[str, AbiAdapter] = {
            lang: cls(self.engine, settings.max_output_bytes) for lang, cls in ADAPTERS.items()
        }
        self._pre: dict[str, wasmtime.InstancePre] = {}

    def has_module(self, sha256: str) -> bool:
        return sha256 in self.cache

    def load_module(self, sha256: str, language: str, wasm: bytes) -> None:
        """Compile bytes once (after checking their hash and ABI) and cache them."""
        if language not in self.adapters:
            raise ModuleRejected(f"unsupported language {language!r}")
        if len(wasm) > self.settings.max_module_bytes:
            raise ModuleRejected(
                f"the module is larger than {self.settings.max_module_bytes} bytes"
            )
        if hashlib.sha256(wasm).hexdigest() != sha256:
            raise ModuleRejected("the module's bytes do not match its sha256")
        if not wasm.startswith(b"\0asm"):
            raise ModuleRejected("not a WebAssembly module")
        try:
            module = wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise ModuleRejected(f"invalid WebAssembly: {exc}") from exc
        try:
            check_module(module, ABI_BY_LANGUAGE[language])
            problem = None
        except AbiError as exc:
            problem = f"ABI error: {exc}"
        self.cache.put(CachedModule(sha256, language, module, len(wasm), problem))

    def execute(self, sha256: str, input_text: str, limits: CallLimits) -> Outcome | None:
        """None when the module is not cached (the caller sends it, then retries)."""
        entry = self.cache.get(sha256)
        if entry is None:
            return None
        started = time.perf_counter()
        ctx = CallContext(self.settings.max_log_bytes)
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(self.ticker.ticks_for(limits.timeout_ms))
        store.set_limits(
            memory_size=limits.memory_mb * 1024 * 1024,
            table_elements=self.settings.max_table_elements,
            instances=self.settings.max_instances,
            tables=10,
            memories=1,
        )
        with ctx:
            outcome = self._run(entry, store, input_text, limits)
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        outcome.fuel_used = limits.fuel - store.get_fuel()
        outcome.logs = ctx.logs
        store.close()  # free the instance's memory now, not at the next GC cycle
        metrics.EXECUTIONS.labels(entry.language, outcome.outcome).inc()
        return outcome

    def _run(
        self, entry: CachedModule, store: wasmtime.Store, text: str, limits: CallLimits
    ) -> Outcome:
        adapter = self.adapters[entry.language]
        if entry.abi_problem is not None:
            return Outcome("abi_error", error=entry.abi_problem)
        instance = None
        try:
            t0 = time.perf_counter()
            instance = self._instance_pre(entry, adapter).instantiate(store)
            metrics.INSTANTIATE_SECONDS.observe(time.perf_counter() - t0)
            output = adapter.call(store, instance, text)
        except wasmtime.Trap as trap:
            return self._trap_outcome(trap, store, instance, limits)
        except GuestAbort as exc:
            if self._memory_exhausted(store, instance, limits):
                return _memory_limit(limits)
            return Outcome("trap", error=f"function aborted: {exc}")
        except InvalidOutput as exc:
            return Outcome("invalid_output", error=f"invalid output: {exc}")
        except wasmtime.WasmtimeError as exc:
            if "exceeds memory limits" in str(exc) or "memory limits" in str(exc):
                return _memory_limit(limits)
            return Outcome("trap", error=f"instantiation failed: {_first_line(exc)}")
        return _check_output(output, self.settings.max_output_bytes)

    def _instance_pre(self, entry: CachedModule, adapter: AbiAdapter) -> wasmtime.InstancePre:
        pre = self._pre.get(entry.sha256)
        if pre is None:
            pre = adapter.linker.instantiate_pre(entry.module)
            self._pre[entry.sha256] = pre
            for stale in [k for k in self._pre if k not in self.cache]:
                del self._pre[stale]
        return pre

    def _trap_outcome(self, trap: wasmtime.Trap, store, instance, limits: CallLimits) -> Outcome:
        code = trap.trap_code
        if code == wasmtime.TrapCode.INTERRUPT:
            return Outcome(
                "timeout", error=f"function exceeded its time limit of {limits.timeout_ms} ms"
            )
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return Outcome(
                "fuel_exhausted", error=f"function exhausted its fuel budget of {limits.fuel}"
            )
        if self._memory_exhausted(store, instance, limits):
            return _memory_limit(limits)
        if code == wasmtime.TrapCode.STACK_OVERFLOW:
            return Outcome("trap", error="wasm trap: call stack exhausted (recursion too deep)")
        reason = code.name.lower().replace("_", " ") if code is not None else _first_line(trap)
        return Outcome("trap", error=f"wasm trap: {reason}")

    @staticmethod
    def _memory_exhausted(store, instance, limits: CallLimits) -> bool:
        """True when linear memory is within one page of its cap: a failed grow is why."""
        if instance is None:
            return False
        try:
            memory = instance.exports(store)["memory"]
        except KeyError:
            return False
        if not isinstance(memory, wasmtime.Memory):
            return False
        return memory.data_len(store) + WASM_PAGE > limits.memory_mb * 1024 * 1024


def _memory_limit(limits: CallLimits) -> Outcome:
    return Outcome(
        "memory_limit", error=f"function exceeded its memory limit of {limits.memory_mb} MB"
    )


def _check_output(output: str, max_bytes: int) -> Outcome:
    if len(output.encode("utf-8")) > max_bytes:
        return Outcome(
            "invalid_output", error=f"invalid output: output is larger than {max_bytes} bytes"
        )
    try:
        value = json.loads(output)
    except ValueError:
        return Outcome("invalid_output", error="function returned invalid JSON")
    problem = unstorable_reason(value)
    if problem is not None:
        return Outcome("invalid_output", error=f"invalid output: the JSON {problem}")
    return Outcome("ok", output=output)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or ["unknown error"])[0]
