#!/usr/bin/env bash
# Set up everything Cunbo needs on a Debian/Ubuntu machine; fast when all is already there.
#   scripts/setup.sh          what ./run.sh needs
#   scripts/setup.sh --test   plus the test-only parts (RTMP server, Chromium, PostgreSQL, PDF tools)
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_PACKAGES=(ffmpeg portaudio19-dev fonts-wqy-microhei python3-venv python3-dev gcc)
TEST_PACKAGES=(nginx libnginx-mod-rtmp chromium postgresql poppler-utils)

packages=("${RUN_PACKAGES[@]}")
[ "${1:-}" = "--test" ] && packages+=("${TEST_PACKAGES[@]}")

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  echo "村播 needs a Debian or Ubuntu machine (no dpkg here)." >&2
  echo "Install these yourself, then run again: ${packages[*]}" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "缺少系统软件包 (missing system packages): ${missing[*]}" >&2
    echo "Run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing Python requirements"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

# Translations: compiled from the committed .po files, so a checkout never carries stale .mo files.
.venv/bin/pybabel compile -d app/translations -f >/dev/null
