#!/usr/bin/env bash
# `make run`: forward a capture between two simulated 82599 VFs with the real driver, then
# check with the project's pcap reader that what came out is what went in.
#
# VF "in" plays pcaps/udp64x256.pcap (looped) on its wire, addressed to its MAC; the forwarder
# (io mode: no byte touched) sends every frame out of VF "out", whose wire writes
# out/forwarded.pcap. Spoof checking is off on "out", as an operator sets it for a forwarder:
# the frames keep their original source MAC. The run is bounded (--duration) so that a stall
# fails the check below instead of hanging.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.build/release/vfpmd
input=pcaps/udp64x256.pcap
loop=${DEMO_LOOP:-6000}
mkdir -p out

"$bin" forward \
    --port "sim:ixgbevf,name=in,rx=$input,loop=$loop,mac=02:00:00:00:00:02" \
    --port "sim:ixgbevf,name=out,tx=out/forwarded.pcap,spoofchk=off" \
    --duration 300 2>&1 | tee out/forward.log

summary=$(grep '^forward: ' out/forward.log)
packets=$(sed -E 's/.*; ([0-9]+) packets forwarded.*/\1/' <<<"$summary")
rate=$(sed -E 's/.*\(([0-9.]+) Mpps\).*/\1/' <<<"$summary")
verdict=$("$bin" compare "$input" out/forwarded.pcap --repeat "$loop")
echo
echo "make run: $packets frames of $input (played $loop times) forwarded between two simulated"
echo "82599 VFs at $rate Mpps; out/forwarded.pcap against the input: $verdict"
