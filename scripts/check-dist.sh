#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh bundle of src/.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ is stale: run 'npm run build' and commit dist/ with the src/ change"
  git status --short -- dist | head -20
  exit 1
fi
