#!/usr/bin/env bash
# Installs what vfpmd needs to build, test and run, and nothing that is already there.
# Usage: scripts/install-deps.sh [run|test]   (default: test, which is a superset of run)
set -euo pipefail

want=${1:-test}
packages=(libpcap-dev pkg-config)
if [ "$want" = test ]; then
    # curl and promtool (Debian: prometheus) scrape and check the --metrics endpoint.
    packages+=(tcpdump tshark wireshark-common valgrind binutils python3 curl prometheus)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    for attempt in 1 2 3; do
        if $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
            break
        fi
        [ "$attempt" -eq 3 ] && { echo "install-deps: apt-get failed for ${missing[*]}" >&2; exit 1; }
        sleep 5   # another apt may hold the lock for a moment
    done
fi

command -v swift >/dev/null || { echo "install-deps: Swift 6.1 or later is required (https://swift.org/install)" >&2; exit 1; }
