#!/usr/bin/env bash
# What adaptive polling costs a datapath that has work, against busy polling, in one run:
#   1. wake-up latency: `vfpmd bench --mode loop --latency` between two cabled simulated 82599
#      VFs at a low rate (R frames a second, default 200), so that with --poll adaptive the
#      measuring thread is asleep when each frame comes (idle threshold 200 us < the gap).
#      Each frame carries the TSC at which the sending thread put it on its TX ring; the meter
#      reads the TSC when the application receives it: p50/p99 of that, so the simulated
#      wire (the engine thread's pass) is in both modes' figures, and the wake-up is the
#      difference.
#   2. throughput under load: the same two VFs, unpaced, for S seconds, busy then adaptive.
# Modes alternate in each of N rounds; compare ratios within a run (the machine is shared).
#
# Usage: scripts/polling-bench.sh [S] [N] [R] [VFPMD]   (default 5 s, 1 round, 200 frames/s,
#        .build/release/vfpmd; `swift build -c release --product vfpmd` first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-1}
rate=${3:-200}
vfpmd=${4:-.build/release/vfpmd}
[[ -x $vfpmd ]] || { echo "polling-bench.sh: $vfpmd is missing: swift build -c release --product vfpmd" >&2; exit 1; }
ports=(--port sim:ixgbevf,name=a,link=b --port sim:ixgbevf,name=b,link=a)
# The last JSON object of a run (its summary) on standard input, as one line.
read -r -d '' latency_line <<'PY' || true
import json, sys
r = json.load(sys.stdin)
l = next(iter(r["latency"].values()))
m = r["ports"][-1]
print("latency   %-9s p50 %8.1f us  p99 %8.1f us  (%d frames; meter %s, %.2f s asleep, %d wake-ups)"
      % (sys.argv[1], l["p50"] / 1e3, l["p99"] / 1e3, l["samples"], m["polling"], m["asleep_seconds"], m["wake_ups"]))
PY
read -r -d '' load_line <<'PY' || true
import json, sys
r = json.load(sys.stdin)
s, m = r["ports"][0], r["ports"][-1]
print("load      %-9s TX %.3f Mpps  RX %.3f Mpps  lost %d  (meter %s, %.2f s asleep, %d wake-ups)"
      % (sys.argv[1], s["tx_mpps"], m["rx_mpps"], m["lost"], m["polling"], m["asleep_seconds"], m["wake_ups"]))
PY
for ((round = 1; round <= rounds; round++)); do
    for mode in busy adaptive interrupt; do
        "$vfpmd" bench "${ports[@]}" --mode loop --latency --rate "$rate" --duration "$seconds" --poll "$mode" --json 2>/dev/null \
            | tail -1 | python3 -c "$latency_line" "$mode"
    done
    for mode in busy adaptive; do
        "$vfpmd" bench "${ports[@]}" --mode loop --duration "$seconds" --poll "$mode" --json 2>/dev/null \
            | tail -1 | python3 -c "$load_line" "$mode"
    done
done
