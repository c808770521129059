"""Run one call of a cached artifact (a core module or a component) under fuel, an epoch
deadline and store limits, capture what it prints, and map every way it can end to
exactly one outcome."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import wasmtime

from common import python_slot
from common.abi import ABI_BY_LANGUAGE, COMPONENT_PREAMBLE, MODULE_PREAMBLE
from common.contracts import ExecuteReply, ExecuteRequest, Limits, Outcome
from common.jsonvalues import NOT_JSON, check_text
from common.redaction import redact
from runner import metrics, templates
from runner.abis import ADAPTER_BY_ABI, AbiAdapter, GuestAbort, GuestException, InvalidOutput
from runner.abis.context import CallDeadline, calling
from runner.artifacts import ArtifactStore
from runner.capture import OutputCapture
from runner.engine import (
    BASELINE,
    OPTIMIZED,
    CachedModule,
    EpochTicker,
    ModuleCache,
    engine_fingerprint,
    make_engine,
)
from runner.settings import Settings

logger = logging.getLogger(__name__)
WASM_PAGE = 65536
PRIMING_TIMEOUT_MS = 1000  # the priming takes ~1-2 ms; its own deadline, not the call's


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """An instance made ahead of a call (Executor.idle), in a store of its own."""

    artifact: Any
    limits: Limits
    store: wasmtime.Store
    instance: Any
    primed: bool  # it ran the template's priming call (python_slot.PRIME)


class ModuleRejected(Exception):
    """The bytes sent as a module are not an acceptable WebAssembly module."""


class Executor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        stack = settings.max_wasm_stack
        engines = {
            "module": make_engine(stack),
            "component": make_engine(stack, component_model=True),
        }
        if settings.baseline_components:
            engines[BASELINE] = make_engine(stack, component_model=True, tier=BASELINE)
        self.ticker = EpochTicker(list(engines.values()), settings.epoch_tick_ms)
        self.cache = ModuleCache(settings.cache_entries, settings.cache_bytes)
        self.artifacts = ArtifactStore(
            settings.artifact_dir,
            engine_fingerprint(stack),
            max_bytes=settings.artifact_max_mb << 20,
        )
        self.baseline_artifacts = ArtifactStore(
            settings.artifact_dir,
            engine_fingerprint(stack, BASELINE),
            max_bytes=settings.artifact_max_mb << 20,
        )
        by_abi = {
            name: cls(engines[cls.kind], settings.max_output_bytes)
            for name, cls in ADAPTER_BY_ABI.items()
        }
        self.adapters: dict[str, AbiAdapter] = {
            language: by_abi[abi.name] for language, abi in ABI_BY_LANGUAGE.items()
        }
        # the same adapters on the baseline engine, for the languages built as components
        self.baseline_adapters: dict[str, AbiAdapter] = {}
        if BASELINE in engines:
            baseline_by_abi = {
                name: cls(engines[BASELINE], settings.max_output_bytes)
                for name, cls in ADAPTER_BY_ABI.items()
                if cls.kind == "component"
            }
            self.baseline_adapters = {
                language: baseline_by_abi[abi.name]
                for language, abi in ABI_BY_LANGUAGE.items()
                if abi.name in baseline_by_abi
            }
        self._upgrades: queue.SimpleQueue[functools.partial] = queue.SimpleQueue()
        self._upgrades_pending = 0
        self._upgrades_changed = threading.Condition()
        self._upgrader: threading.Thread | None = None
        self._prepared: _Prepared | None = None  # the next call's instance, made ahead
        self._next: tuple[str, Limits] | None = None  # what idle() prepares
        self._spent: list[wasmtime.Store] = []  # stores of answered calls, closed by idle()
        self._instantiated = False
        self._templates: dict[str, templates.Compiled] = {}  # by digest (runner/templates.py)
        self._templates_lock = threading.Lock()

    def adapter_for(self, entry: CachedModule) -> AbiAdapter:
        """The adapter on the engine that compiled `entry`."""
        adapters = self.baseline_adapters if entry.tier == BASELINE else self.adapters
        return adapters[entry.language]

    def has_module(self, sha256: str) -> bool:
        return sha256 in self.cache

    def load_module(self, sha256: str, language: str, wasm: bytes) -> None:
        """Compile bytes once (after checking their hash and ABI) and cache them. A
        compile another runner of this host already did is read from disk instead; a
        Python function made from a template runs on its template (runner/templates.py)."""
        adapter = self.adapters.get(language)
        if adapter is None:
            raise ModuleRejected(f"unsupported language {language!r}")
        if len(wasm) > self.settings.max_module_bytes:
            raise ModuleRejected(
                f"the module is larger than {self.settings.max_module_bytes} bytes"
            )
        if hashlib.sha256(wasm).hexdigest() != sha256:
            raise ModuleRejected("the module's bytes do not match its sha256")
        preamble = COMPONENT_PREAMBLE if adapter.kind == "component" else MODULE_PREAMBLE
        if not wasm.startswith(preamble):
            raise ModuleRejected(f"not a WebAssembly {adapter.kind}")
        t0 = time.perf_counter()
        made = templates.find(wasm) if adapter.kind == "component" else None
        with self._templates_lock:  # an upgrade swaps a template and its entries at once
            entry, upgrade = self._from_template(sha256, language, wasm, made)
            if entry is None:
                entry, upgrade = self._compiled(sha256, language, wasm, adapter)
            metrics.LOAD_SECONDS.labels(adapter.kind).observe(time.perf_counter() - t0)
            self._cache(entry)
        if upgrade is not None:
            self._queue_upgrade(upgrade)

    def _compiled(
        self, sha256: str, language: str, wasm: bytes, adapter: AbiAdapter
    ) -> tuple[CachedModule, functools.partial | None]:
        """The module compiled as it is (a component: optimized when on disk, else on
        the baseline tier first), and its optimized compile to do in the background."""
        kind, tier, artifact = adapter.kind, OPTIMIZED, None
        if language in self.baseline_adapters:
            artifact = self._optimized_from_disk(adapter, sha256)
            if artifact is None:
                tier, adapter = BASELINE, self.baseline_adapters[language]
        store = self.baseline_artifacts if tier == BASELINE else self.artifacts
        in_child = None
        if len(wasm) >= self.settings.compile_in_child_bytes:
            in_child = functools.partial(self._compile_in_child, kind, wasm, tier)
        try:
            if artifact is None:
                artifact = store.load(
                    sha256,
                    kind,
                    functools.partial(adapter.compile, wasm),
                    adapter.serialize,
                    adapter.deserialize,
                    in_child,
                    adapter.deserialize_file,
                )
        except wasmtime.WasmtimeError as exc:
            raise ModuleRejected(f"invalid WebAssembly: {_first_line(exc)}") from exc
        entry = CachedModule(sha256, language, artifact, len(wasm), adapter.check(artifact), tier)
        upgrade = None
        if tier == BASELINE and entry.abi_problem is None and self.settings.optimize_in_background:
            upgrade = functools.partial(self._upgrade, sha256, language, wasm)
        return entry, upgrade

    def _from_template(
        self, sha256: str, language: str, wasm: bytes, made: templates.FromTemplate | None
    ) -> tuple[CachedModule | None, functools.partial | None]:
        """The function on its compiled template (compiled now if this runner has not
        got it: optimized when on disk, else on the baseline tier first, with the
        template's optimized compile to do in the background); None when it is not
        made from a template or its template cannot be compiled."""
        if made is None:
            return None, None
        compiled, upgrade = self._templates.get(made.digest), None
        if compiled is None:
            try:
                compiled = self._compile_template(language, made.digest, wasm)
            except (ModuleRejected, wasmtime.WasmtimeError) as exc:  # compiled as it is
                logger.warning("artifact.template_unusable", extra={"error": str(exc)})
                return None, None
            self._templates[made.digest] = compiled
            if compiled.tier == BASELINE and self.settings.optimize_in_background:
                upgrade = functools.partial(self._upgrade_template, made.digest, language, wasm)
        adapters = self.baseline_adapters if compiled.tier == BASELINE else self.adapters
        check = adapters[language].check(compiled.artifact)
        size = len(made.prefix)  # the template's own memory is shared by its functions
        entry = CachedModule(
            sha256,
            language,
            compiled.artifact,
            size,
            check,
            compiled.tier,
            made.prefix,
            made.primes,
        )
        return entry, upgrade

    def _compile_template(self, language: str, digest: str, wasm: bytes) -> templates.Compiled:
        adapter = self.adapters[language]
        artifact = self._optimized_from_disk(adapter, digest, templates.KIND)
        if artifact is not None:
            return templates.Compiled(artifact, OPTIMIZED)
        tier, store = OPTIMIZED, self.artifacts
        if language in self.baseline_adapters:
            tier, store = BASELINE, self.baseline_artifacts
            adapter = self.baseline_adapters[language]
        template = templates.template_bytes(wasm)
        artifact = self._in_child(store, adapter, digest, templates.KIND, template, tier)
        return templates.Compiled(artifact, tier)

    def _in_child(
        self,
        store: ArtifactStore,
        adapter: AbiAdapter,
        key: str,
        kind: str,
        wasm: bytes,
        tier: str,
        background: bool = False,
    ) -> Any:
        """The component `wasm` on `tier`, from `store` when a runner of this host
        compiled it before, else compiled in a child process and written there.
        Thread-safe: deserializing touches no store and calls no host function."""
        compile_ = functools.partial(self._compile_in_child, "component", wasm, tier, background)
        return store.load(
            key,
            kind,
            lambda: adapter.deserialize(compile_()),  # no directory: compiled, in memory
            adapter.serialize,
            adapter.deserialize,
            compile_,
            adapter.deserialize_file,
        )

    def _cache(self, entry: CachedModule) -> None:
        """Cache `entry`; what it evicts is forgotten, and so is a template no cached
        function runs on any more (and an instance made ahead of one)."""
        evicted = self.cache.put(entry)
        for old in evicted:
            self.adapter_for(old).forget(old.sha256)
        if not evicted:
            return
        in_use = {id(cached.artifact) for cached in self.cache.entries()}
        if self._prepared is not None and id(self._prepared.artifact) not in in_use:
            self._spent.append(self._prepared.store)
            self._prepared = None
        for digest, compiled in list(self._templates.items()):
            if id(compiled.artifact) not in in_use:
                del self._templates[digest]

    def _optimized_from_disk(self, adapter: AbiAdapter, sha256: str, kind: str = ""):
        """The optimized artifact (of `kind`: the adapter's by default) a runner of this
        host compiled before, or None."""
        path = self.artifacts.peek(sha256, kind or adapter.kind)
        if path is None:
            return None
        try:
            return adapter.deserialize_file(path)
        except Exception as exc:  # stale or foreign: the baseline tier, then a recompile
            logger.warning("artifact.unusable", extra={"sha256": sha256, "error": str(exc)})
            return None

    # ---------------------------------------------------------------- the optimized tier

    def _queue_upgrade(self, upgrade: functools.partial) -> None:
        """Run `upgrade` (an optimized compile, then its swap into the cache) in the
        background; one at a time: a Python component's compile takes ~400 MB."""
        with self._upgrades_changed:
            self._upgrades_pending += 1
            if self._upgrader is None:
                self._upgrader = threading.Thread(
                    target=self._upgrade_loop, name="optimizer", daemon=True
                )
                self._upgrader.start()
        self._upgrades.put(upgrade)

    def _upgrade_loop(self) -> None:
        while True:
            upgrade = self._upgrades.get()
            try:
                upgrade()
            except Exception as exc:  # the function keeps running on the baseline tier
                logger.warning(
                    "artifact.optimize_failed", extra={"sha256": upgrade.args[0], "error": str(exc)}
                )
            finally:
                upgrade = None  # not kept while the next upgrade is awaited (~20 MB)
                with self._upgrades_changed:
                    self._upgrades_pending -= 1
                    self._upgrades_changed.notify_all()

    def _upgrade(self, sha256: str, language: str, wasm: bytes) -> None:
        if sha256 not in self.cache:  # evicted meanwhile
            return
        t0 = time.perf_counter()
        adapter = self.adapters[language]
        artifact = self._in_child(
            self.artifacts, adapter, sha256, "component", wasm, OPTIMIZED, background=True
        )
        entry = CachedModule(sha256, language, artifact, len(wasm), adapter.check(artifact))
        if self.cache.upgrade(entry) is not None:
            self.baseline_adapters[language].forget(sha256)
            logger.info(
                "artifact.optimized",
                extra={"sha256": sha256, "durationMs": (time.perf_counter() - t0) * 1000},
            )

    def _upgrade_template(self, digest: str, language: str, wasm: bytes) -> None:
        """The template on the optimized tier, in place of its baseline artifact for
        every cached function made from it."""
        baseline = self._templates.get(digest)
        if baseline is None or baseline.tier == OPTIMIZED:
            return  # no function runs on it any more (runner/executor._cache), or done
        t0 = time.perf_counter()
        template = templates.template_bytes(wasm)
        artifact = self._in_child(
            self.artifacts,
            self.adapters[language],
            digest,
            templates.KIND,
            template,
            OPTIMIZED,
            background=True,
        )
        del template
        with self._templates_lock:
            self._templates[digest] = templates.Compiled(artifact, OPTIMIZED)
            for entry in self.cache.entries():
                if entry.artifact is baseline.artifact:
                    upgraded = dataclasses.replace(entry, artifact=artifact, tier=OPTIMIZED)
                    if self.cache.upgrade(upgraded) is not None:
                        self.baseline_adapters[language].forget(entry.sha256)
        logger.info(
            "artifact.optimized",
            extra={"sha256": digest, "durationMs": (time.perf_counter() - t0) * 1000},
        )

    @property
    def upgrades_pending(self) -> int:
        """Modules waiting for, or in, their background optimized compile."""
        with self._upgrades_changed:
            return self._upgrades_pending

    def wait_for_upgrades(self, timeout: float) -> bool:
        """True once no background compile is pending (for tests and the bench)."""
        with self._upgrades_changed:
            return self._upgrades_changed.wait_for(lambda: self._upgrades_pending == 0, timeout)

    def _compile_in_child(
        self, kind: str, wasm: bytes, tier: str = OPTIMIZED, background: bool = False
    ) -> bytes:
        """Compile in a child process (see runner/compile_child.py) with this engine's
        settings; the child's memory is freed when it exits."""
        argv = [
            sys.executable,
            "-m",
            "runner.compile_child",
            kind,
            str(self.settings.max_wasm_stack),
        ]
        argv += [tier, "background"] if background else [tier]
        done = subprocess.run(
            argv,
            input=wasm,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
            raise ModuleRejected(f"invalid WebAssembly: {reason[-500:]}")
        return done.stdout

    def execute(self, request: ExecuteRequest) -> ExecuteReply | None:
        """None when the module is not cached (the caller sends it, then retries)."""
        entry = self.cache.get(request.sha256)
        if entry is None:
            return None
        limits = request.limits
        started = time.perf_counter()
        adapter = self.adapter_for(entry)
        capture = OutputCapture(self.settings.max_log_bytes, request.redact)
        prepared = self._take_prepared(entry, limits)
        if prepared is not None and prepared.primed:
            if self._hand_environment(adapter, prepared, request.env):
                prepared.store.set_fuel(limits.fuel)  # neither took the call's fuel
            else:
                self._spent.append(prepared.store)
                prepared = None
        if prepared is not None:  # made while the runner was idle; never used before
            store, instance = prepared.store, prepared.instance
        else:
            store, instance = self._new_store(adapter, limits), None
        store.set_epoch_deadline(self.ticker.ticks_for(limits.timeout_ms))
        adapter.prepare_store(store, capture, request.env)
        self._instantiated = False
        with calling(capture, limits.timeout_ms, request.env):
            text = entry.prefix + request.input if entry.prefix else request.input
            reply = self._run(adapter, entry, store, text, limits, instance)
        error = reply.error
        if reply.outcome == Outcome.TRAP and (hint := capture.trap_hint()):
            error = f"{error} (stderr: {hint})"
        reply = dataclasses.replace(
            reply,
            error=redact(error, request.redact),
            duration_ms=(time.perf_counter() - started) * 1000,
            fuel_used=limits.fuel - store.get_fuel(),
            logs=capture.text(),
        )
        if self._preparing(adapter):  # freed by idle(), after the reply went out
            self._spent.append(store)
            if self._instantiated:  # instantiating it works: make the next one ahead
                self._next = (entry.sha256, limits)
        else:
            store.close()  # free the instance's memory now, not at the next GC cycle
        metrics.EXECUTIONS.labels(entry.language, reply.outcome.value).inc()
        return reply

    # ------------------------------------------------------ instances made ahead of a call

    def _preparing(self, adapter: AbiAdapter) -> bool:
        """Components' instances are made ahead (instantiating one is most of a call)."""
        return self.settings.prepare_instances and adapter.kind == "component"

    def _new_store(self, adapter: AbiAdapter, limits: Limits) -> wasmtime.Store:
        store = wasmtime.Store(adapter.engine)
        store.set_fuel(limits.fuel)
        store.set_limits(
            memory_size=limits.memory_mb * 1024 * 1024,
            table_elements=self.settings.max_table_elements,
            instances=self.settings.max_instances * adapter.instances_per_artifact,
            tables=10 * adapter.instances_per_artifact,
            memories=adapter.memories,
        )
        return store

    def has_idle_work(self) -> bool:
        return bool(self._spent) or self._next is not None

    def idle(self, call_waiting: Callable[[], bool] = lambda: False) -> None:
        """Between calls (on the executor thread, after the reply went out): make the next
        instance of the component called last, in a store of its own with that call's
        limits, then free the last calls' stores. It serves one call at most — the next
        call of that artifact with the same limits, which gets its environment and output
        capture then — and is dropped otherwise: never two calls on one instance, and no
        call's environment or secrets kept past it. A template's instance is primed too,
        unless a call already waits (`call_waiting`): it takes the instance as it is
        rather than wait for the priming.

        The instance comes before the freeing: freeing a Python call's store takes ~0.4 ms
        of the ~2 ms a gateway takes between a reply and the next call, and a call that
        comes that soon would wait for it (the new instance has touched next to nothing
        yet, so the two stores alive together weigh little more than the spent one)."""
        try:
            self._make_next(call_waiting)
        finally:
            while self._spent:
                self._spent.pop().close()

    def _make_next(self, call_waiting: Callable[[], bool]) -> None:
        wanted, self._next = self._next, None
        if wanted is None or self._prepared is not None:
            return
        sha256, limits = wanted
        entry = self.cache.peek(sha256)
        if entry is None or entry.abi_problem is not None:
            return
        adapter = self.adapter_for(entry)
        store = self._new_store(adapter, limits)
        store.set_epoch_deadline(self.ticker.ticks_for(limits.timeout_ms))
        made = OutputCapture(0)
        adapter.prepare_store(store, made, {})
        try:
            instance = adapter.instantiate(store, entry.sha256, entry.artifact)
        except Exception:  # the call instantiates (and reports why it fails) itself
            store.close()
            return
        primed = False
        if made.text() is None and entry.primes and not call_waiting():
            primed = self._prime(adapter, store, instance)
            if not primed:  # it ran something else than the priming: not used
                store.close()
                return
        if made.text() is not None:  # it printed while instantiated: that is the call's log
            store.close()
            return
        self._prepared = _Prepared(entry.artifact, limits, store, instance, primed)
        metrics.PREPARED_INSTANCES.inc()

    def _prime(self, adapter: AbiAdapter, store: wasmtime.Store, instance: Any) -> bool:
        """Run the template's priming call on an instance made ahead: it writes, before
        the call, the memory pages every call writes (a fresh instance's first call
        spends most of its time copying them from the snapshot). Platform code on a
        constant input: the function's call finds nothing of it but those pages."""
        store.set_epoch_deadline(self.ticker.ticks_for(PRIMING_TIMEOUT_MS))
        try:
            return adapter.call(store, instance, python_slot.PRIME) == python_slot.PRIMED
        except Exception:  # a trap (the call's fuel or memory), an error: not primed
            return False

    def _hand_environment(self, adapter: AbiAdapter, prepared: _Prepared, env: dict) -> bool:
        """Give a primed instance the call's environment, in a call of its own: the host's
        was read at the priming (componentize-py reads it at an instance's first call).
        Outside the call's fuel, so a call is charged the same whatever its environment's
        way in; False when it fails (the call then takes a fresh instance)."""
        prepared.store.set_epoch_deadline(self.ticker.ticks_for(PRIMING_TIMEOUT_MS))
        prepared.store.set_fuel(prepared.limits.fuel)
        call = python_slot.environment_call(env)
        try:
            return adapter.call(prepared.store, prepared.instance, call) == python_slot.PRIMED
        except Exception:  # a trap (memory): this instance is not used
            return False

    def _take_prepared(self, entry: CachedModule, limits: Limits) -> _Prepared | None:
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            return None
        if prepared.artifact is entry.artifact and prepared.limits == limits:
            return prepared
        self._spent.append(prepared.store)  # another artifact or other limits: dropped
        return None

    def _run(
        self,
        adapter: AbiAdapter,
        entry: CachedModule,
        store: wasmtime.Store,
        text: str,
        limits: Limits,
        instance: Any = None,
    ) -> ExecuteReply:
        if entry.abi_problem is not None:
            return ExecuteReply(Outcome.ABI_ERROR, error=entry.abi_problem)
        try:
            if instance is None:
                t0 = time.perf_counter()
                instance = adapter.instantiate(store, entry.sha256, entry.artifact)
                metrics.INSTANTIATE_SECONDS.observe(time.perf_counter() - t0)
            self._instantiated = True
            output = adapter.call(store, instance, text)
        except wasmtime.Trap as trap:
            return self._trap_outcome(trap.trap_code, trap, adapter, store, instance, limits, text)
        except CallDeadline:  # a host call (a sleep) reached the deadline
            return _timeout(limits)
        except GuestException as exc:
            message = str(exc).strip() or "the function raised an error"
            return ExecuteReply(Outcome.EXCEPTION, error=message)
        except GuestAbort as exc:
            if self._memory_exhausted(adapter, store, instance, limits, text):
                return _memory_limit(limits)
            return ExecuteReply(Outcome.TRAP, error=f"function aborted: {exc}")
        except InvalidOutput as exc:
            return ExecuteReply(Outcome.INVALID_OUTPUT, error=f"invalid output: {exc}")
        except wasmtime.WasmtimeError as exc:
            if "memory limits" in str(exc) or "exceeds memory" in str(exc):
                return _memory_limit(limits)
            code = _component_trap_code(exc)
            if code is not None:  # components report traps as errors with the trap inside
                return self._trap_outcome(code, exc, adapter, store, instance, limits, text)
            if self._memory_exhausted(adapter, store, instance, limits, text):
                return _memory_limit(limits)  # e.g. the guest could not take the input
            what = "instantiation failed" if instance is None else "function failed"
            return ExecuteReply(Outcome.TRAP, error=f"{what}: {_first_line(exc)}")
        return _check_output(output, self.settings.max_output_bytes)

    def _trap_outcome(
        self, code, error: Exception, adapter, store, instance, limits: Limits, text: str
    ) -> ExecuteReply:
        if code == wasmtime.TrapCode.INTERRUPT:
            return _timeout(limits)
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return ExecuteReply(
                Outcome.FUEL_EXHAUSTED, error=f"function exhausted its fuel budget of {limits.fuel}"
            )
        if self._memory_exhausted(adapter, store, instance, limits, text):
            return _memory_limit(limits)
        if code == wasmtime.TrapCode.STACK_OVERFLOW:
            reason = "call stack exhausted (recursion too deep)"
            return ExecuteReply(Outcome.TRAP, error=f"wasm trap: {reason}")
        reason = code.name.lower().replace("_", " ") if code is not None else _first_line(error)
        return ExecuteReply(Outcome.TRAP, error=f"wasm trap: {reason}")

    @staticmethod
    def _memory_exhausted(adapter: AbiAdapter, store, instance, limits: Limits, text: str) -> bool:
        """True when linear memory is near its cap: a failed grow is why. Near is within
        a page, or within what taking the input may ask for at once (its UTF-8 bytes,
        twice: a guest copies it as it decodes it; a Python function run on its
        template also takes its code and source with the input)."""
        size = adapter.memory_size(store, instance)
        if size is None:
            return False
        return size + max(WASM_PAGE, 2 * len(text.encode())) > limits.memory_mb * 1024 * 1024


def _timeout(limits: Limits) -> ExecuteReply:
    return ExecuteReply(
        Outcome.TIMEOUT, error=f"function exceeded its time limit of {limits.timeout_ms} ms"
    )


def _memory_limit(limits: Limits) -> ExecuteReply:
    return ExecuteReply(
        Outcome.MEMORY_LIMIT, error=f"function exceeded its memory limit of {limits.memory_mb} MB"
    )


def _check_output(output: str, max_bytes: int) -> ExecuteReply:
    if len(output.encode("utf-8")) > max_bytes:
        return ExecuteReply(
            Outcome.INVALID_OUTPUT, error=f"invalid output: output is larger than {max_bytes} bytes"
        )
    problem = check_text(output)
    if problem == NOT_JSON:
        return ExecuteReply(Outcome.INVALID_OUTPUT, error="function returned invalid JSON")
    if problem is not None:
        return ExecuteReply(Outcome.INVALID_OUTPUT, error=f"invalid output: the JSON {problem}")
    return ExecuteReply(Outcome.OK, output=output)


_TRAP_MESSAGES = {
    "wasm trap: interrupt": wasmtime.TrapCode.INTERRUPT,
    "all fuel consumed": wasmtime.TrapCode.OUT_OF_FUEL,
    "call stack exhausted": wasmtime.TrapCode.STACK_OVERFLOW,
    "wasm `unreachable` instruction executed": wasmtime.TrapCode.UNREACHABLE,
    "integer divide by zero": wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO,
    "out of bounds memory access": wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS,
}


def _component_trap_code(exc: wasmtime.WasmtimeError) -> wasmtime.TrapCode | None:
    text = str(exc)
    for message, code in _TRAP_MESSAGES.items():
        if message in text:
            return code
    return None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or ["unknown error"])[0]
