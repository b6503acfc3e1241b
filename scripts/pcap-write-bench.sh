#!/usr/bin/env bash
# Writing 64-byte frames to a tmpfs file: vfpmd capture (pcap port -> pcap file) side by side
# with tcpdump -r in.pcap -w out.pcap on the same input. Both read the input with libpcap and
# write a capture; with --micro vfpmd's output must be byte-identical to tcpdump's.
#
#   scripts/pcap-write-bench.sh [FRAMES] [RUNS]     (default 5000000 frames, 3 runs each)
#
# Needs a release build (swift build -c release --product vfpmd), tcpdump and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMES=${1:-5000000}
RUNS=${2:-3}
VFPMD=${VFPMD:-.build/release/vfpmd}
DIR=$(mktemp -d /dev/shm/pcap-write-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

[ -x "$VFPMD" ] || { echo "no $VFPMD: run swift build -c release --product vfpmd first" >&2; exit 1; }

python3 - "$DIR/in.pcap" "$FRAMES" <<'PY'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
frame = bytes.fromhex("020000000002020000000001") + b"\x08\x00" + bytes(range(50))  # 64 bytes
with open(path, "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    chunk = 100000
    for start in range(0, n, chunk):
        out.write(b"".join(struct.pack("<IIII", 1767225600 + i // 1000000, i % 1000000, 64, 64) + frame
                           for i in range(start, min(n, start + chunk))))
PY

now() { date +%s%N; }
best() { sort -n | head -1; }
mpps() { awk -v n="$FRAMES" -v ns="$1" 'BEGIN { printf "%.2f", n / (ns / 1e9) / 1e6 }'; }

tcpdump_ns=$(for _ in $(seq "$RUNS"); do
    t0=$(now); tcpdump -r "$DIR/in.pcap" -w "$DIR/tcpdump.pcap" 2>/dev/null; t1=$(now); echo $((t1 - t0))
done | best)
vfpmd_ns=$(for _ in $(seq "$RUNS"); do
    t0=$(now); "$VFPMD" capture --port "pcap:rx=$DIR/in.pcap" -w "$DIR/vfpmd.pcap" --micro 2>/dev/null; t1=$(now); echo $((t1 - t0))
done | best)

cmp -s "$DIR/tcpdump.pcap" "$DIR/vfpmd.pcap" && same="byte-identical" || same="DIFFERENT"
echo "64-byte frames: $FRAMES, tmpfs, best of $RUNS runs (process start to exit)"
echo "  tcpdump -r in -w out           $(mpps "$tcpdump_ns") Mpps"
echo "  vfpmd capture pcap:rx=in -w out $(mpps "$vfpmd_ns") Mpps"
echo "  ratio vfpmd/tcpdump            $(awk -v a="$tcpdump_ns" -v b="$vfpmd_ns" 'BEGIN { printf "%.2f", a / b }')"
echo "  outputs (--micro)              $same"
