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
for t in "${targets[@]}"; do
    if ! swift build --scratch-path .build-fuzz --sanitize fuzzer --sanitize address --product "$t" >"$log" 2>&1; then
        grep -E "error" "$log" | head -20 >&2
        echo "fuzz: building $t failed" >&2
        exit 1
    fi
done

bin=$(swift build --scratch-path .build-fuzz --sanitize fuzzer --sanitize address --show-bin-path)
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
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/log" | tr '\n' ' '; echo
    rm -rf "$work"
done
