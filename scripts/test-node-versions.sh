#!/usr/bin/env bash
# Runs the test suite on other Node majors (default: 22 and 24) besides the one installed, with Node
# binaries from the npm registry's `node` package. Usage: npm run test:versions [-- 22 24]
# TEST_FILES="test/core test/hardening" limits the run to those files or folders.
set -uo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(22 24)
failed=0
for major in "${versions[@]}"; do
  bin=$(npx -y -p "node@$major" -c 'dirname "$(command -v node)"' 2>/dev/null | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/node" ]; then
    echo "Node $major: could not get a binary from the npm registry"
    failed=1
    continue
  fi
  echo "Node $("$bin/node" --version): running the test suite"
  # shellcheck disable=SC2086 # TEST_FILES is a list of paths
  if PATH="$bin:$PATH" npx vitest run ${TEST_FILES:-}; then echo "Node $major: passed"; else echo "Node $major: FAILED"; failed=1; fi
done
exit $failed
