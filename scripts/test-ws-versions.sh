#!/usr/bin/env bash
# Runs the tests that cover wsmount's use of ws against the oldest and the newest ws that package.json
# accepts (its "ws" range, e.g. ^8.23.0), each installed with npm into a temporary directory, then the
# outbox tests once more on ws's public API only (WSMOUNT_WS_INTERNALS=0). Fails if any run fails.
# Usage: npm run test:ws-versions [-- VERSION...]   (explicit versions instead of oldest and newest)
set -uo pipefail
cd "$(dirname "$0")/.."
range=$(node -p 'require("./package.json").dependencies.ws')
versions=("$@")
if [ ${#versions[@]} -eq 0 ]; then
  oldest=$(node -p 'process.argv[1].replace(/^[\^~>=]+/, "")' "$range")
  newest=$(npm view "ws@$range" version --json 2>/dev/null | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(Array.isArray(v) ? v[v.length - 1] : v)')
  if [ -z "$newest" ]; then
    echo "could not ask the npm registry for the newest ws matching $range"
    exit 1
  fi
  versions=("$oldest")
  [ "$newest" != "$oldest" ] && versions+=("$newest")
fi
files=(test/hardening/ws-compat.test.ts test/hardening/close-path.test.ts test/core/negotiation-compat.test.ts test/conformance/frames.test.ts test/hardening/outbox.test.ts test/regressions test/foundation/mounting.test.ts test/events)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
last=""
for version in "${versions[@]}"; do
  prefix="$tmp/ws-$version"
  if ! npm install --prefix "$prefix" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "ws@$version" >/dev/null 2>&1; then
    echo "ws $version: could not install it from the npm registry"
    failed=1
    continue
  fi
  last="$prefix/node_modules/ws"
  echo "ws $version (range $range): running ${files[*]}"
  if WSMOUNT_WS_DIR="$last" WSMOUNT_WS_EXPECT="$version" npx vitest run --config scripts/vitest.ws-versions.config.ts "${files[@]}"; then
    echo "ws $version: passed"
  else
    echo "ws $version: FAILED"
    failed=1
  fi
done
if [ -n "$last" ]; then
  echo "ws ${versions[-1]}, public API only (WSMOUNT_WS_INTERNALS=0): running the outbox, ws-compat, close-path and frame tests"
  if WSMOUNT_WS_INTERNALS=0 WSMOUNT_WS_DIR="$last" npx vitest run --config scripts/vitest.ws-versions.config.ts test/hardening/outbox.test.ts test/hardening/ws-compat.test.ts test/hardening/close-path.test.ts test/conformance/frames.test.ts; then
    echo "public API only: passed"
  else
    echo "public API only: FAILED"
    failed=1
  fi
fi
exit $failed
