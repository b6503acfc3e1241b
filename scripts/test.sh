#!/usr/bin/env bash
# Every test of the project, as `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "== $1"; step_start=$SECONDS; }
done_step() { echo "-- $((SECONDS - step_start)) s"; }

step "swift test (unit, integration and reliability tests)"
swift build --build-tests
swift test
done_step

step "make run (the forwarder demo on two simulated VFs, checked frame by frame)"
make run
done_step

# The driver-cost script end to end (release build, callgrind, parsing) on few packets. It
# prints the driver's instructions per packet; no number is asserted here (benchmarks are not
# tests), only that the script runs and ends with that line.
step "scripts/datapath-cost.sh (smoke run, 6400 packets)"
out=$(scripts/datapath-cost.sh 6400)
echo "$out"
last=$(tail -1 <<<"$out")
[[ $last =~ ^instructions/packet:\ [0-9.]+$ ]] || { echo "datapath-cost.sh did not end with its result line" >&2; exit 1; }
done_step

step "fuzzing: pcap reader, port specs, mailbox replies, RX write-backs (libFuzzer + AddressSanitizer, 40 s each)"
scripts/fuzz.sh 40
done_step

step "soak: 60 s of forwarding between simulated VFs with random faults"
scripts/soak.sh 60
done_step

# The sanitizers run the tests that exercise the driver, the simulator and the apps; the
# 1000-cycle leak tests run once above (they measure the process, which a sanitizer inflates).
step "AddressSanitizer: the test suite"
swift build --build-tests --scratch-path .build-asan --sanitize address
LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt" \
    swift test --skip-build --scratch-path .build-asan --sanitize address --skip CycleLeakTests
done_step

step "ThreadSanitizer: the test suite"
# -DVFPMD_TSAN: device registers are accessed as relaxed atomics under the sanitizer (CShims).
tsan=(--scratch-path .build-tsan --sanitize thread -Xcc -DVFPMD_TSAN -Xswiftc -Xcc -Xswiftc -DVFPMD_TSAN)
swift build --build-tests "${tsan[@]}"
# The tests that run the binary under a file size limit (`ulimit -f`) run above and under
# AddressSanitizer: the thread sanitizer's own runtime dies by SIGBUS under that limit.
TSAN_OPTIONS="halt_on_error=1" swift test --skip-build "${tsan[@]}" --skip CycleLeakTests \
    --skip fileSizeLimit --skip pcapngFileSizeLimit --skip outputFails
done_step

step "make vmtest (real kernel: QEMU guests with an SR-IOV igb NIC, with an IOMMU and without one, our driver through vfio-pci)"
make vmtest
done_step
