#!/usr/bin/env bash
# Makes sure ffmpeg and ffprobe are installed: meetd makes recordings'
# combined files with ffmpeg, and the recording tests check every file with
# ffprobe and decode it with ffmpeg. Installs Debian's package when running
# as root, and otherwise says what is missing.
set -euo pipefail
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ffmpeg for the recording tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  exit 0
fi
echo "WARNING: the recording tests need ffmpeg (Debian: sudo apt-get install ffmpeg);" >&2
echo "without it they are skipped, and fail under CI (CI=true)." >&2
