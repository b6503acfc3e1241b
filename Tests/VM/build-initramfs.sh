#!/usr/bin/env bash
# Builds the guest's initramfs: busybox (static), the guest kernel's modules the checks need
# (igb PF, igbvf, VFIO, virtio-9p for the host's root filesystem) and guest/init.
# Usage: build-initramfs.sh KERNEL_VERSION OUTPUT.cpio.gz [VFIO.ko]
# With VFIO.ko, that file is the guest's vfio module instead of the kernel's own (the no-IOMMU
# boot's, from build-vfio-noiommu.sh).
set -euo pipefail
kver=$1
output=$2
vfio_override=${3:-}
[ -z "$vfio_override" ] || [ -f "$vfio_override" ] || { echo "build-initramfs: $vfio_override does not exist" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

busybox=/bin/busybox
[ -x "$busybox" ] && file_is_static=$(ldd "$busybox" 2>&1 || true) || true
case "${file_is_static:-}" in
    *"not a dynamic executable"*) ;;
    *) echo "build-initramfs: $busybox is not the static busybox (install busybox-static)" >&2; exit 1 ;;
esac
[ -d "/lib/modules/$kver" ] || { echo "build-initramfs: no modules for kernel $kver" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,sbin,proc,sys,dev,host,etc,lib/modules/"$kver"}
cp "$busybox" "$work/bin/busybox"
for applet in sh mount umount insmod mkdir echo cat sleep poweroff chroot ls grep tr; do
    ln -s busybox "$work/bin/$applet"
done

# Modules in load order (each one's dependencies first), once each.
wanted=(igb igbvf vfio vfio_iommu_type1 vfio-pci virtio_pci 9pnet_virtio 9p)
: > "$work/modules.order"
for m in "${wanted[@]}"; do
    modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko")
    if [ -n "$vfio_override" ] && [ "${name%%.ko*}" = vfio ]; then
        cp "$vfio_override" "$work/lib/modules/$kver/vfio.ko"
        echo vfio.ko >> "$work/modules.order"
        continue
    fi
    case "$ko" in
        *.ko) cp "$ko" "$work/lib/modules/$kver/$name" ;;
        *.ko.xz) xz -dc "$ko" > "$work/lib/modules/$kver/${name%.xz}"; name=${name%.xz} ;;
        *.ko.zst) zstd -qdc "$ko" > "$work/lib/modules/$kver/${name%.zst}"; name=${name%.zst} ;;
        *) echo "build-initramfs: unexpected module file $ko" >&2; exit 1 ;;
    esac
    echo "$name" >> "$work/modules.order"
done
[ -s "$work/modules.order" ] || { echo "build-initramfs: no modules resolved for $kver" >&2; exit 1; }
echo "$kver" > "$work/etc/kernel-version"

install -m 0755 "$here/guest/init" "$work/init"
mkdir -p "$(dirname "$output")"
(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$output.tmp"
mv "$output.tmp" "$output"
