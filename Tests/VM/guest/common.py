"""What every guest scenario runner shares: reporting on the serial console, sysfs, requests to
the host's side of the wire, dpdk-testpmd, background processes, and the checks of an error
message and of frames.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

os.environ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The runners import wire.py, one folder up.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

PCI = "/sys/bus/pci/devices"
IGB_PF = "0x10c9"
VF_MACS = ["02:00:00:00:00:10", "02:00:00:00:00:11"]
HOST_MAC = "02:00:00:00:00:fe"

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


def make_vfs_on_igbvf(pf, count=2):
    """`count` VFs of `pf`, driven by igbvf, each with its known MAC; returns their addresses."""
    set_numvfs(pf, count)
    wait_for(lambda: len(virtfns(pf)) == count and all(driver(v) == "igbvf" for v in virtfns(pf)),
             30, f"{count} VFs bound to igbvf")
    set_vf_macs(pf, count)
    return virtfns(pf)


def set_numvfs(pf, n):
    if int(read(f"{PCI}/{pf}/sriov_numvfs")) != 0 and n != 0:
        write(f"{PCI}/{pf}/sriov_numvfs", "0")
    write(f"{PCI}/{pf}/sriov_numvfs", str(n))


def igb_pfs():
    """The igb PFs (82576) on the guest's PCI bus."""
    return [d for d in sorted(os.listdir(PCI))
            if read(f"{PCI}/{d}/vendor") == "0x8086" and read(f"{PCI}/{d}/device") == IGB_PF]


def prepare_pfs_and_hugepages(pfs, probe):
    """Each PF driven by igb and up on a quiet wire, 2 MiB hugepages reserved and mounted, and
    the output share writable (a file written at `probe`). Returns the number of hugepages."""
    for pf in pfs:
        if driver(pf) != "igb" or not netdev(pf):
            raise Failure(f"{pf} is not driven by igb with a netdev (driver {driver(pf)})")
    # Quiet wire: no IPv6 autoconfiguration chatter from the PF once it is up.
    for knob in ("all", "default"):
        p = f"/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"
        if os.path.exists(p):
            write(p, "1")
    for pf in pfs:
        run(["ip", "link", "set", netdev(pf), "up"])
    huge = reserve_hugepages(256)
    if huge < 128:
        raise Failure(f"only {huge} hugepages of 2 MiB could be reserved")
    run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"])
    write(probe, "ok")
    return huge


def reserve_hugepages(count):
    """Asks the kernel for `count` 2 MiB hugepages; returns how many it reserved."""
    path = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
    write(path, str(count))
    return int(read(path))


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

    def __init__(self, bdf, log, eal=()):
        self.log_path = log
        self.logf = open(log, "w")
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "-eL", "dpdk-testpmd", "-l", "0-1", "-n", "1", "-a", bdf, "--file-prefix", "vmtest", *eal,
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


# --- processes -----------------------------------------------------------------------------------------

CRASH_SIGNS = ("Fatal error", "Stack dump", "Current stack trace", "Illegal instruction",
               "Segmentation fault", "Swift runtime failure")


