#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh bundle of src/.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
untracked=$(git ls-files --others --exclude-standard -- dist)
if ! git diff --quiet HEAD -- dist || [ -n "$untracked" ]; then
  echo "dist/ is stale: run 'npm run build' and commit dist/ with the src/ change"
  git diff --stat HEAD -- dist | tail -5
  [ -z "$untracked" ] || echo "not committed: $untracked"
  exit 1
fi
