"""The real-kernel scenarios, run inside the QEMU guest (in a chroot into the host's root
filesystem, so the host's python3, iproute2, dpdk-testpmd and the freshly built vfpmd all run).

Results go to the serial console as `VMTEST <scenario> PASS|FAIL <detail>`; traffic is asked of
the host with `VMTEST-REQ <id> <action> <json>`, answered in the file `<out>/ack/<id>`.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

os.environ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import wire  # noqa: E402

PCI = "/sys/bus/pci/devices"
IGB_PF = "0x10c9"
VF_MACS = ["02:00:00:00:00:10", "02:00:00:00:00:11"]
HOST_MAC = "02:00:00:00:00:fe"

HARNESS = ["harness-boot", "harness-sriov", "harness-bind", "harness-testpmd"]
PROJECT = ["s1-sriov-devices-bind", "s2-capture", "s3-transmit", "s4-forward",
           "s5-side-by-side", "s5-flood", "s6-wrong-address", "s6-vf-on-igbvf", "s6-group-not-viable"]


class Failure(Exception):
    """A scenario's assertion that did not hold: its message is the reported detail."""


def say(line):
    print(line, flush=True)


def report(name, ok, detail):
    detail = " ".join(str(detail).split())[:600]
    say(f"VMTEST {name} {'PASS' if ok else 'FAIL'} {detail}")


# --- sysfs ---------------------------------------------------------------------------------------

def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def driver(bdf):
    link = f"{PCI}/{bdf}/driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def group(bdf):
    return os.path.basename(os.readlink(f"{PCI}/{bdf}/iommu_group"))


def netdev(bdf):
    path = f"{PCI}/{bdf}/net"
    names = os.listdir(path) if os.path.isdir(path) else []
    return names[0] if names else None


def virtfns(pf):
    links = sorted((n for n in os.listdir(f"{PCI}/{pf}") if n.startswith("virtfn")), key=lambda n: int(n[6:]))
    return [os.path.basename(os.readlink(f"{PCI}/{pf}/{n}")) for n in links]


def wait_for(condition, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise Failure(f"timed out after {seconds} s waiting for {what}")


def run(cmd, timeout=120, check=True, **kw):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failure(f"`{' '.join(cmd)}` did not finish in {timeout} s")
    if check and r.returncode != 0:
        raise Failure(f"`{' '.join(cmd)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
    return r


def sysfs_bind_vfio(bdf):
    """Binds a device to vfio-pci the way the kernel documents it (no project code)."""
    write(f"{PCI}/{bdf}/driver_override", "vfio-pci")
    if driver(bdf):
        write(f"{PCI}/{bdf}/driver/unbind", bdf)
    write("/sys/bus/pci/drivers_probe", bdf)
    if driver(bdf) != "vfio-pci":
        raise Failure(f"{bdf} is bound to {driver(bdf)} after the sysfs bind, not vfio-pci")


def sysfs_unbind_to_kernel(bdf):
    write(f"{PCI}/{bdf}/driver_override", "\n")
    if driver(bdf):
        write(f"{PCI}/{bdf}/driver/unbind", bdf)
    write("/sys/bus/pci/drivers_probe", bdf)


def set_vf_macs(pf, count):
    dev = netdev(pf)
    for i in range(count):
        run(["ip", "link", "set", dev, "vf", str(i), "mac", VF_MACS[i]])


def set_numvfs(pf, n):
    if int(read(f"{PCI}/{pf}/sriov_numvfs")) != 0 and n != 0:
        write(f"{PCI}/{pf}/sriov_numvfs", "0")
    write(f"{PCI}/{pf}/sriov_numvfs", str(n))


# --- the host's side of the wire --------------------------------------------------------------------

class Host:
    def __init__(self, out):
        self.out = out
        self.next_id = 0

    def request(self, action, timeout=180, **params):
        self.next_id += 1
        req_id = f"r{self.next_id}"
        ack = os.path.join(self.out, "ack", req_id)
        say(f"VMTEST-REQ {req_id} {action} {json.dumps(params, separators=(',', ':'))}")
        end = time.monotonic() + timeout
        while not os.path.exists(ack):
            if time.monotonic() > end:
                raise Failure(f"the host did not answer {action} in {timeout} s")
            time.sleep(0.1)
        with open(ack) as f:
            reply = json.load(f)
        if not reply.get("ok"):
            raise Failure(f"host {action} failed: {reply.get('error')}")
        return reply


# --- DPDK testpmd -------------------------------------------------------------------------------------

class TestPMD:
    """dpdk-testpmd in rxonly mode on one VF; stopped by a newline on stdin, which prints its stats."""

    def __init__(self, bdf, log):
        self.log_path = log
        self.logf = open(log, "w")
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "-eL", "dpdk-testpmd", "-l", "0-1", "-n", "1", "-a", bdf, "--file-prefix", "vmtest",
             "--", "--forward-mode=rxonly", "--nb-cores=1", "--rxq=1", "--txq=1",
             "--total-num-mbufs=4096"],
            stdin=subprocess.PIPE, stdout=self.logf, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: "Press enter to exit" in self.text() or self.proc.poll() is not None,
                     120, "dpdk-testpmd to start forwarding")
        except Failure:
            self.proc.kill()
            raise
        if self.proc.poll() is not None:
            raise Failure(f"dpdk-testpmd exited {self.proc.returncode}: {self.tail()}")

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def tail(self):
        return " | ".join(self.text().strip().splitlines()[-4:])

    def stop(self):
        """Stops testpmd; returns the port's RX-packets and RX-dropped."""
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"dpdk-testpmd did not stop: {self.tail()}")
        finally:
            self.logf.close()
        text = self.text()
        rx = re.findall(r"RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)", text)
        if not rx:
            raise Failure(f"no RX-packets in dpdk-testpmd's output: {self.tail()}")
        received, dropped = (int(x) for x in rx[-1])
        return received, dropped


