#!/usr/bin/env bash
# `make vmtest`: installs what the VM checks need, builds vfpmd (release), then boots the guest
# twice: with an emulated IOMMU, and with none (vfio-pci in no-IOMMU mode). Each boot runs all of
# its real-kernel scenarios. Exits non-zero if anything fails or cannot run; both boots always run.
# Extra arguments go to vmtest.py (e.g. -v to echo the guest console).
set -euo pipefail
cd "$(dirname "$0")/../.."

Tests/VM/install.sh
scripts/install-deps.sh test   # tcpdump and tshark read the captures back
echo "== swift build -c release --product vfpmd"
swift build -c release --product vfpmd
status=0
echo "== real-kernel checks in a QEMU guest (TCG, emulated IOMMU, igb with SR-IOV)"
python3 Tests/VM/vmtest.py "$@" || status=1
echo "== real-kernel checks in a QEMU guest without IOMMU (vfio-pci in no-IOMMU mode, igb with SR-IOV)"
python3 Tests/VM/vmtest.py --mode noiommu "$@" || status=1
exit $status
