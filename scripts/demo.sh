#!/usr/bin/env bash
# The `make run` demo: what the release build can do today.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/vfpmd
"$bin" version
"$bin" --help
