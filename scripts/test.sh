#!/usr/bin/env bash
# Runs every check and test, as CI does. Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || { echo "could not install the test dependencies"; exit 1; }

status=0
step() {
  echo "== $1"
  shift
  "$@" || { echo "FAILED: $*"; status=1; }
}

step "lint" npx eslint .
step "format" npx prettier --check --log-level warn .
step "types" npx tsc --noEmit
step "dist is up to date" bash scripts/check-dist.sh

report=$(mktemp)
NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile="$report" "$@"
jest_status=$?
[ $jest_status -eq 0 ] || status=1
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  console.log(`${r.numPassedTests} passed, ${failed} failed`);
' "$report" || { echo "0 passed, 1 failed"; status=1; }
rm -f "$report"
exit $status
