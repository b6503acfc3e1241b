#!/usr/bin/env bash
# Copies one pcap file on tmpfs with `tcpdump -r in.pcap -w out.pcap` and with
# `vfpmd capture --port pcap:rx=in.pcap -w out.pcap`, and prints records per second of each and
# their ratios (best of 3 runs each, by wall time and by CPU time: on a shared machine the CPU
# time moves less), for two files: N 60-byte frames (64 bytes on the wire) and
# N/5 frames of the classic IMIX (60, 576 and 1514 bytes, 7:4:1). It also reads each file to
# /dev/null with both, which measures the reading side alone.
# The writer alone is measured by `make bench` (PcapBenchmarks).
#
# Usage: scripts/pcap-vs-tcpdump.sh [--small | --imix] [--vfpmd PATH]... [N]
#   --small / --imix   only the 60-byte file / only the IMIX file (default: both)
#   --vfpmd PATH       a vfpmd to measure (repeat it to compare builds in one run; default
#                      .build/release/vfpmd)
#   N                  records of the 60-byte file (default 5000000); the IMIX file has N/5
# Needs a release build (make release).
set -euo pipefail
cd "$(dirname "$0")/.."
files=(small imix)
binaries=()
n=5000000
while (($#)); do
    case $1 in
        --small) files=(small) ;;
        --imix) files=(imix) ;;
        --vfpmd) binaries+=("$2"); shift ;;
        *) n=$1 ;;
    esac
    shift
done
((${#binaries[@]})) || binaries=(.build/release/vfpmd)
for vfpmd in "${binaries[@]}"; do
    [[ -x $vfpmd ]] || { echo "pcap-vs-tcpdump.sh: $vfpmd is not built: swift build -c release --product vfpmd" >&2; exit 1; }
done
dir=$(mktemp -d /dev/shm/vfpmd-pcap.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# make_pcap PATH COUNT SIZE...: COUNT records cycling through the frame SIZEs.
make_pcap() {
    python3 - "$@" <<'PY'
import struct, sys
path, n, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
def frame(size):
    # Ethernet (broadcast from 02:00:00:00:00:01), IPv4 10.0.0.1 -> 10.0.0.2, UDP 1024 -> 5001.
    ip_length = size - 14
    f = (bytes.fromhex("ffffffffffff" "020000000001" "0800")
         + struct.pack(">BBHHHBBH4s4s", 0x45, 0, ip_length, 0, 0x4000, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
         + struct.pack(">HHHH", 1024, 5001, ip_length - 20, 0))
    return f + bytes(size - len(f))
frames = {size: frame(size) for size in set(sizes)}
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
    chunk = bytearray()
    for i in range(n):
        size = sizes[i % len(sizes)]
        chunk += struct.pack("<IIII", 1_700_000_000 + i // 1_000_000, (i % 1_000_000) * 1000, size, size) + frames[size]
        if len(chunk) > 1 << 22:
            f.write(chunk); chunk = bytearray()
    f.write(chunk)
PY
}

best() {   # "WALL CPU": the best wall time and the best user+system time, in seconds, of 3 runs of "$@"
    local wall=999999 cpu=999999 w u k
    for _ in 1 2 3; do
        rm -f "$dir/out.pcap"
        /usr/bin/time -f '%e %U %S' -o "$dir/time" "$@" >/dev/null 2>&1
        read -r w u k < "$dir/time"
        wall=$(echo "if ($w < $wall) $w else $wall" | bc -l)
        cpu=$(echo "if ($u + $k < $cpu) $u + $k else $cpu" | bc -l)
    done
    echo "$wall $cpu"
}

ratio() {   # ratio A B: A / B with two decimals, n/a when B is 0 (below the timer's 10 ms)
    if [[ $(echo "$2 > 0" | bc -l) == 1 ]]; then printf '%.2f' "$(echo "$1 / $2" | bc -l)"; else echo n/a; fi
}

report() {   # report LABEL RECORDS WALL CPU
    printf '  %-52s %7.2f M records/s (%.2f s; %.2f s of CPU)\n' "$1" "$(echo "$2 / $3 / 1000000" | bc -l)" "$3" "$4"
}

for file in "${files[@]}"; do
    if [[ $file == small ]]; then
        records=$n
        make_pcap "$dir/in.pcap" "$records" 60
        echo "$records 60-byte frames:"
    else
        records=$((n / 5))
        make_pcap "$dir/in.pcap" "$records" 60 60 60 576 60 60 576 60 576 60 1514 576
        echo "$records IMIX frames (60, 576, 1514 bytes; 7:4:1):"
    fi
    for output in "$dir/out.pcap" /dev/null; do
        read -r w_tcpdump c_tcpdump < <(best tcpdump -r "$dir/in.pcap" -w "$output")
        report "tcpdump -r in.pcap -w ${output##*/}" "$records" "$w_tcpdump" "$c_tcpdump"
        for vfpmd in "${binaries[@]}"; do
            read -r w_vfpmd c_vfpmd < <(best "$vfpmd" capture --port "pcap:rx=$dir/in.pcap" -w "$output")
            if [[ $output != /dev/null ]]; then
                written=$(tcpdump -r "$output" 2>/dev/null | wc -l)
                [[ $written == "$records" ]] || { echo "pcap-vs-tcpdump.sh: $vfpmd capture wrote $written records, not $records" >&2; exit 1; }
            fi
            report "$vfpmd capture ... -w ${output##*/}" "$records" "$w_vfpmd" "$c_vfpmd"
            printf '    ratio %s / tcpdump: %s (wall), %s (CPU)\n' "$vfpmd" \
                "$(ratio "$w_tcpdump" "$w_vfpmd")" "$(ratio "$c_tcpdump" "$c_vfpmd")"
        done
    done
done
