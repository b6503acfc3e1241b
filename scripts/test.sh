#!/usr/bin/env bash
# Every test of the project, as `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift test (unit and integration tests)"
swift build --build-tests
swift test
