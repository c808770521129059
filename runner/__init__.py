"""The runner: executes one WebAssembly call at a time under wasmtime limits.

See runner/app.py for its HTTP protocol and runner/supervisor.py for the local pool.
"""
