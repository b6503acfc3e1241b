#!/usr/bin/env bash
# `make vmtest`: installs what the VM checks need, builds vfpmd (release), boots the guest once and
# runs every real-kernel scenario in it. Exits non-zero if anything fails or cannot run.
# Extra arguments go to vmtest.py (e.g. -v to echo the guest console).
set -euo pipefail
cd "$(dirname "$0")/../.."

Tests/VM/install.sh
scripts/install-deps.sh test   # tcpdump and tshark read the captures back
echo "== swift build -c release --product vfpmd"
swift build -c release --product vfpmd
echo "== real-kernel checks in a QEMU guest (TCG, emulated IOMMU, igb with SR-IOV)"
exec python3 Tests/VM/vmtest.py "$@"
