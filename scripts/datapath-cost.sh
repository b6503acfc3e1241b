#!/usr/bin/env bash
# The driver's cost per forwarded packet, deterministically: a release build of datapath-cost
# (Benchmarks/Sources/datapath-cost: two simulated 82599 VFs, 64-byte packets, burst 32, the
# device model stepped in the same thread) run under callgrind for N and then 2N packets; the
# difference of the two runs, minus the device model's steps, is the driver's instructions per
# packet. Also counts swift_retain/swift_release/malloc calls in the forwarding loop, and prints
# the driver's TSC ticks per packet from a native run (noisy on a shared VM).
#
# Usage: scripts/datapath-cost.sh [N]     (default 200000 packets; a multiple of 64)
# Needs valgrind and objcopy (binutils). The last line printed: "instructions/packet: X".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
packets=${1:-200000}
packets=$(( packets / 64 * 64 ))
(( packets >= 64 )) || { echo "datapath-cost.sh: give at least 64 packets" >&2; exit 2; }
for tool in valgrind objcopy python3; do
    command -v "$tool" >/dev/null || { echo "datapath-cost.sh: $tool is missing (apt-get install valgrind binutils python3)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== release build of datapath-cost (in Benchmarks/)"
(cd Benchmarks && swift build -c release --product datapath-cost >"$work/build.log" 2>&1) \
    || { cat "$work/build.log" >&2; echo "datapath-cost.sh: the release build failed" >&2; exit 1; }
tail -1 "$work/build.log"
binary="$(cd Benchmarks && swift build -c release --show-bin-path)/datapath-cost"
# valgrind 3.19 cannot read the DWARF Swift 6.3 emits: strip debug info (symbols stay).
objcopy --strip-debug "$binary" "$work/datapath-cost"

echo "== native run, $packets packets"
"$work/datapath-cost" "$packets"

# Collection is on only inside the forwarding loop, DriverRig.forward(rounds:).
loop='$s9DriverRigAAC7forward6roundsS2i_tF'
for n in "$packets" $(( 2 * packets )); do
    echo "== callgrind, $n packets"
    valgrind --tool=callgrind --toggle-collect="$loop" --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$work/callgrind.$n" "$work/datapath-cost" "$n" >"$work/run.$n.log" 2>&1 \
        || { cat "$work/run.$n.log" >&2; exit 1; }
    grep -E "^forwarded" "$work/run.$n.log"
done
if [[ -n "${DATAPATH_COST_KEEP:-}" ]]; then
    cp "$work/callgrind.$packets" "$work/callgrind.$(( 2 * packets ))" "$DATAPATH_COST_KEEP"/
    cp "$work/datapath-cost" "$DATAPATH_COST_KEEP"/
fi
python3 "$root/scripts/callgrind-driver-cost.py" "$packets" "$work/callgrind.$packets" "$work/callgrind.$(( 2 * packets ))"
