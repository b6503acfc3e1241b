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

step "make vmtest (real kernel: QEMU guest with an IOMMU and an SR-IOV igb NIC, our driver through vfio-pci)"
make vmtest
