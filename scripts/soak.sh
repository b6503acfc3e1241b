#!/usr/bin/env bash
# Soak: forwarding between two simulated VFs for DURATION seconds (default 60) with random
# faults injected into both; prints packets in = packets out + counted drops and the leak
# checks, and exits non-zero when one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
swift build --product vfpmd-soak >/dev/null
# Driver logs (re-initialisations) go to stderr; keep the last ones for a failed run.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout $((duration * 2 + 120)) .build/debug/vfpmd-soak "$duration" pcaps/udp64x256.pcap 2>"$log"; then
    tail -20 "$log" >&2
    exit 1
fi
