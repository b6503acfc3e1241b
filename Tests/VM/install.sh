#!/usr/bin/env bash
# Installs what the VM checks need, and nothing that is already there:
#   QEMU 10 (the `igb` device model) from bookworm-backports, and from bookworm itself the
#   guest kernel, busybox for the initramfs, DPDK (testpmd is in dpdk-dev) and the PCI tools,
#   and for the no-IOMMU boot the guest kernel's headers and the same version of its source.
# Idempotent; run as root (or with sudo). Needs only the Debian archive.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# apt may be held for a moment by another apt process: retry a few times.
apt_retry() {
    local attempt
    for attempt in 1 2 3 4 5; do
        if $sudo apt-get -o DPkg::Lock::Timeout=120 "$@"; then return 0; fi
        [ "$attempt" -eq 5 ] && return 1
        echo "vm-install: apt-get $1 failed (attempt $attempt), retrying in 10 s" >&2
        sleep 10
    done
}

# --- bookworm-backports sources entry, copied from the machine's own Debian entry --------------
backports=/etc/apt/sources.list.d/vfpmd-bookworm-backports.sources
need_update=0
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uris="" signed=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # the stanza whose Suites list the plain "bookworm" suite
        read -r u s < <(awk -v RS= '
            {
                u = ""; sg = ""; ok = 0; n = split($0, L, "\n")
                for (i = 1; i <= n; i++) {
                    if (L[i] ~ /^Suites:/ && (" " L[i] " ") ~ /[ \t]bookworm[ \t]/) ok = 1
                    if (L[i] ~ /^URIs:/) { u = L[i]; sub(/^URIs:[ \t]*/, "", u) }
                    if (L[i] ~ /^Signed-By:/) { sg = L[i]; sub(/^Signed-By:[ \t]*/, "", sg) }
                }
                if (ok && u != "") { print u, sg; exit }
            }' "$f") || true
        if [ -n "${u:-}" ]; then uris=$u; signed=${s:-}; break; fi
    done
    if [ -z "$uris" ] && [ -f /etc/apt/sources.list ]; then
        uris=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    fi
    [ -n "$uris" ] || uris=http://deb.debian.org/debian
    [ -n "$signed" ] || signed=/usr/share/keyrings/debian-archive-keyring.gpg
    echo "vm-install: adding $backports (URIs: $uris)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "$uris" "$signed" | $sudo tee "$backports" >/dev/null
    need_update=1
fi

# --- packages ---------------------------------------------------------------------------------
from_bookworm=(linux-image-amd64 busybox-static dpdk dpdk-dev pciutils cpio kmod iproute2 python3)
missing=()
for p in "${from_bookworm[@]}"; do installed "$p" || missing+=("$p"); done

qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null &&
   qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
    qemu_ok=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok -eq 0 ] || [ $need_update -eq 1 ]; then
    apt_retry update -qq || { echo "vm-install: apt-get update failed" >&2; exit 1; }
fi
if [ $qemu_ok -eq 0 ]; then
    echo "vm-install: installing qemu-system-x86 from bookworm-backports"
    apt_retry install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 ||
        { echo "vm-install: could not install qemu-system-x86 from bookworm-backports" >&2; exit 1; }
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "vm-install: installing ${missing[*]}"
    apt_retry install -y -qq --no-install-recommends "${missing[@]}" ||
        { echo "vm-install: could not install ${missing[*]}" >&2; exit 1; }
fi

qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"' ||
    { echo "vm-install: qemu-system-x86_64 has no igb device model (QEMU 8 or later is needed)" >&2; exit 1; }
ls /boot/vmlinuz-* >/dev/null 2>&1 ||
    { echo "vm-install: no guest kernel in /boot (linux-image-amd64)" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null ||
    { echo "vm-install: dpdk-testpmd missing (package dpdk-dev)" >&2; exit 1; }

# --- for the no-IOMMU boot: the guest kernel's headers and the same version of its source -------
# (build-vfio-noiommu.sh rebuilds vfio.ko with CONFIG_VFIO_NOIOMMU from them)
kver=$(basename "$(ls /boot/vmlinuz-* | sort -V | tail -1)"); kver=${kver#vmlinuz-}
series=$(cut -d. -f1,2 <<<"$kver")
image_version=$(dpkg-query -W -f='${Version}' "linux-image-$kver")
source_version=$(dpkg-query -W -f='${Version}' "linux-source-$series" 2>/dev/null || true)
if ! installed "linux-headers-$kver" || [ "$source_version" != "$image_version" ] ||
   ! installed "linux-source-$series"; then
    echo "vm-install: installing linux-headers-$kver and linux-source-$series=$image_version"
    apt_retry update -qq || { echo "vm-install: apt-get update failed" >&2; exit 1; }
    apt_retry install -y -qq --no-install-recommends "linux-headers-$kver" \
            "linux-source-$series=$image_version" make gcc xz-utils ||
        { echo "vm-install: could not install linux-headers-$kver and linux-source-$series=$image_version (the guest kernel's exact version), which the no-IOMMU boot needs" >&2; exit 1; }
fi
exit 0
