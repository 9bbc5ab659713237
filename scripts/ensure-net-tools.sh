#!/usr/bin/env bash
# Makes sure the network tests' tools are installed: ip and iptables (network
# namespaces with a NAT between them) and pebble (a local ACME CA). Installs
# Debian's packages when running as root, and otherwise says what is missing.
set -euo pipefail
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v pebble >/dev/null || missing+=(pebble)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]} for the network tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "WARNING: the network tests need ${missing[*]} (Debian: sudo apt-get install ${missing[*]});" >&2
echo "without them they are skipped, and fail under CI (CI=true; the browser tests take CI=1 too)." >&2
