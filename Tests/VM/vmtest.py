#!/usr/bin/env python3
"""Boots the QEMU guest of the real-kernel checks and serves the emulated wire for it.

The guest (q35 under TCG, an emulated Intel IOMMU, QEMU's `igb` 82576 NIC with SR-IOV) runs
Tests/VM/guest/scenarios.py from this checkout over virtio-9p. It prints its results on the serial
console as `VMTEST <scenario> PASS|FAIL <detail>` lines and asks this side for traffic with
`VMTEST-REQ <id> <action> <json>` lines; the answer is the file `<out>/ack/<id>` (JSON), which the
guest reads through the shared output directory. Exits 0 only if every planned scenario passed.
"""

import argparse
import glob
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f"vmtest: {msg}", flush=True)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def newest_kernel():
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        return None, None
    path = kernels[-1]
    return path, os.path.basename(path)[len("vmlinuz-"):]


def qemu_command(kernel, initrd, repo, out, vfpmd, inject_port, sink_port, memory_mb, harness_only, mode):
    """The IOMMU boot: an emulated Intel IOMMU and a second igb behind a root port without ACS.
    The no-IOMMU boot: no IOMMU at all, vfio in no-IOMMU mode, one igb."""
    iommu = mode == "iommu"
    append = (f"console=ttyS0 quiet loglevel=3 panic=-1 vmtest.mode={mode} "
              + ("intel_iommu=on iommu=pt " if iommu else "vfio.enable_unsafe_noiommu_mode=1 ")
              + f"vmtest.repo={repo} vmtest.out={out} vmtest.vfpmd={vfpmd}"
              + (" vmtest.harness_only" if harness_only else ""))
    return [
        "qemu-system-x86_64",
        "-machine", "q35,accel=tcg,kernel-irqchip=split", "-cpu", "max", "-smp", "2",
        "-m", str(memory_mb),
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        # QEMU 10.0's igb decodes VF BARs above 4 GiB as 32-bit: keep every BAR below 4 GiB.
        "-global", "q35-pcihost.pci-hole64-size=0",
        *(["-device", "intel-iommu,intremap=on,caching-mode=on"] if iommu else []),
        # The NIC under test: its port is the host's UDP wire.
        "-netdev", f"socket,id=wire0,udp=127.0.0.1:{sink_port},localaddr=127.0.0.1:{inject_port}",
        "-device", "igb,netdev=wire0,mac=52:54:00:12:34:56,addr=02.0",
        # A second igb behind a root port without ACS: its PF and VFs share one IOMMU group,
        # which is what a group that is not viable looks like.
        *(["-device", "pcie-root-port,id=rp1,chassis=1,addr=04.0,disable-acs=on",
           "-device", "igb,bus=rp1,mac=52:54:00:12:34:57"] if iommu else []),
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={out},mount_tag=vmout,security_model=none,multidevs=remap",
        "-kernel", kernel, "-initrd", initrd, "-append", append,
    ]