class Background:
    """A command running in the background, its standard error in a file of the output directory
    (so the host keeps it), stopped with SIGINT as a user would."""

    def __init__(self, cmd, log):
        self.cmd = cmd
        self.log = log
        self.err = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err, stderr=subprocess.STDOUT, text=True)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def tail(self, n=3):
        return " | ".join(self.text().strip().splitlines()[-n:])

    def wait_ready(self, marker, seconds):
        """Waits until `marker` appears in the output (the command is then receiving)."""
        wait_for(lambda: marker in self.text() or self.proc.poll() is not None, seconds,
                 f"`{' '.join(self.cmd[:2])}` to print '{marker}'")
        if self.proc.poll() is not None:
            raise Failure(f"`{' '.join(self.cmd)}` exited {self.proc.returncode} before it was ready: {self.tail()}")

    def wait(self, seconds):
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.err.close()
            raise Failure(f"`{' '.join(self.cmd)}` did not stop within {seconds} s: {self.tail()}")
        self.err.close()
        return self.proc.returncode

    def interrupt(self, seconds=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(seconds)


def process_cpu_seconds(pid):
    """User and system CPU time of a process, all its threads, in seconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def last_polling(text):
    """Seconds asleep and wake-ups in the last per-second line of a capture with one port."""
    found = re.findall(r"([0-9.]+) s asleep, (\d+) wake-ups?", text)
    if not found:
        raise Failure(f"no polling activity in the capture's output: {text.strip()[-200:]}")
    return float(found[-1][0]), int(found[-1][1])


def model_trace(log):
    """The driver's trace of a capture: the mailbox exchange (`sent NAME [words]`, `received for
    NAME [words]`, `received unasked [words]`), each frame's receive write-back fields, and the
    device's statistics registers at close."""
    mailbox = re.findall(r"mailbox \S+: (sent \S+|received for \S+|received unasked) \[([0-9a-fx ]*)\]", log)
    write_backs = re.findall(r"write-back port \d+: (length \d+ status \S+ packet-info \S+ rss-hash \S+ vlan \S+)", log)
    fields = [dict(zip(wb.split()[0::2], wb.split()[1::2])) for wb in write_backs]
    counters = re.findall(r"device counters at close: (.*)", log)
    return {"mailbox": [(what, words.split()) for what, words in mailbox], "write-backs": fields,
            "counters": counters[-1].strip() if counters else None}


def trace_differences(reference, other):
    """How `other`'s trace differs from `reference`'s, as named differences: the mailbox
    exchange message by message and word by word, then each write-back field over all frames
    (one difference per field and value pair, counting the frames)."""
    out = []
    a, b = reference["mailbox"], other["mailbox"]
    if [what for what, _ in a] != [what for what, _ in b]:
        out.append({"what": "mailbox sequence", "qemu": [w for w, _ in a], "sim": [w for w, _ in b]})
    else:
        for (what, wa), (_, wb) in zip(a, b):
            if wa != wb:
                out.append({"what": f"mailbox {what}", "qemu": wa, "sim": wb})
    fa, fb = reference["write-backs"], other["write-backs"]
    if len(fa) != len(fb):
        out.append({"what": "write-back count", "qemu": len(fa), "sim": len(fb)})
    pairs = {}
    for x, y in zip(fa, fb):
        for field in x:
            if x[field] != y.get(field):
                key = f"write-back {field} {x[field]} vs {y.get(field)}"
                pairs.setdefault(key, 0)
                pairs[key] += 1
    out += [{"what": key, "frames": n} for key, n in sorted(pairs.items())]
    if reference["counters"] != other["counters"]:
        out.append({"what": f"device counters {reference['counters']} vs {other['counters']}"})
    return out


def clear_error(result, *needles):
    """Asserts that a command failed the way the project promises: a non-zero exit (not a
    signal), no crash trace, and a message naming each of `needles` (a tuple: any one of them).
    Returns the message's first line."""
    message = (result.stderr + result.stdout).strip()
    if result.returncode == 0:
        raise Failure(f"exit status 0 where an error was expected; output: {message[:200]}")
    if result.returncode < 0:
        raise Failure(f"killed by signal {-result.returncode}: {message[-200:]}")
    for sign in CRASH_SIGNS:
        if sign in message:
            raise Failure(f"a crash instead of an error: {message[-300:]}")
    for needle in needles:
        choices = needle if isinstance(needle, tuple) else (needle,)
        if not any(choice.lower() in message.lower() for choice in choices):
            raise Failure(f"the message does not mention {' or '.join(repr(c) for c in choices)}: {message[:300]}")
    return message.splitlines()[0] if message else ""


def compare_frames(got, want, what):
    """Byte-exact comparison of two frame lists, as a readable failure."""
    if got == want:
        return
    if len(got) != len(want):
        missing = [i for i, f in enumerate(want) if f not in got][:5]
        raise Failure(f"{what}: {len(got)} frames, expected {len(want)}; first missing input indices {missing}")
    i = next(i for i in range(len(want)) if got[i] != want[i])
    g, w = got[i], want[i]
    j = next((k for k in range(min(len(g), len(w))) if g[k] != w[k]), min(len(g), len(w)))
    raise Failure(f"{what}: frame {i} differs ({len(g)} bytes vs {len(w)} expected, first difference at byte {j}: "
                  f"{g[j:j + 8].hex()} vs {w[j:j + 8].hex()})")


def json_field(record, *names):
    for name in names:
        if name in record:
            return record[name]
    raise Failure(f"`vfpmd devices --json` record has none of the fields {names}: {sorted(record)}")
