#!/usr/bin/env bash
# Start a Docker engine for the container tests, the way ENVIRONMENT.md prescribes:
# no bridge network, no iptables (nothing may reach private addresses), vfs storage.
# Does nothing when an engine already answers.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "docker engine already running"
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
LOG="${DOCKERD_LOG:-/tmp/nil-dockerd.log}"
nohup dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false \
  >"$LOG" 2>&1 &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine started (log: $LOG)"
    exit 0
  fi
  sleep 0.5
done
echo "docker engine did not start; see $LOG" >&2
exit 1
