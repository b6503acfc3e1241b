#!/usr/bin/env bash
# The forward rate with a live mirror of every forwarded frame against a plain forward, in one
# run: two simulated 82599 VFs, VF a playing pcaps/udp64x256.pcap (64-byte frames) in a loop,
# io mode, for S seconds each; the runs alternate (plain, mirror to a file, mirror to /dev/null)
# R times. Prints each run's summary line and, for the mirrored ones, the mirror's line.
#
# Usage: scripts/mirror-rate.sh [S] [R] [VFPMD]   (default 5 s, 2 rounds, .build/release/vfpmd;
#        `swift build -c release --product vfpmd` first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-2}
vfpmd=${3:-.build/release/vfpmd}
[[ -x $vfpmd ]] || { echo "mirror-rate.sh: $vfpmd is missing: swift build -c release --product vfpmd" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ports=(--port "sim:ixgbevf,name=a,rx=pcaps/udp64x256.pcap,loop=0,mac=02:00:00:00:00:02" --port "sim:ixgbevf,name=b,spoofchk=off")
for ((round = 1; round <= rounds; round++)); do
    for kind in plain file devnull; do
        case $kind in
            plain) mirror=() ;;
            file) mirror=(--mirror "0:rx=$work/m.pcapng") ;;
            devnull) mirror=(--mirror "0:rx=/dev/null") ;;
        esac
        out=$("$vfpmd" forward --duration "$seconds" "${ports[@]}" "${mirror[@]}" 2>&1 >/dev/null)
        printf '%-8s %s\n' "$kind" "$(grep '^forward:' <<<"$out")"
        grep '^  mirror' <<<"$out" | sed -E 's/: sim:[^ ]* rx:/ rx:/; s/^/         /' || true
        rm -f "$work/m.pcapng"
    done
done
