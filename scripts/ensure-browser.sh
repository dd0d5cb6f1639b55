#!/usr/bin/env bash
# Makes sure the browser tests can run: Debian's Chromium (installed with apt
# when missing; needs root) and the npm project of e2e/browser (the real
# @segment/analytics-next and esbuild, from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing and this is not root: install Debian's chromium package" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d e2e/browser/node_modules ]; then
  npm ci --prefix e2e/browser --no-audit --no-fund --loglevel=error
fi