# --- the scenarios -------------------------------------------------------------------------------------

class Guest:
    def __init__(self, repo, out):
        self.repo = repo
        self.out = out
        self.host = Host(out)
        self.vfpmd = os.path.join(repo, ".build", "release", "vfpmd")
        self.pf = None          # the igb PF cabled to the host's wire
        self.pf2 = None         # the igb PF behind the root port without ACS
        self.vfs = []

    def path(self, name):
        return os.path.join(self.out, name)

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
        pfs = [d for d in sorted(os.listdir(PCI))
               if read(f"{PCI}/{d}/vendor") == "0x8086" and read(f"{PCI}/{d}/device") == IGB_PF]
        on_root = [d for d in pfs if d.startswith("0000:00:")]
        behind = [d for d in pfs if not d.startswith("0000:00:")]
        if len(on_root) != 1 or len(behind) != 1:
            raise Failure(f"expected one igb PF on the root bus and one behind the root port, found {pfs}")
        self.pf, self.pf2 = on_root[0], behind[0]
        for pf in pfs:
            if driver(pf) != "igb" or not netdev(pf):
                raise Failure(f"{pf} is not driven by igb with a netdev (driver {driver(pf)})")
        # Quiet wire: no IPv6 autoconfiguration chatter from the PF once it is up.
        for knob in ("all", "default"):
            p = f"/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"
            if os.path.exists(p):
                write(p, "1")
        run(["ip", "link", "set", netdev(self.pf), "up"])
        run(["ip", "link", "set", netdev(self.pf2), "up"])
        write("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "256")
        huge = int(read("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"))
        if huge < 128:
            raise Failure(f"only {huge} hugepages of 2 MiB could be reserved")
        run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"])
        probe = self.path("guest-wrote-this")
        write(probe, "ok")
        return (f"{len(groups)} IOMMU groups, PF {self.pf} ({netdev(self.pf)}, group {group(self.pf)}), "
                f"PF {self.pf2} behind a root port (group {group(self.pf2)}), {huge} hugepages")

    def harness_sriov(self):
        set_numvfs(self.pf, 2)
        wait_for(lambda: len(virtfns(self.pf)) == 2 and all(driver(v) == "igbvf" for v in virtfns(self.pf)),
                 30, "2 VFs bound to igbvf")
        vfs = virtfns(self.pf)
        set_vf_macs(self.pf, 2)
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
        pmd = TestPMD(vf, self.path("harness-testpmd.log"))
        mac_seen = VF_MACS[1] in pmd.text().lower()
        sent = self.host.request("inject", pcap=self.path("harness-testpmd-input.pcap"), rate=100)["sent"]
        time.sleep(1)
        received, dropped = pmd.stop()
        if not mac_seen:
            raise Failure(f"dpdk-testpmd did not report the VF MAC {VF_MACS[1]}: {pmd.tail()}")
        if received != sent:
            raise Failure(f"host sent {sent} frames to {VF_MACS[1]}, testpmd counted {received} (dropped {dropped})")
        return f"testpmd (net_e1000_igb_vf) on {vf} counted {received} of {sent} injected frames"

    def reset_sriov(self):
        """Back to a PF without VFs, so that the project's own commands start from scratch."""
        for vf in virtfns(self.pf):
            write(f"{PCI}/{vf}/driver_override", "\n")
        write(f"{PCI}/{self.pf}/sriov_numvfs", "0")
        self.vfs = []

    def main(self, only_harness):
        say("VMTEST-PLAN " + " ".join(HARNESS + ([] if only_harness else PROJECT)))
        if not self.scenario("harness-boot", self.boot):
            return
        self.scenario("harness-sriov", self.harness_sriov)
        if self.vfs:
            if self.scenario("harness-bind", self.harness_bind):
                self.scenario("harness-testpmd", self.harness_testpmd)
        if only_harness:
            return
        self.reset_sriov()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only-harness", action="store_true")
    args = parser.parse_args()
    Guest(args.repo, args.out).main(args.only_harness)


if __name__ == "__main__":
    main()
