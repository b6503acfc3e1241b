#!/usr/bin/env bash
# Builds the guest kernel's vfio.ko with CONFIG_VFIO_NOIOMMU, which Debian's kernels leave out:
# the three source files of the vfio core module from Debian's own linux-source package (the
# same version as the guest kernel), compiled out of tree against that kernel's headers, so that
# vermagic and symbol versions match the stock vfio_iommu_type1 and vfio-pci. Only vfio.ko
# changes with that option (drivers/vfio/container.c and vfio_main.c; include/linux/vfio.h does
# not depend on it), so the other VFIO modules stay Debian's.
#
# Usage: build-vfio-noiommu.sh KERNEL_VERSION OUTPUT.ko
# The module is built once per kernel version: an existing OUTPUT.ko built from the same source
# package version is kept.
set -euo pipefail
kver=$1
output=$2

fail() { echo "build-vfio-noiommu: $*" >&2; exit 1; }

series=$(cut -d. -f1,2 <<<"$kver")                      # 6.1
tarball=/usr/src/linux-source-$series.tar.xz
headers=/lib/modules/$kver/build
[ -f "$tarball" ] || fail "$tarball is missing: install linux-source-$series (Tests/VM/install.sh does)"
[ -f "$headers/Makefile" ] || fail "no headers for $kver in $headers: install linux-headers-$kver (Tests/VM/install.sh does)"
image_version=$(dpkg-query -W -f='${Version}' "linux-image-$kver" 2>/dev/null || true)
source_version=$(dpkg-query -W -f='${Version}' "linux-source-$series" 2>/dev/null || true)
[ -n "$image_version" ] && [ "$image_version" = "$source_version" ] ||
    fail "linux-source-$series is version ${source_version:-none} but the guest kernel linux-image-$kver is ${image_version:-none}: install the same version of both"

stamp="$output.source-version"
if [ -f "$output" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$source_version" ]; then
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
files=(vfio_main.c iova_bitmap.c container.c vfio.h)
tar -xf "$tarball" -C "$work" "${files[@]/#/linux-source-$series/drivers/vfio/}" ||
    fail "could not extract drivers/vfio from $tarball"
mkdir "$work/module"
cp "${files[@]/#/$work/linux-source-$series/drivers/vfio/}" "$work/module/"
# IS_ENABLED(CONFIG_VFIO_NOIOMMU) and #ifdef CONFIG_VFIO_NOIOMMU both see the option.
printf 'obj-m := vfio.o\nvfio-y := vfio_main.o iova_bitmap.o container.o\nccflags-y := -DCONFIG_VFIO_NOIOMMU=1\n' \
    > "$work/module/Kbuild"
make -s -C "$headers" M="$work/module" modules >"$work/build.log" 2>&1 ||
    fail "building vfio.ko failed: $(grep -m3 -E 'error|Error' "$work/build.log" || tail -3 "$work/build.log")"
modinfo -p "$work/module/vfio.ko" | grep -q '^enable_unsafe_noiommu_mode:' ||
    fail "the built vfio.ko has no enable_unsafe_noiommu_mode parameter"
[ "$(modinfo -F vermagic "$work/module/vfio.ko")" = "$(modinfo -k "$kver" -F vermagic vfio)" ] ||
    fail "the built vfio.ko's vermagic differs from the stock module's"
mkdir -p "$(dirname "$output")"
cp "$work/module/vfio.ko" "$output.tmp"
mv "$output.tmp" "$output"
echo "$source_version" > "$stamp"
echo "build-vfio-noiommu: built $output (CONFIG_VFIO_NOIOMMU, linux-source-$series $source_version)"
