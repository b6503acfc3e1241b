#!/usr/bin/env bash
# What an idle capture and an idle forward cost: `vfpmd capture` of two cabled simulated 82599
# VFs that receive nothing, then `vfpmd forward` between two such VFs, for S seconds each, with
# --poll busy and then --poll adaptive, R times. Prints the process's CPU time (user + system,
# /usr/bin/time) against its wall time for each run, and what the summary says of the polling.
# The process's CPU time includes the simulator's engine thread (and capture's statistics
# threads), which a run on real VFs does not have.
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
    for command in capture forward; do
        for mode in busy adaptive; do
            if [[ $command == capture ]]; then
                run=(capture --port sim:ixgbevf,name=a,link=b --port sim:ixgbevf,name=b -w "$work/idle.pcapng")
            else
                run=(forward --port sim:ixgbevf,name=a,link=b --port sim:ixgbevf,name=b,link=a)
            fi
            /usr/bin/time -o "$work/time" -f '%U %S %e' "$vfpmd" "${run[@]}" --duration "$seconds" --poll "$mode" \
                2>"$work/err" >/dev/null
            read -r user system wall <"$work/time"
            awk -v c="$command" -v m="$mode" -v u="$user" -v s="$system" -v w="$wall" \
                'BEGIN { printf "%-8s %-9s %6.2f s CPU (%.2f user, %.2f system) in %6.2f s: %5.1f %% of one CPU\n", c, m, u + s, u, s, w, 100 * (u + s) / w }'
            # The summary's polling lines (forward's table has lane lines every second).
            awk '/^forward: / { summary = 1 } /^  polling/ || (summary && /^  lane/)' "$work/err" | sed 's/^/                   /'
            rm -f "$work/idle.pcapng"
        done
    done
done
