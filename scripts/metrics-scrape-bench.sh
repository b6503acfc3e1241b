#!/usr/bin/env bash
# The cost of watching a forward: `vfpmd forward` between two simulated 82599 VFs, plain, with
# /metrics scraped every 100 ms over one kept-alive connection (as Prometheus scrapes), and
# with a --mirror of every forwarded frame to a pcapng file, alternating, in one run. Besides the rate (noisy on a shared machine: compare the
# columns of one round), the CPU time of the process's dispatch worker threads (where the
# concurrency runtime runs the HTTP server; their names end in "qos"), read from /proc near
# the end of each run: the server's own cost, which the rate's noise would hide.
#
#   scripts/metrics-scrape-bench.sh [SECONDS] [ROUNDS]     (default 10 s, 3 rounds)
#
# Needs a release build (swift build -c release --product vfpmd) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}
VFPMD=${VFPMD:-.build/release/vfpmd}
[ -x "$VFPMD" ] || { echo "no $VFPMD: run swift build -c release --product vfpmd first" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# run [--metrics ADDR | --mirror SPEC]: forwards for SECONDS_PER_RUN; with --metrics, scrapes
# every 100 ms.
# Prints: Mpps, scrapes, CPU ms of the dispatch worker threads.
run() {
    local out; out=$(mktemp)
    "$VFPMD" forward --json --duration "$SECONDS_PER_RUN" "$@" \
        --port sim:ixgbevf,rx=pcaps/udp64x256.pcap,loop=0,mac=02:00:00:00:00:02 \
        --port sim:ixgbevf,spoofchk=off 2>/dev/null > "$out" &
    local pid=$!
    local watch
    local address=""
    [ "${1:-}" = --metrics ] && address=$2
    watch=$(python3 - "$pid" "$address" <<'PY'
import glob, http.client, os, sys, time
pid, address = int(sys.argv[1]), sys.argv[2]
ticks = os.sysconf("SC_CLK_TCK")
def others():   # CPU ms of the dispatch worker threads
    total = 0
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try: text = open(stat).read()
        except OSError: continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if "qos" in name: total += int(fields[11]) + int(fields[12])
    return total * 1000 // ticks
scrapes, connection, cpu = 0, None, 0
while os.path.exists(f"/proc/{pid}/stat") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
    cpu = max(cpu, others())
    if address:
        try:
            connection = connection or http.client.HTTPConnection(*address.split(":"), timeout=1)
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            if response.status == 200 and b"vfpmd_port_rx_packets_total" in response.read(): scrapes += 1
        except (OSError, http.client.HTTPException):
            connection = None
    time.sleep(0.1)
print(scrapes, cpu)
PY
)
    wait "$pid"
    python3 -c 'import json, sys; s = json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("%.3f" % (s["forwarded"] / s["seconds"] / 1e6), sys.argv[2])' "$out" "$watch"
    rm -f "$out"
}

MIRROR=$(mktemp -d)
trap 'rm -rf "$MIRROR"' EXIT
echo "round  plain: Mpps  server threads' CPU ms | scraped: Mpps  scrapes  server threads' CPU ms | mirrored: Mpps"
for round in $(seq "$ROUNDS"); do
    read -r plain _ plain_cpu < <(run)
    read -r with scrapes with_cpu < <(run --metrics "127.0.0.1:$PORT")
    read -r mirrored _ _ < <(run --mirror "0:rx=$MIRROR/every-frame.pcapng")
    rm -f "$MIRROR/every-frame.pcapng"
    printf "%-6s %-12s %-22s | %-14s %-8s %-22s | %s\n" "$round" "$plain" "$plain_cpu" "$with" "$scrapes" "$with_cpu" "$mirrored"
done
