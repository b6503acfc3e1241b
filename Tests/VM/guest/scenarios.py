"""The real-kernel scenarios, run inside the QEMU guest (in a chroot into the host's root
filesystem, so the host's python3, iproute2, dpdk-testpmd and the freshly built vfpmd all run).

Results go to the serial console as `VMTEST <scenario> PASS|FAIL <detail>`; traffic is asked of
the host with `VMTEST-REQ <id> <action> <json>`, answered in the file `<out>/ack/<id>`.
"""


import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *  # noqa: E402,F401,F403
import wire  # noqa: E402

IOMMU_HARNESS = ["harness-boot", "harness-wire-tx", "harness-sriov", "harness-bind", "harness-testpmd",
                 "harness-shared-group"]
IOMMU_PROJECT = ["s1-sriov-devices-bind", "s2-capture", "s3-transmit", "s4-forward",
                 "s5-side-by-side", "s5-flood", "s7-idle-pf-reset", "s8-model-compare", "s9-wake-up-latency",
                 "s6-wrong-address",
                 "s6-device-busy", "s6-vf-on-igbvf", "s6-group-not-viable"]


# --- the scenarios -------------------------------------------------------------------------------------

class Guest:
    """The IOMMU boot: an emulated Intel IOMMU, two igb PFs (one behind a root port without ACS)."""

    HARNESS = IOMMU_HARNESS
    PROJECT = IOMMU_PROJECT
    # Extra EAL arguments of dpdk-testpmd (the no-IOMMU boot's use physical addresses).
    TESTPMD_EAL = ()

    def __init__(self, repo, out, vfpmd):
        self.repo = repo
        self.out = out
        self.host = Host(out)
        self.vfpmd = vfpmd
        self.pf = None          # the igb PF cabled to the host's wire
        self.pf2 = None         # the igb PF behind the root port without ACS
        self.vfs = []
        self.pf2_vf = None      # its VF, in the same IOMMU group as that PF

    def path(self, name):
        return os.path.join(self.out, name)

    def pci(self, bdf):
        """The port spec of a VF in this boot's scenarios."""
        return f"pci:{bdf}"

    def scenario(self, name, body):
        say(f"VMTEST-BEGIN {name}")
        started = time.monotonic()
        try:
            detail = body()
            report(name, True, f"{detail} ({time.monotonic() - started:.1f} s)")
            return True
        except Failure as e:
            report(name, False, str(e))
        except Exception as e:
            report(name, False, f"{type(e).__name__}: {e}")
        return False

    # -- the harness itself, with no project code ----------------------------------------------------
    def boot(self):
        groups = os.listdir("/sys/kernel/iommu_groups")
        if not groups:
            raise Failure("no IOMMU groups: intel_iommu=on did not take effect")
        pfs = igb_pfs()
        on_root = [d for d in pfs if d.startswith("0000:00:")]
        behind = [d for d in pfs if not d.startswith("0000:00:")]
        if len(on_root) != 1 or len(behind) != 1:
            raise Failure(f"expected one igb PF on the root bus and one behind the root port, found {pfs}")
        self.pf, self.pf2 = on_root[0], behind[0]
        huge = prepare_pfs_and_hugepages(pfs, self.path("guest-wrote-this"))
        return (f"{len(groups)} IOMMU groups, PF {self.pf} ({netdev(self.pf)}, group {group(self.pf)}), "
                f"PF {self.pf2} behind a root port (group {group(self.pf2)}), {huge} hugepages")

    def harness_wire_tx(self):
        """Frames sent by the PF's kernel netdev reach the host's sink byte for byte."""
        import socket
        dev = netdev(self.pf)
        src = wire.mac_bytes(read(f"/sys/class/net/{dev}/address"))
        frames = wire.generated_frames(20, src_mac=src, dst_mac=wire.mac_bytes(HOST_MAC))
        self.host.request("record-start", name="wire-tx")
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((dev, 0))
            for f in frames:
                s.send(f)
                time.sleep(0.01)
        got = self.host.request("record-stop", name="wire-tx", src=wire.mac_text(src), settle=1,
                                pcap=self.path("harness-wire-tx.pcap"))
        received = [wire.padded(f) for f in wire.read_pcap(self.path("harness-wire-tx.pcap"))]
        compare_frames(received, [wire.padded(f) for f in frames], "frames the host received from the PF")
        return f"{got['count']} frames from {dev} reached the host byte-exact"

    def harness_shared_group(self):
        """A VF of the PF behind the root port without ACS shares that PF's IOMMU group."""
        write(f"{PCI}/{self.pf2}/sriov_numvfs", "1")
        wait_for(lambda: len(virtfns(self.pf2)) == 1, 30, f"a VF of {self.pf2}")
        vf = virtfns(self.pf2)[0]
        members = sorted(os.listdir(f"/sys/kernel/iommu_groups/{group(vf)}/devices"))
        if self.pf2 not in members:
            raise Failure(f"VF {vf} is in group {group(vf)} with {members}, without its PF {self.pf2}")
        self.pf2_vf = vf
        return f"VF {vf} ({driver(vf)}) shares group {group(vf)} with {', '.join(m for m in members if m != vf)}"

    def harness_sriov(self):
        vfs = make_vfs_on_igbvf(self.pf)
        groups = {group(v) for v in vfs} | {group(self.pf)}
        if len(groups) != 3:
            raise Failure(f"PF and VFs do not have 3 distinct IOMMU groups: {groups}")
        ids = [read(f"{PCI}/{v}/device") for v in vfs]
        if ids != ["0x10ca", "0x10ca"]:
            raise Failure(f"VF device ids {ids}, expected 0x10ca")
        self.vfs = vfs
        return f"VFs {vfs[0]} (group {group(vfs[0])}), {vfs[1]} (group {group(vfs[1])}) on igbvf"

    def harness_bind(self):
        vf = self.vfs[1]
        sysfs_bind_vfio(vf)
        node = f"/dev/vfio/{group(vf)}"
        wait_for(lambda: os.path.exists(node), 10, node)
        return f"{vf} on vfio-pci, {node} present"

    def harness_testpmd(self):
        vf = self.vfs[1]
        frames = wire.generated_frames(40, dst_mac=wire.mac_bytes(VF_MACS[1]))
        wire.write_pcap(self.path("harness-testpmd-input.pcap"), frames)
        pmd = TestPMD(vf, self.path("harness-testpmd.log"), eal=self.TESTPMD_EAL)
        mac_seen = VF_MACS[1] in pmd.text().lower()
        sent = self.host.request("inject", pcap=self.path("harness-testpmd-input.pcap"), rate=100)["sent"]
        time.sleep(1)
        received, dropped = pmd.stop()
        if not mac_seen:
            raise Failure(f"dpdk-testpmd did not report the VF MAC {VF_MACS[1]}: {pmd.tail()}")
        if received != sent:
            raise Failure(f"host sent {sent} frames to {VF_MACS[1]}, testpmd counted {received} (dropped {dropped})")
        return f"testpmd (net_e1000_igb_vf) on {vf} counted {received} of {sent} injected frames"

    # -- the project's own commands ------------------------------------------------------------------
    def vfpmd_run(self, *args, timeout=120):
        return run([self.vfpmd, *args], timeout=timeout, check=False)

    def need_vfpmd(self):
        if not os.access(self.vfpmd, os.X_OK):
            raise Failure(f"{self.vfpmd} is not built (swift build -c release --product vfpmd)")

    def ensure_vfs_on_vfio(self):
        """What scenario 1 should have left: 2 VFs with known MACs on vfio-pci. When scenario 1
        failed, sysfs does it, so that each later scenario still tests its own command."""
        if len(virtfns(self.pf)) != 2:
            set_numvfs(self.pf, 2)
            wait_for(lambda: len(virtfns(self.pf)) == 2, 30, "2 VFs")
            set_vf_macs(self.pf, 2)
        self.vfs = virtfns(self.pf)
        for vf in self.vfs:
            if driver(vf) != "vfio-pci":
                sysfs_bind_vfio(vf)

    def s1_sriov_devices_bind(self):
        self.need_vfpmd()
        r = self.vfpmd_run("sriov", self.pf, "--vfs", "2")
        if r.returncode != 0:
            raise Failure(f"vfpmd sriov {self.pf} --vfs 2 exited {r.returncode}: {(r.stderr + r.stdout).strip()[:300]}")
        wait_for(lambda: len(virtfns(self.pf)) == 2, 30, "2 VFs after vfpmd sriov")
        vfs = virtfns(self.pf)
        wait_for(lambda: all(driver(v) == "igbvf" for v in vfs), 30, "the new VFs to be bound to igbvf")
        set_vf_macs(self.pf, 2)
        self.vfs = vfs

        r = self.vfpmd_run("devices", "--json")
        if r.returncode != 0:
            raise Failure(f"vfpmd devices --json exited {r.returncode}: {r.stderr.strip()[:300]}")
        try:
            records = json.loads(r.stdout)
        except ValueError as e:
            raise Failure(f"vfpmd devices --json is not JSON ({e}): {r.stdout[:200]}")
        by_address = {json_field(d, "address"): d for d in records}
        for bdf in [self.pf] + vfs:
            if bdf not in by_address:
                raise Failure(f"vfpmd devices --json does not list {bdf}; it lists {sorted(by_address)}")
            d = by_address[bdf]
            if str(json_field(d, "iommu_group", "iommuGroup")) != group(bdf):
                raise Failure(f"{bdf}: iommu_group {json_field(d, 'iommu_group', 'iommuGroup')}, sysfs says {group(bdf)}")
            if json_field(d, "driver") != driver(bdf):
                raise Failure(f"{bdf}: driver {json_field(d, 'driver')}, sysfs says {driver(bdf)}")
        for i, vf in enumerate(vfs):
            d = by_address[vf]
            pf = json_field(d, "pf", "physfn", "physical_function")
            if pf != self.pf:
                raise Failure(f"{vf}: pf {pf}, expected {self.pf}")
            if json_field(d, "vf_index", "vfIndex") != i:
                raise Failure(f"{vf}: vf_index {json_field(d, 'vf_index', 'vfIndex')}, expected {i}")

        r = self.vfpmd_run("bind", *vfs)
        if r.returncode != 0:
            raise Failure(f"vfpmd bind {' '.join(vfs)} exited {r.returncode}: {(r.stderr + r.stdout).strip()[:300]}")
        for vf in vfs:
            if driver(vf) != "vfio-pci":
                raise Failure(f"after vfpmd bind, {vf} is bound to {driver(vf)}")
            if not os.path.exists(f"/dev/vfio/{group(vf)}"):
                raise Failure(f"/dev/vfio/{group(vf)} missing after vfpmd bind {vf}")
        r = self.vfpmd_run("devices", "--json")
        after = {json_field(d, "address"): json_field(d, "driver") for d in json.loads(r.stdout)}
        if any(after.get(vf) != "vfio-pci" for vf in vfs):
            raise Failure(f"vfpmd devices --json after bind: {after}")
        return (f"sriov made {vfs}; devices --json: PF group {group(self.pf)} igb, VFs groups "
                f"{group(vfs[0])}/{group(vfs[1])} igbvf; bind moved both to vfio-pci")

    def input_frames(self, dst):
        """Every frame of the committed captures that the emulated wire can carry, then generated
        frames; destination rewritten to `dst`."""
        frames, sources = [], []
        for path in sorted(glob.glob(os.path.join(self.repo, "pcaps", "*.pcap"))):
            try:
                eligible = [f for f in wire.read_pcap(path) if wire.wire_eligible(f)][:48]
            except wire.PcapError as e:
                raise Failure(f"a committed capture cannot be read: {e}")
            frames += eligible
            sources.append(f"{os.path.basename(path)}:{len(eligible)}")
        frames += wire.generated_frames(40)
        sources.append("generated:40")
        return [wire.with_dst(f, dst) for f in frames], sources

    def s2_capture(self):
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        frames, sources = self.input_frames(wire.mac_bytes(VF_MACS[0]))
        wire.write_pcap(self.path("s2-input.pcap"), frames)
        output = self.path("s2-capture.pcap")
        cap = Background([self.vfpmd, "capture", "--port", self.pci(vf0), "-w", output, "-c", str(len(frames)),
                          "--duration", "90"], self.path("s2-capture.log"))
        cap.wait_ready("received", 90)
        self.host.request("inject", pcap=self.path("s2-input.pcap"), rate=100)
        status = cap.wait(90)
        if status != 0:
            raise Failure(f"vfpmd capture exited {status}: {cap.tail()}")
        got = wire.read_pcap(output)
        compare_frames(got, [wire.padded(f) for f in frames], "capture on VF0")
        return f"{len(got)} frames byte-exact ({', '.join(sources)}; short ones padded to 60)"

    def s3_transmit(self):
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        frames, sources = self.input_frames(wire.mac_bytes("02:00:00:00:00:99"))
        source = self.path("s3-replay.pcap")
        wire.write_pcap(source, frames)
        self.host.request("record-start", name="s3")
        fwd = Background([self.vfpmd, "forward", "--port", f"pcap:rx={source},tx=/dev/shm/s3-back.pcap",
                          "--port", self.pci(vf0), "--mode", "mac", "--peer-mac", HOST_MAC, "--peer-mac", HOST_MAC,
                          # VF0 is an input too (pairs forward both ways) and never runs dry:
                          # stop once every frame of the file is forwarded.
                          "--count", str(len(frames)), "--duration", "30"], self.path("s3-forward.log"))
        status = fwd.wait(90)
        got = self.host.request("record-stop", name="s3", src=VF_MACS[0], pcap=self.path("s3-sink.pcap"), settle=1)
        want = [wire.padded(wire.with_addresses(f, wire.mac_bytes(VF_MACS[0]), wire.mac_bytes(HOST_MAC))) for f in frames]
        received = [wire.padded(f) for f in wire.read_pcap(self.path("s3-sink.pcap"))]
        try:
            compare_frames(received, want, f"frames the host received from VF0 (of {got['all_sources']} from any source)")
        except Failure as e:
            raise Failure(f"{e}; vfpmd forward exited {status}: {fwd.tail()}")
        if status != 0:
            raise Failure(f"the host received all {len(want)} frames byte-exact, but vfpmd forward (pcap -> VF0) "
                          f"exited {status}: {fwd.tail()}")
        return f"host received all {got['count']} frames, byte-exact with MACs rewritten ({', '.join(sources)})"

    def s4_forward(self):
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0, vf1 = self.vfs
        frames, sources = self.input_frames(wire.mac_bytes(VF_MACS[0]))
        wire.write_pcap(self.path("s4-input.pcap"), frames)
        self.host.request("record-start", name="s4")
        fwd = Background([self.vfpmd, "forward", "--port", self.pci(vf0), "--port", self.pci(vf1), "--mode", "mac",
                          "--peer-mac", HOST_MAC, "--peer-mac", HOST_MAC, "--duration", "120"],
                         self.path("s4-forward.log"))
        try:
            wait_for(lambda: len(fwd.text().strip().splitlines()) >= 2 or fwd.proc.poll() is not None, 90,
                     "vfpmd forward's first statistics")
            if fwd.proc.poll() is not None:
                raise Failure(f"vfpmd forward exited {fwd.proc.returncode}: {fwd.tail()}")
            self.host.request("inject", pcap=self.path("s4-input.pcap"), rate=100)
            time.sleep(2)
        finally:
            status = fwd.interrupt()
        got = self.host.request("record-stop", name="s4", src=VF_MACS[1], pcap=self.path("s4-sink.pcap"))
        want = [wire.padded(wire.with_addresses(f, wire.mac_bytes(VF_MACS[1]), wire.mac_bytes(HOST_MAC))) for f in frames]
        received = [wire.padded(f) for f in wire.read_pcap(self.path("s4-sink.pcap"))]
        try:
            compare_frames(received, want, f"frames the host received from VF1 (of {got['all_sources']} from any source)")
        except Failure as e:
            raise Failure(f"{e}; vfpmd forward exited {status}: {fwd.tail()}")
        if status != 0:
            raise Failure(f"the host received all {len(want)} frames byte-exact, but vfpmd forward (VF0 -> VF1) "
                          f"exited {status} on SIGINT: {fwd.tail()}")
        return f"{len(received)} frames in at VF0, out at VF1 to the host, byte-exact with MACs rewritten"

    def s5_side_by_side(self):
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0, vf1 = self.vfs
        count = 100
        to0 = wire.generated_frames(count, dst_mac=wire.mac_bytes(VF_MACS[0]))
        to1 = wire.generated_frames(count, dst_mac=wire.mac_bytes(VF_MACS[1]))
        wire.write_pcap(self.path("s5-input.pcap"), [f for pair in zip(to0, to1) for f in pair])
        pmd = TestPMD(vf1, self.path("s5-testpmd.log"), eal=self.TESTPMD_EAL)
        try:
            cap = Background([self.vfpmd, "capture", "--port", self.pci(vf0), "-w", self.path("s5-capture.pcap"),
                              "-c", str(count), "--duration", "90"], self.path("s5-capture.log"))
            cap.wait_ready("received", 90)
            self.host.request("inject", pcap=self.path("s5-input.pcap"), rate=100)
            status = cap.wait(90)
            time.sleep(1)
        finally:
            received, dropped = pmd.stop()
        if status != 0:
            raise Failure(f"vfpmd capture exited {status}: {cap.tail()}")
        captured = wire.read_pcap(self.path("s5-capture.pcap"))
        if received != count or len(captured) != count:
            raise Failure(f"host sent {count} frames to each VF: testpmd counted {received} (dropped {dropped}), "
                          f"vfpmd captured {len(captured)}")
        compare_frames(captured, [wire.padded(f) for f in to0], "vfpmd capture on VF0")
        return f"side by side: testpmd on VF1 counted {received}, vfpmd capture on VF0 wrote {len(captured)} of {count}"

    def flood_testpmd(self, vf, mac, seconds, log):
        """Frames per second dpdk-testpmd (rxonly) receives on `vf` during a host flood to `mac`."""
        pmd = TestPMD(vf, log, eal=self.TESTPMD_EAL)
        try:
            self.host.request("flood", dst=mac, seconds=seconds)
            time.sleep(1)
        finally:
            received, _ = pmd.stop()
        return received / seconds

    def flood_vfpmd(self, vf, mac, seconds, log):
        """Frames per second `vfpmd capture` receives on `vf` during a host flood to `mac`."""
        cap = Background([self.vfpmd, "capture", "--port", self.pci(vf), "-w", "/dev/shm/s5-flood.pcap",
                          "-s", "96", "--duration", str(seconds + 40)], log)
        try:
            cap.wait_ready("received", 90)
            self.host.request("flood", dst=mac, seconds=seconds)
            time.sleep(1)
        finally:
            status = cap.interrupt()
            if os.path.exists("/dev/shm/s5-flood.pcap"):
                os.unlink("/dev/shm/s5-flood.pcap")
        counts = re.findall(r"^\s*received\s+(\d+)", cap.text(), re.M)
        if status != 0 or not counts:
            raise Failure(f"vfpmd capture under flood exited {status}: {cap.tail()}")
        return int(counts[-1]) / seconds

    def s5_flood(self):
        """Floods of 64-byte frames, testpmd and vfpmd in turn (twice each, alternating, so that
        both see the same load from the rest of the machine); the best of each is compared."""
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0, vf1 = self.vfs
        seconds, rounds = 6, 2
        testpmd, vfpmd = [], []
        for r in range(rounds):
            testpmd.append(self.flood_testpmd(vf1, VF_MACS[1], seconds, self.path(f"s5-flood-testpmd-{r}.log")))
            try:
                vfpmd.append(self.flood_vfpmd(vf0, VF_MACS[0], seconds, self.path(f"s5-flood-capture-{r}.log")))
            except Failure as e:
                raise Failure(f"testpmd rxonly {testpmd[-1]:.0f} pps; vfpmd: {e}")
        best_vfpmd, best_testpmd = max(vfpmd), max(testpmd)
        if best_vfpmd <= 0 or best_testpmd <= 0:
            raise Failure(f"no frames under flood: vfpmd {vfpmd}, testpmd {testpmd} pps")
        ratio = best_vfpmd / best_testpmd
        with open(self.path("flood.json"), "w") as f:
            json.dump({"seconds": seconds, "frame_bytes": 64, "vfpmd_capture_pps": [round(x) for x in vfpmd],
                       "testpmd_rxonly_pps": [round(x) for x in testpmd], "ratio_of_best": round(ratio, 3)}, f, indent=1)
        return (f"{rounds}x{seconds} s floods of 64-byte frames under TCG: vfpmd capture "
                f"{'/'.join(f'{x:.0f}' for x in vfpmd)} pps, testpmd rxonly {'/'.join(f'{x:.0f}' for x in testpmd)} pps, "
                f"ratio vfpmd/testpmd (best of each) {ratio:.2f}")

    def s7_idle_pf_reset(self):
        """An adaptive capture (the default) on an idle VF sleeps on its MSI-X eventfds: its CPU
        time over an idle stretch is a few % of a core. A PF reset (igb resets the port on link
        down and up and tells every VF through the mailbox) wakes it through the mailbox vector
        while no frame arrives, and the driver re-initialises the VF; frames sent afterwards are
        all captured byte-exact."""
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        frames = wire.generated_frames(50, dst_mac=wire.mac_bytes(VF_MACS[0]))
        wire.write_pcap(self.path("s7-input.pcap"), frames)
        output = self.path("s7-capture.pcap")
        cap = Background([self.vfpmd, "capture", "--port", self.pci(vf0), "-w", output, "-c", str(len(frames)),
                          "--duration", "150"], self.path("s7-capture.log"))
        try:
            cap.wait_ready("wake-up", 90)
            time.sleep(2)                              # past the idle threshold
            idle_seconds = 10
            before, started = process_cpu_seconds(cap.proc.pid), time.monotonic()
            time.sleep(idle_seconds)
            idle_share = (process_cpu_seconds(cap.proc.pid) - before) / (time.monotonic() - started)
            asleep_before, wakes_before = last_polling(cap.text())
            if wakes_before != 0:
                raise Failure(f"{wakes_before} wake-ups on an idle VF before the PF reset: {cap.tail(1)}")
            seen = len(cap.text())
            reset_at = time.monotonic()
            run(["ip", "link", "set", netdev(self.pf), "down"])
            time.sleep(1)
            run(["ip", "link", "set", netdev(self.pf), "up"])
            wait_for(lambda: "re-initialised" in cap.text()[seen:] or cap.proc.poll() is not None, 60,
                     "the capture to re-initialise the VF after the PF reset")
            noticed = time.monotonic() - reset_at
            wait_for(lambda: last_polling(cap.text())[1] > 0 or cap.proc.poll() is not None, 10,
                     "a wake-up from the mailbox vector")
            if cap.proc.poll() is not None:
                raise Failure(f"vfpmd capture exited {cap.proc.returncode} after the PF reset: {cap.tail()}")
            wakes_by_mailbox = last_polling(cap.text())[1]
            time.sleep(3)                              # the PF's link is up again, the capture asleep
            self.host.request("inject", pcap=self.path("s7-input.pcap"), rate=100)
            status = cap.wait(90)
        finally:
            if cap.proc.poll() is None:
                cap.interrupt()
        if status != 0:
            raise Failure(f"vfpmd capture exited {status}: {cap.tail()}")
        compare_frames(wire.read_pcap(output), [wire.padded(f) for f in frames], "capture after the PF reset")
        if idle_share > 0.05:
            raise Failure(f"the idle adaptive capture used {idle_share:.1%} of a CPU over {idle_seconds} s "
                          f"({asleep_before:.1f} s asleep)")
        return (f"idle {idle_seconds} s: {idle_share:.2%} of a CPU (process total, {asleep_before:.1f} s asleep so far); "
                f"PF reset noticed and the VF re-initialised {noticed:.1f} s after the link went down, "
                f"{wakes_by_mailbox} wake-up(s) with no frame; then {len(frames)} frames byte-exact")

    def s8_model_compare(self):
        """The same frames received, then sent, by the driver on QEMU's igb VF and on the
        simulator's 82576 VF (`sim:igbvf`, in this guest, same binary): the mailbox exchange of
        each bring-up, every frame's receive write-back and the statistics registers at close, as
        the driver logs them at trace level, must match but for the differences written down in
        Tests/VM/model-differences.json, each with the hardware fact behind it; a new difference,
        or a listed one that is gone, fails. The frames captured and sent must be byte-identical."""
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        frames, sources = self.input_frames(wire.mac_bytes(VF_MACS[0]))
        wire.write_pcap(self.path("s8-input.pcap"), frames)
        count = str(len(frames))
        trace = ["--log-level", "trace"]

        # Receive: the host injects into VF0; the simulated VF plays the same file on its wire.
        real = Background([self.vfpmd, "capture", "--port", self.pci(vf0), "-w", self.path("s8-qemu.pcap"), "-c", count,
                           "--duration", "90", *trace], self.path("s8-qemu.log"))
        real.wait_ready("wake-up", 90)
        self.host.request("inject", pcap=self.path("s8-input.pcap"), rate=100)
        if real.wait(90) != 0:
            raise Failure(f"vfpmd capture on {vf0} failed: {real.tail()}")
        sim = self.vfpmd_logged("s8-sim.log", "capture", "--port", f"sim:igbvf,rx={self.path('s8-input.pcap')},mac={VF_MACS[0]}",
                                "-w", self.path("s8-sim.pcap"), "-c", count, "--duration", "90", *trace)
        received = (model_trace(real.text()), model_trace(sim))

        # Transmit: the file forwarded out of VF0 (the host records the wire) and out of the
        # simulated VF (its wire recorded by tx=).
        forward = ["forward", "--port", f"pcap:rx={self.path('s8-input.pcap')}", "--mode", "mac", "--peer-mac", HOST_MAC,
                   "--peer-mac", HOST_MAC, "--count", count, "--duration", "60", *trace, "--port"]
        self.host.request("record-start", name="s8")
        real_tx = self.vfpmd_logged("s8-qemu-tx.log", *forward, self.pci(vf0))
        self.host.request("record-stop", name="s8", src=VF_MACS[0], pcap=self.path("s8-qemu-tx.pcap"), settle=1)
        sim_tx = self.vfpmd_logged("s8-sim-tx.log", *forward, f"sim:igbvf,mac={VF_MACS[0]},tx={self.path('s8-sim-tx.pcap')}")
        sent = (model_trace(real_tx), model_trace(sim_tx))

        for what, (qemu, simulated) in (("capture", received), ("forward", sent)):
            if not qemu["mailbox"] or not qemu["counters"] or not simulated["counters"]:
                raise Failure(f"the trace of the {what} lacks the mailbox exchange or the device counters: "
                              f"QEMU {qemu['counters']}, sim {simulated['counters']}")
        differences = ([dict(d, what="receive: " + d["what"]) for d in trace_differences(*received)]
                       + [dict(d, what="transmit: " + d["what"]) for d in trace_differences(*sent)])
        with open(self.path("s8-differences.json"), "w") as f:
            json.dump(differences, f, indent=1)
        with open(os.path.join(self.repo, "Tests", "VM", "model-differences.json")) as f:
            known = json.load(f)["differences"]
        found = {d["what"]: d for d in differences}
        written = {d["what"]: d for d in known}
        unexplained = [w for w, d in written.items() if not d.get("fact")]
        if unexplained:
            raise Failure(f"model-differences.json lists differences without the fact behind them: {unexplained}")
        new = [found[w] for w in found if w not in written]
        gone = [w for w in written if w not in found]
        if new or gone:
            raise Failure(f"QEMU's igb VF and sim:igbvf differ in {len(found)} ways ({len(new)} not written down: "
                          f"{json.dumps(new)[:400]}; written down but gone: {gone}); all in s8-differences.json")
        compare_frames(wire.read_pcap(self.path("s8-sim.pcap")), wire.read_pcap(self.path("s8-qemu.pcap")),
                       "sim:igbvf's capture against QEMU's")
        compare_frames([wire.padded(f) for f in wire.read_pcap(self.path("s8-sim-tx.pcap"))],
                       [wire.padded(f) for f in wire.read_pcap(self.path("s8-qemu-tx.pcap"))],
                       "what sim:igbvf sent against what QEMU's VF put on the wire")
        return (f"receive: {len(received[0]['mailbox'])} mailbox messages, {len(received[0]['write-backs'])} write-backs, "
                f"counters '{received[0]['counters']}'; transmit: {len(sent[0]['mailbox'])} mailbox messages, counters "
                f"'{sent[0]['counters']}' ({', '.join(sources)}); differences: {', '.join(found) or 'none'}, each written down")

    def s9_wake_up_latency(self):
        """Wake-up latency on the real kernel, a benchmark: the guest's PF sends frames to VF0's
        MAC one every 100 ms (igb switches them to the VF inside the NIC, VM-to-VM loopback), to a
        capture in `--poll busy` and then in `--poll adaptive`, which sleeps between them; each
        frame's latency is its capture timestamp less the moment it was sent, on the guest's one
        clock. Asserted: every frame captured byte-exact in both modes (nothing lost across a sleep
        and its wake-up); the latencies are reported and kept in s9-latency.json, not judged."""
        import socket
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0, dev = self.vfs[0], netdev(self.pf)
        source = wire.mac_bytes(read(f"/sys/class/net/{dev}/address"))
        count = 40
        frames = [wire.with_dst(f, wire.mac_bytes(VF_MACS[0])) for f in wire.generated_frames(2 * count, src_mac=source)
                  if len(f) >= 60 and len(f) <= 1514][:count]
        results = {}
        for mode in ("busy", "adaptive"):
            output = self.path(f"s9-{mode}.pcap")
            cap = Background([self.vfpmd, "capture", "--port", self.pci(vf0), "--poll", mode, "-w", output,
                              "-c", str(len(frames)), "--duration", "90"], self.path(f"s9-{mode}.log"))
            sent_at = []
            try:
                cap.wait_ready("received", 90)
                time.sleep(1)
                with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
                    s.bind((dev, 0))
                    for frame in frames:
                        sent_at.append(time.time())
                        s.send(frame)
                        time.sleep(0.1)
                status = cap.wait(60)
            finally:
                if cap.proc.poll() is None:
                    cap.interrupt()
            if status != 0:
                raise Failure(f"--poll {mode}: vfpmd capture exited {status}: {cap.tail()}")
            records = wire.read_pcap_records(output)
            compare_frames([f for _, f in records], [wire.padded(f) for f in frames],
                           f"--poll {mode} capture of the frames the PF sent to VF0")
            latencies = sorted((t - sent) * 1e6 for (t, _), sent in zip(records, sent_at))
            results[mode] = {"p50_us": round(latencies[len(latencies) // 2]),
                             "p99_us": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]),
                             "max_us": round(latencies[-1]), "frames": len(latencies)}
        with open(self.path("s9-latency.json"), "w") as f:
            json.dump(results, f, indent=1)
        return "; ".join(f"--poll {m}: p50 {r['p50_us']} µs, p99 {r['p99_us']} µs over {r['frames']} frames, all byte-exact"
                         for m, r in results.items())

    def vfpmd_logged(self, log, *args):
        """Runs vfpmd to its end, its standard error kept in the output directory; returns it."""
        r = self.vfpmd_run(*args)
        with open(self.path(log), "w") as f:
            f.write(r.stderr)
        if r.returncode != 0:
            raise Failure(f"`vfpmd {' '.join(args[:4])} ...` exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return r.stderr

    def s6_wrong_address(self):
        self.need_vfpmd()
        missing = "0000:00:1f.7"
        no_device = ("no PCI device", "no such device", "does not exist")
        one = clear_error(self.vfpmd_run("bind", missing), missing, no_device)
        two = clear_error(self.vfpmd_run("capture", "--port", self.pci(missing), "-w", "/dev/shm/x.pcap", "-c", "1"),
                          missing, no_device)
        three = clear_error(self.vfpmd_run("bind", "00:zz.9"), "00:zz.9")
        return f"bind: '{one}'; capture: '{two}'; malformed: '{three}'"

    def s6_device_busy(self):
        """Two processes on one VF: the second is told the device is busy; the first goes on."""
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf0 = self.vfs[0]
        first = subprocess.Popen([self.vfpmd, "capture", "--port", self.pci(vf0), "-w", "/dev/shm/busy.pcap",
                                  "--duration", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # The first process holds the VF once its live counters start (one line a second).
            line = first.stderr.readline()
            if first.poll() is not None or not line:
                raise Failure(f"the first vfpmd capture on {vf0} did not start: {line.strip()[:200]}")
            message = clear_error(self.vfpmd_run("capture", "--port", self.pci(vf0), "-w", "/dev/shm/busy2.pcap",
                                                 "-c", "1", "--duration", "5"), vf0, "busy")
            if first.poll() is not None:
                raise Failure(f"the first capture ended when the second tried the VF (status {first.returncode})")
        finally:
            first.send_signal(signal.SIGINT)
            try:
                first.wait(timeout=30)
            except subprocess.TimeoutExpired:
                first.kill()
        if first.returncode != 0:
            raise Failure(f"the first capture exited {first.returncode} after SIGINT")
        return f"second process on {vf0}: '{message}'; the first went on and ended cleanly"

    def s6_vf_on_igbvf(self):
        self.need_vfpmd()
        self.ensure_vfs_on_vfio()
        vf1 = self.vfs[1]
        r = self.vfpmd_run("unbind", vf1)
        if r.returncode != 0 or driver(vf1) != "igbvf":
            raise Failure(f"vfpmd unbind {vf1} exited {r.returncode}, driver now {driver(vf1)}: {r.stderr.strip()[:200]}")
        message = clear_error(self.vfpmd_run("capture", "--port", self.pci(vf1), "-w", "/dev/shm/x.pcap", "-c", "1",
                                             "--duration", "5"), vf1, "igbvf", "bind")
        return f"unbind returned {vf1} to igbvf; capture on it: '{message}'"

    def s6_group_not_viable(self):
        self.need_vfpmd()
        vf = self.pf2_vf
        if vf is None:
            raise Failure("the shared-group VF behind the root port was not created (see harness-shared-group)")
        r = self.vfpmd_run("bind", vf)
        if r.returncode != 0:
            message = clear_error(r, "viable", self.pf2)
            return f"bind refused: '{message}'"
        if driver(vf) != "vfio-pci":
            raise Failure(f"vfpmd bind {vf} exited 0 but the VF is bound to {driver(vf)}")
        message = clear_error(self.vfpmd_run("capture", "--port", self.pci(vf), "-w", "/dev/shm/x.pcap", "-c", "1",
                                             "--duration", "5"), "not viable", self.pf2, "igb")
        return f"bind {vf} moved it to vfio-pci; opening it: '{message}'"

    def reset_sriov(self):
        """Back to a PF without VFs, so that the project's own commands start from scratch."""
        for vf in virtfns(self.pf):
            write(f"{PCI}/{vf}/driver_override", "\n")
        write(f"{PCI}/{self.pf}/sriov_numvfs", "0")
        self.vfs = []

    def harness(self):
        """The harness's own checks after the boot (no project code)."""
        self.scenario("harness-wire-tx", self.harness_wire_tx)
        if self.scenario("harness-sriov", self.harness_sriov):
            if self.scenario("harness-bind", self.harness_bind):
                self.scenario("harness-testpmd", self.harness_testpmd)
        self.scenario("harness-shared-group", self.harness_shared_group)

    def main(self, only_harness):
        say("VMTEST-PLAN " + " ".join(self.HARNESS + ([] if only_harness else self.PROJECT)))
        if not self.scenario("harness-boot", self.boot):
            return
        self.harness()
        if only_harness:
            return
        self.reset_sriov()
        for name in self.PROJECT:
            self.scenario(name, getattr(self, name.replace("-", "_")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--vfpmd", required=True)
    parser.add_argument("--only-harness", action="store_true")
    parser.add_argument("--mode", choices=["iommu", "noiommu"], default="iommu")
    args = parser.parse_args()
    if args.mode == "noiommu":
        from noiommu import NoIOMMUGuest
        guest = NoIOMMUGuest(args.repo, args.out, args.vfpmd)
    else:
        guest = Guest(args.repo, args.out, args.vfpmd)
    guest.main(args.only_harness)


if __name__ == "__main__":
    main()
