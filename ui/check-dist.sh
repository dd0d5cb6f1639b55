#!/usr/bin/env bash
# Rebuilds the console from package-lock.json and fails when the committed
# ui/dist differs from the fresh build (a stale or hand-edited dist).
# Needs Node.js 20+ and npm; run from anywhere: bash ui/check-dist.sh
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
if ! git diff --quiet --exit-code -- dist || [ -n "$(git ls-files --others --exclude-standard -- dist)" ]; then
  echo "ui/dist is stale: the committed build differs from a fresh 'npm ci && npm run build':" >&2
  git status --short -- dist >&2
  git diff --stat -- dist >&2
  echo "rebuild with 'cd ui && npm ci && npm run build' and commit ui/dist" >&2
  exit 1
fi
echo "ui/dist matches a fresh build"
