#!/usr/bin/env bash
# Copies one pcap file of N 60-byte frames (64 bytes on the wire) on tmpfs with
# `tcpdump -r in.pcap -w out.pcap` and with `vfpmd capture --port pcap:rx=in.pcap -w out.pcap`,
# and prints records per second of each and their ratio (best of 3 runs each).
# The writer alone is measured by `make bench` (PcapBenchmarks).
#
# Usage: scripts/pcap-vs-tcpdump.sh [N]     (default 5000000); needs a release build (make release).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}
vfpmd=.build/release/vfpmd
[[ -x $vfpmd ]] || { echo "pcap-vs-tcpdump.sh: build first: swift build -c release --product vfpmd" >&2; exit 1; }
dir=$(mktemp -d /dev/shm/vfpmd-pcap.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/in.pcap" "$n" <<'PY'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
# Ethernet (broadcast from 02:00:00:00:00:01), IPv4 10.0.0.1 -> 10.0.0.2, UDP 1024 -> 5001.
frame = (bytes.fromhex("ffffffffffff" "020000000001" "0800")
         + bytes.fromhex("4500002e" "00004000" "4011" "0000" "0a000001" "0a000002")
         + bytes.fromhex("0400" "1389" "001a" "0000"))
frame += bytes(60 - len(frame))
assert len(frame) == 60
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
    chunk = bytearray()
    for i in range(n):
        chunk += struct.pack("<IIII", 1_700_000_000 + i // 1_000_000, (i % 1_000_000) * 1000, 60, 60) + frame
        if len(chunk) > 1 << 22:
            f.write(chunk); chunk = bytearray()
    f.write(chunk)
PY
best() {   # best wall time in seconds of 3 runs of "$@"
    local best=999999 t
    for _ in 1 2 3; do
        rm -f "$dir/out.pcap"
        local s=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        t=$(echo "$(date +%s.%N) - $s" | bc -l)
        best=$(echo "if ($t < $best) $t else $best" | bc -l)
    done
    echo "$best"
}
t_tcpdump=$(best tcpdump -r "$dir/in.pcap" -w "$dir/out.pcap")
t_vfpmd=$(best "$vfpmd" capture --port "pcap:rx=$dir/in.pcap" -w "$dir/out.pcap")
records=$(tcpdump -r "$dir/out.pcap" 2>/dev/null | wc -l)
[[ $records == "$n" ]] || { echo "pcap-vs-tcpdump.sh: vfpmd capture wrote $records records, not $n" >&2; exit 1; }
printf 'tcpdump -r in.pcap -w out.pcap:              %6.2f M records/s (%.3f s)\n' "$(echo "$n / $t_tcpdump / 1000000" | bc -l)" "$t_tcpdump"
printf 'vfpmd capture --port pcap:rx=in.pcap -w ...: %6.2f M records/s (%.3f s)\n' "$(echo "$n / $t_vfpmd / 1000000" | bc -l)" "$t_vfpmd"
printf 'ratio vfpmd / tcpdump: %.2f\n' "$(echo "$t_tcpdump / $t_vfpmd" | bc -l)"
