#!/usr/bin/env bash
# What an idle capture costs: `vfpmd capture` of two cabled simulated 82599 VFs that receive
# nothing, for S seconds, with --poll busy and then --poll adaptive, R times. Prints the
# process's CPU time (user + system, /usr/bin/time) against its wall time for each run. The
# process's CPU time includes the simulator's engine thread and the statistics threads, which
# a capture of real VFs does not have.
#
# Usage: scripts/idle-cpu.sh [S] [R] [VFPMD]   (default 10 s, 1 round, .build/release/vfpmd;
#        `swift build -c release --product vfpmd` first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-1}
vfpmd=${3:-.build/release/vfpmd}
[[ -x $vfpmd ]] || { echo "idle-cpu.sh: $vfpmd is missing: swift build -c release --product vfpmd" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "idle-cpu.sh: /usr/bin/time is missing: install the time package" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((round = 1; round <= rounds; round++)); do
    for mode in busy adaptive; do
        /usr/bin/time -o "$work/time" -f '%U %S %e' "$vfpmd" capture --port sim:ixgbevf,name=a,link=b --port sim:ixgbevf,name=b \
            -w "$work/idle.pcapng" --duration "$seconds" --poll "$mode" 2>"$work/err" >/dev/null
        read -r user system wall <"$work/time"
        awk -v m="$mode" -v u="$user" -v s="$system" -v w="$wall" \
            'BEGIN { printf "%-9s %6.2f s CPU (%.2f user, %.2f system) in %6.2f s: %5.1f %% of one CPU\n", m, u + s, u, s, w, 100 * (u + s) / w }'
        grep '^  polling' "$work/err" | sed 's/^/          /'
        rm -f "$work/idle.pcapng"
    done
done