class Runner:
    def __init__(self, args):
        self.args = args
        self.repo = os.path.abspath(args.repo)
        self.out = os.path.abspath(args.out)
        self.vfpmd = os.path.abspath(args.vfpmd or os.path.join(self.repo, ".build", "release", "vfpmd"))
        self.results = {}        # scenario -> (PASS|FAIL, detail)
        self.plan = None
        self.current = None
        self.serial_tail = []
        self.wire = None

    # -- requests from the guest --------------------------------------------------------------
    def answer(self, req_id, reply):
        path = os.path.join(self.out, "ack", req_id)
        with open(path + ".tmp", "w") as f:
            json.dump(reply, f)
        os.replace(path + ".tmp", path)

    def serve(self, req_id, action, params):
        try:
            reply = self.perform(action, params)
            reply.setdefault("ok", True)
        except Exception as e:  # the guest reports it as the scenario's failure
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        self.answer(req_id, reply)

    def perform(self, action, p):
        w = self.wire
        if action == "inject":
            frames = wire.read_pcap(p["pcap"])
            if "dst" in p:
                dst = wire.mac_bytes(p["dst"])
                frames = [wire.with_dst(f, dst) for f in frames]
            w.inject(frames, float(p.get("rate", 200)))
            return {"sent": len(frames)}
        if action == "record-start":
            w.start_recording(p["name"])
            return {}
        if action == "record-stop":
            time.sleep(float(p.get("settle", 0.5)))
            recorded = w.stop_recording(p["name"])
            everything = len(recorded)
            src = p.get("src")
            if src:
                want = wire.mac_bytes(src)
                recorded = [(t, f) for t, f in recorded if f[6:12] == want]
            wire.write_pcap(p["pcap"], [f for _, f in recorded], [t for t, _ in recorded])
            return {"count": len(recorded), "all_sources": everything}
        if action == "flood":
            sent = w.flood(wire.flood_frame(wire.mac_bytes(p["dst"])), float(p["seconds"]))
            return {"sent": sent}
        raise ValueError(f"unknown request {action}")

    # -- the run --------------------------------------------------------------------------------
    def record(self, name, verdict, detail):
        self.results[name] = (verdict, detail)

    def run(self):
        a = self.args
        if " " in self.repo + self.out + self.vfpmd:
            self.record("harness", "FAIL", "the checkout and output paths must not contain spaces")
            return
        shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(os.path.join(self.out, "ack"))
        qemu = shutil.which("qemu-system-x86_64")
        if not qemu:
            self.record("harness", "FAIL", "qemu-system-x86_64 not found: run Tests/VM/install.sh as root")
            return
        kernel, kver = (a.kernel, a.kernel_version) if a.kernel else newest_kernel()
        if not kernel:
            self.record("harness", "FAIL", "no guest kernel in /boot: run Tests/VM/install.sh as root")
            return
        initrd = os.path.join(self.out, "initramfs.cpio.gz")
        modules = []
        if a.mode == "noiommu":
            # Built once per guest kernel, kept beside the outputs of every run.
            vfio = os.path.join(self.repo, ".build", "vm-modules", kver, "vfio.ko")
            made = subprocess.run([os.path.join(HERE, "build-vfio-noiommu.sh"), kver, vfio],
                                  capture_output=True, text=True)
            if made.returncode != 0:
                self.record("harness", "FAIL", f"vfio.ko with CONFIG_VFIO_NOIOMMU: {made.stderr.strip()}")
                return
            modules = [vfio]
        built = subprocess.run([os.path.join(HERE, "build-initramfs.sh"), kver, initrd, *modules],
                               capture_output=True, text=True)
        if built.returncode != 0:
            self.record("harness", "FAIL", f"initramfs build failed: {built.stderr.strip()}")
            return

        sink = wire.Wire.bind_sink()
        inject_port = free_udp_port()
        self.wire = wire.Wire(inject_port, sink)
        cmd = qemu_command(kernel, initrd, self.repo, self.out, self.vfpmd, inject_port,
                           sink.getsockname()[1], a.memory, a.harness_only, a.mode)
        with open(os.path.join(self.out, "qemu-command.txt"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        log(f"booting {kver} under TCG, {a.mode} (serial log: {self.out}/serial.log)")
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        lines = queue.Queue()

        def pump():
            for raw in proc.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        serial = open(os.path.join(self.out, "serial.log"), "w")
        deadline = started + a.timeout
        ended = False
        workers = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    where = f" during {self.current}" if self.current else ""
                    self.record("harness", "FAIL", f"timed out after {a.timeout} s{where}; "
                                f"last console line: {self.serial_tail[-1] if self.serial_tail else '(none)'}")
                    break
                try:
                    line = lines.get(timeout=min(remaining, 1.0))
                except queue.Empty:
                    continue
                if line is None:
                    break
                serial.write(line + "\n")
                serial.flush()
                self.serial_tail = (self.serial_tail + [line])[-20:]
                if a.verbose:
                    print(f"  | {line}", flush=True)
                words = line.split(" ", 3)
                if words[0] == "VMTEST-REQ" and len(words) >= 3:
                    try:
                        params = json.loads(words[3]) if len(words) > 3 else {}
                    except ValueError:
                        self.answer(words[1], {"ok": False, "error": f"garbled request on the console: {line}"})
                        continue
                    t = threading.Thread(target=self.serve, args=(words[1], words[2], params), daemon=True)
                    t.start()
                    workers.append(t)
                elif words[0] == "VMTEST-PLAN":
                    self.plan = line.split()[1:]
                elif words[0] == "VMTEST-BEGIN" and len(words) >= 2:
                    self.current = words[1]
                    log(f"{words[1]} ...")
                elif words[0] == "VMTEST" and len(words) >= 3:
                    detail = words[3] if len(words) > 3 else ""
                    self.record(words[1], words[2], detail)
                    log(f"{words[2]} {words[1]} {detail}")
                elif words[0] == "VMTEST-END":
                    ended = True
        finally:
            if proc.poll() is None:
                try:
                    proc.wait(timeout=20 if ended else 0.1)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            serial.close()
            for t in workers:
                t.join(timeout=5)
            self.wire.close()
        log(f"QEMU ran {time.monotonic() - started:.1f} s, exit status {proc.returncode}")
        if not ended and "harness" not in self.results:
            self.record("harness", "FAIL", f"the guest stopped before the end (QEMU exit status "
                        f"{proc.returncode}); last console lines: " + " | ".join(self.serial_tail[-5:]))
        if self.plan is None and "harness" not in self.results:
            self.record("harness", "FAIL", "the guest never started the scenario runner")
        for name in self.plan or []:
            if name not in self.results:
                self.record(name, "FAIL", "no result reported (the guest stopped before it)")

    # Captures vfpmd wrote in the guest, read back on the host by the tools users read them with.
    WRITTEN_BY_VFPMD = {"s2-capture": "s2-capture.pcap", "s5-side-by-side": "s5-capture.pcap"}

    def check_readers(self):
        for name, file in self.WRITTEN_BY_VFPMD.items():
            if self.results.get(name, ("FAIL",))[0] != "PASS":
                continue
            path = os.path.join(self.out, file)
            problems = []
            for tool in (["tcpdump", "-nn", "-r", path], ["tshark", "-n", "-r", path]):
                if not shutil.which(tool[0]):
                    problems.append(f"{tool[0]} is not installed (scripts/install-deps.sh test)")
                    continue
                r = subprocess.run(tool, capture_output=True, text=True, timeout=120)
                # tcpdump names the file it reads; tshark warns that it runs as root: neither is
                # about the file.
                noise = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("reading from file")
                         and "This could be dangerous" not in l]
                if r.returncode != 0 or noise:
                    problems.append(f"`{' '.join(tool)}` exited {r.returncode}: {' | '.join(noise)[:200]}")
            if problems:
                verdict, detail = self.results[name]
                self.record(name, "FAIL", f"{detail}; but {'; '.join(problems)}")
            else:
                verdict, detail = self.results[name]
                self.record(name, verdict, f"{detail}; {file} read by tcpdump and tshark without warnings")

    def summary(self):
        order = (self.plan or []) + [n for n in self.results if n not in (self.plan or [])]
        passed = failed = 0
        with open(os.path.join(self.out, "results.txt"), "w") as f:
            for name in order:
                verdict, detail = self.results[name]
                f.write(f"{name} {verdict} {detail}\n")
                print(f"  {verdict:4} {name:28} {detail}")
                if verdict == "PASS":
                    passed += 1
                else:
                    failed += 1
        print(f"vmtest: {passed} passed, {failed} failed (details: {self.out})")
        return failed == 0 and passed > 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(HERE)))
    parser.add_argument("--out", default=None, help="output directory (default: REPO/.build/vm)")
    parser.add_argument("--timeout", type=float, default=540, help="seconds for the whole guest run")
    parser.add_argument("--memory", type=int, default=2560, help="guest memory in MiB")
    parser.add_argument("--kernel", default=None, help="guest kernel image (default: newest /boot/vmlinuz-*)")
    parser.add_argument("--kernel-version", default=None)
    parser.add_argument("--vfpmd", default=None,
                        help="the vfpmd binary the guest runs (default: REPO/.build/release/vfpmd)")
    parser.add_argument("--mode", choices=["iommu", "noiommu"], default="iommu",
                        help="iommu: an emulated Intel IOMMU; noiommu: none, vfio in no-IOMMU mode")
    parser.add_argument("--harness-only", action="store_true",
                        help="run only the checks of the harness itself (no project code)")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo the guest console")
    args = parser.parse_args()
    if args.out is None:
        args.out = os.path.join(args.repo, ".build", "vm" if args.mode == "iommu" else "vm-noiommu")
    runner = Runner(args)
    try:
        runner.run()
        runner.check_readers()
    except Exception as e:
        runner.record("harness", "FAIL", f"{type(e).__name__}: {e}")
    sys.exit(0 if runner.summary() else 1)


if __name__ == "__main__":
    main()
