#!/usr/bin/env bash
# Installs etcd (Debian/Ubuntu package etcd-server, etcd 3.4: /usr/bin/etcd), which the cluster-store
# tests (test/etcd-store.test.ts through test/harness/etcd.ts) start on free ports of their own.
# Run as root or with sudo. The package enables an etcd service on 2379: where systemd runs, this
# script stops and disables it again (the tests do not need it); in a container without an init
# system it never starts.
set -euo pipefail
if command -v etcd >/dev/null; then
  etcd --version
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi
etcd --version
