#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/*) with the fuzzer and AddressSanitizer and runs each for
# SECONDS (default 45) from its committed seed corpus (Fuzz/corpus/NAME; new inputs go to a
# scratch copy). A crash, a failed precondition or a sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
targets=(FuzzPcapReader FuzzPortSpec FuzzMailboxReply FuzzRxWriteBack)
export VFPMD_FUZZ=1
mkdir -p .build-fuzz
log=.build-fuzz/build.log
# --sanitize fuzzer instruments only the target's own module; the coverage flags instrument
# every module (the parsers and the driver are in the libraries) so the fuzzer is guided.
flags=(--scratch-path .build-fuzz --sanitize fuzzer --sanitize address
       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
for t in "${targets[@]}"; do
    if ! swift build "${flags[@]}" --product "$t" >"$log" 2>&1; then
        grep -E "error" "$log" | head -20 >&2
        echo "fuzz: building $t failed" >&2
        exit 1
    fi
done

bin=$(swift build "${flags[@]}" --show-bin-path)
for t in "${targets[@]}"; do
    work=$(mktemp -d)
    cp Fuzz/corpus/"$t"/* "$work"/
    echo "-- $t: ${seconds} s"
    if ! (cd "$work" && "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 . \
            >"$work/log" 2>&1); then
        tail -40 "$work/log" >&2
        echo "fuzz: $t failed; the crashing input is in $work" >&2
        exit 1
    fi
    grep -E "DONE" "$work/log" | tail -1
    rm -rf "$work"
done
