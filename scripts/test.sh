#!/usr/bin/env bash
# Every test of the project, as `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "== $1"; }

step "swift test (unit and integration tests)"
swift build --build-tests
swift test

step "make run (the forwarder demo on two simulated VFs, checked frame by frame)"
make run

# The driver-cost script end to end (release build, callgrind, parsing) on few packets. It
# prints the driver's instructions per packet; no number is asserted here (benchmarks are not
# tests), only that the script runs and ends with that line.
step "scripts/datapath-cost.sh (smoke run, 6400 packets)"
out=$(scripts/datapath-cost.sh 6400)
echo "$out"
last=$(tail -1 <<<"$out")
[[ $last =~ ^instructions/packet:\ [0-9.]+$ ]] || { echo "datapath-cost.sh did not end with its result line" >&2; exit 1; }

step "make vmtest (real kernel: QEMU guest with an IOMMU and an SR-IOV igb NIC, our driver through vfio-pci)"
make vmtest
