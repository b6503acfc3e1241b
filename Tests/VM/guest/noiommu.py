"""The no-IOMMU boot's scenarios: a guest with no IOMMU at all, where vfio-pci can hand a VF to
user space only in no-IOMMU mode (vfio.ko rebuilt with CONFIG_VFIO_NOIOMMU, loaded with
enable_unsafe_noiommu_mode=1 from the kernel command line). The device then sees physical
addresses. The same capture, transmit, forward and side-by-side checks as the IOMMU boot run on
`pci:ADDR,noiommu=on` ports, then the refusals.
"""

import os

from common import (Failure, PCI, clear_error, driver, igb_pfs, make_vfs_on_igbvf, netdev,
                    prepare_pfs_and_hugepages, read, reserve_hugepages, run, sysfs_bind_vfio, wait_for)
from scenarios import Guest

NOIOMMU_PARAMETER = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"


def noiommu_group(bdf):
    """The no-IOMMU group vfio-pci made for `bdf`, or None. vfio names such groups `vfio-noiommu`
    in sysfs and opens them as /dev/vfio/noiommu-N."""
    link = f"{PCI}/{bdf}/iommu_group"
    if not os.path.islink(link):
        return None
    number = os.path.basename(os.readlink(link))
    name = f"/sys/kernel/iommu_groups/{number}/name"
    return number if os.path.exists(name) and read(name) == "vfio-noiommu" else None


class NoIOMMUGuest(Guest):
    """The no-IOMMU boot: no IOMMU device, one igb PF cabled to the host."""

    HARNESS = ["harness-boot", "harness-wire-tx", "harness-sriov", "harness-bind", "harness-testpmd"]
    PROJECT = ["n1-bind-devices", "s2-capture", "s3-transmit", "s4-forward", "s5-side-by-side", "n6-refusals"]
    TESTPMD_EAL = ("--iova-mode=pa",)

    def pci(self, bdf):
        return f"pci:{bdf},noiommu=on"

    # -- the harness itself, with no project code ----------------------------------------------------
    def boot(self):
        groups = os.listdir("/sys/kernel/iommu_groups")
        if groups:
            raise Failure(f"{len(groups)} IOMMU groups at boot in a guest that should have no IOMMU")
        if not os.path.exists(NOIOMMU_PARAMETER):
            raise Failure("vfio has no enable_unsafe_noiommu_mode parameter: the rebuilt vfio.ko was not loaded")
        if read(NOIOMMU_PARAMETER) != "Y":
            raise Failure(f"enable_unsafe_noiommu_mode is {read(NOIOMMU_PARAMETER)}: "
                          "vfio.enable_unsafe_noiommu_mode=1 on the kernel command line did not reach the module")
        pfs = igb_pfs()
        if len(pfs) != 1:
            raise Failure(f"expected one igb PF, found {pfs}")
        self.pf = pfs[0]
        huge = prepare_pfs_and_hugepages(pfs, self.path("guest-wrote-this"))
        return f"no IOMMU groups, no-IOMMU mode on in vfio, PF {self.pf} ({netdev(self.pf)}), {huge} hugepages"

    def harness_sriov(self):
        vfs = make_vfs_on_igbvf(self.pf)
        grouped = [v for v in vfs if os.path.islink(f"{PCI}/{v}/iommu_group")]
        if grouped:
            raise Failure(f"VFs {grouped} have an IOMMU group on igbvf, in a guest without an IOMMU")
        self.vfs = vfs
        return f"VFs {vfs[0]}, {vfs[1]} on igbvf, without IOMMU groups"

    def harness_bind(self):
        vf = self.vfs[1]
        sysfs_bind_vfio(vf)
        wait_for(lambda: noiommu_group(vf) is not None, 10, f"a vfio-noiommu group for {vf}")
        node = f"/dev/vfio/noiommu-{noiommu_group(vf)}"
        wait_for(lambda: os.path.exists(node), 10, node)
        return f"{vf} on vfio-pci in no-IOMMU group {noiommu_group(vf)}, {node} present"

    def harness(self):
        self.scenario("harness-wire-tx", self.harness_wire_tx)
        if self.scenario("harness-sriov", self.harness_sriov):
            if self.scenario("harness-bind", self.harness_bind):
                self.scenario("harness-testpmd", self.harness_testpmd)

    # -- the project's own commands ------------------------------------------------------------------
    def n1_bind_devices(self):
        self.need_vfpmd()
        self.vfs = make_vfs_on_igbvf(self.pf)
        refused = clear_error(self.vfpmd_run("bind", self.vfs[0]), self.vfs[0], "--no-iommu")
        if driver(self.vfs[0]) != "igbvf":
            raise Failure(f"vfpmd bind without --no-iommu was refused but moved {self.vfs[0]} to {driver(self.vfs[0])}")
        r = self.vfpmd_run("bind", "--no-iommu", *self.vfs)
        if r.returncode != 0:
            raise Failure(f"vfpmd bind --no-iommu exited {r.returncode}: {(r.stderr + r.stdout).strip()[:300]}")
        groups = {vf: noiommu_group(vf) for vf in self.vfs}
        if any(driver(vf) != "vfio-pci" or g is None for vf, g in groups.items()):
            raise Failure(f"after vfpmd bind --no-iommu: drivers {[driver(v) for v in self.vfs]}, no-IOMMU groups {groups}")
        listing = self.vfpmd_run("devices")
        lines = [l for l in listing.stdout.splitlines() if any(vf in l for vf in self.vfs)]
        if listing.returncode != 0 or len(lines) != 2 or not all("noiommu" in l.lower() for l in lines):
            raise Failure(f"vfpmd devices does not show both VFs' groups as no-IOMMU: {lines or listing.stdout[:300]}")
        return (f"bind without --no-iommu: '{refused}'; with it: {', '.join(f'{v} group noiommu-{g}' for v, g in groups.items())}; "
                f"devices: '{lines[0].strip()}'")

    def n6_refusals(self):
        """A no-IOMMU group without noiommu=on, no hugepages, not root: each one sentence; and the
        warning every no-IOMMU open prints."""
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        capture = ["capture", "-w", "/dev/shm/n6.pcap", "-c", "1", "--duration", "5", "--port"]
        warning = open(self.path("s2-capture.log"), errors="replace").read() if os.path.exists(self.path("s2-capture.log")) else ""
        warned = [l for l in warning.splitlines() if "warning" in l.lower() and "memory" in l.lower() and "taint" in l.lower()]
        if not warned:
            raise Failure(f"s2's capture printed no warning that the VF can reach all memory and the kernel is tainted: "
                          f"{warning[:300]}")
        unasked = clear_error(self.vfpmd_run(*capture, f"pci:{vf0}"), vf0, ("noiommu=on", "--no-iommu"))
        reserved = int(read("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"))
        reserve_hugepages(0)
        try:
            no_huge = clear_error(self.vfpmd_run(*capture, self.pci(vf0)), "hugepage")
        finally:
            if reserve_hugepages(reserved) != reserved:
                raise Failure(f"could not reserve the {reserved} hugepages again")
        nobody = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", self.vfpmd, *capture, self.pci(vf0)],
                     check=False)
        not_root = clear_error(nobody, ("root", "permission", "CAP_SYS"))
        for what, line in (("without noiommu=on", unasked), ("without hugepages", no_huge), ("as nobody", not_root)):
            if not line.startswith("error:"):
                raise Failure(f"{what}, the first line is not the error: '{line}'")
        return f"without noiommu=on: '{unasked}'; no hugepages: '{no_huge}'; as nobody: '{not_root}'; warning: '{warned[0].strip()}'"
