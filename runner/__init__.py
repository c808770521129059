"""The runner: executes one WebAssembly call at a time under wasmtime limits.

`python -m runner` starts its keeper (runner/keeper.py), which keeps a worker process
(runner/server.py: the framed protocol of common/runners/protocol.py) serving the
runner's sockets; runner/supervisor.py keeps the local pool.
"""
