#!/usr/bin/env bash
# Makes sure a Firefox for the browser tests is installed: uses $FIREFOX or
# /usr/bin/firefox-esr, installs Debian's firefox-esr when running as root,
# and otherwise stops with what to do.
set -euo pipefail
bin="${FIREFOX:-/usr/bin/firefox-esr}"
if [ -x "$bin" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Firefox ESR for the browser tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends firefox-esr >/dev/null
  [ -x "$bin" ] && exit 0
fi
echo "ERROR: the browser tests need Firefox at $bin." >&2
echo "Install it (Debian: sudo apt-get install firefox-esr) or set FIREFOX=/path/to/firefox." >&2
exit 1
