#!/usr/bin/env bash
# Makes sure a NATS server is installed: the cluster browser test runs its
# meetd nodes against a real nats-server (with JetStream). Uses $NATS_SERVER
# or nats-server on PATH, installs Debian's package when running as root, and
# otherwise says what is missing.
set -euo pipefail
bin="${NATS_SERVER:-nats-server}"
# Debian puts it in /usr/sbin, which is not on every user's PATH.
if command -v "$bin" >/dev/null || [ -x /usr/sbin/nats-server ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing nats-server for the cluster browser test (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nats-server >/dev/null
  exit 0
fi
echo "WARNING: the cluster browser test needs nats-server (Debian: sudo apt-get install nats-server)" >&2
echo "or NATS_SERVER=/path/to/nats-server; without it the test is skipped, and fails under CI (CI=true)." >&2
