#!/usr/bin/env bash
# Makes sure a Chromium for the browser tests is installed: uses $CHROMIUM or
# /usr/bin/chromium, installs Debian's package when running as root, and
# otherwise stops with what to do.
set -euo pipefail
bin="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [ -x "$bin" ] && exit 0
fi
echo "ERROR: the browser tests need Chromium at $bin." >&2
echo "Install it (Debian: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium." >&2
exit 1
