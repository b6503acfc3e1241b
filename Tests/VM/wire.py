"""The emulated wire as seen from the host: pcap files, test frames, and QEMU's UDP socket netdev.

QEMU's `-netdev socket,udp=HOST:SINK,localaddr=HOST:INJECT` carries one raw Ethernet frame per
datagram, without a header and without the FCS: a datagram sent to INJECT is a frame arriving at
the emulated NIC's port, and every frame the guest transmits arrives as a datagram at SINK.
Python 3 standard library only.
"""

import os
import socket
import struct
import threading
import time

# --- pcap files (the classic format; microsecond or nanosecond timestamps, either byte order) ---

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1


class PcapError(Exception):
    """A file that is not a readable Ethernet pcap."""


def read_pcap(path):
    """Returns the frames of an Ethernet pcap file as a list of bytes (captured part only)."""
    return [frame for _, frame in read_pcap_records(path)]


def read_pcap_records(path):
    """The records of an Ethernet pcap file as (timestamp in seconds, frame bytes) pairs."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise PcapError(f"{path}: {len(data)} bytes, shorter than a pcap file header")
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise PcapError(f"{path}: not a pcap file (magic {data[:4].hex()}; pcapng is not read here)")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: link type {linktype}, not Ethernet")
    fraction = 1e-9 if magic == PCAP_MAGIC_NS else 1e-6
    records, offset, record = [], 24, 0
    while offset < len(data):
        record += 1
        if offset + 16 > len(data):
            raise PcapError(f"{path}: record {record} header cut off")
        seconds, part, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        if offset + caplen > len(data):
            raise PcapError(f"{path}: record {record} data cut off")
        records.append((seconds + part * fraction, data[offset:offset + caplen]))
        offset += caplen
    return records


def write_pcap(path, frames, timestamps=None):
    """Writes frames to a microsecond Ethernet pcap file (snap length 65535)."""
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for i, frame in enumerate(frames):
            t = timestamps[i] if timestamps else time.time()
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)))
            f.write(frame)
    os.replace(path + ".tmp", path)


# --- frames ---------------------------------------------------------------------------------------

def mac_bytes(text):
    """`02:00:00:00:00:10` -> 6 bytes."""
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text}")
    return bytes(int(p, 16) for p in parts)


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


def with_dst(frame, dst):
    """The frame with its destination MAC replaced."""
    return dst + frame[6:]


def with_addresses(frame, src, dst):
    """The frame with both MAC addresses replaced (what `mac` forwarding mode does)."""
    return dst + src + frame[12:]


def padded(frame):
    """The frame as a receiver sees it on Ethernet: at least 60 bytes (without FCS), zero-padded."""
    return frame + bytes(60 - len(frame)) if len(frame) < 60 else frame


def wire_eligible(frame):
    """Whether QEMU's igb delivers this frame to a VF with default settings: untagged (a VLAN the
    VF has not registered is dropped by the PF's filter), not a MAC control frame, and at most
    1514 bytes without FCS."""
    if len(frame) < 14 or len(frame) > 1514:
        return False
    ethertype = struct.unpack("!H", frame[12:14])[0]
    # VLAN tags; MAC control (PAUSE), which a NIC consumes rather than delivers.
    return ethertype not in (0x8100, 0x88A8, 0x9100, 0x8808)


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ipv4_udp(src_mac, dst_mac, seq, payload_len):
    payload = struct.pack("!4sI", b"VMT4", seq) + bytes((seq + i) & 0xFF for i in range(max(0, payload_len - 8)))
    udp = struct.pack("!HHHH", 40000 + seq % 1000, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def _ipv6_udp(src_mac, dst_mac, seq, payload_len):
    payload = struct.pack("!4sI", b"VMT6", seq) + bytes((seq * 7 + i) & 0xFF for i in range(max(0, payload_len - 8)))
    udp = struct.pack("!HHHH", 50000 + seq % 1000, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64,
                     bytes.fromhex("fd000000000000000000000000000001"),
                     bytes.fromhex("fd000000000000000000000000000002"))
    return dst_mac + src_mac + b"\x86\xdd" + ip + udp


def _arp(src_mac, dst_mac, seq):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, bytes([10, 0, 0, seq & 0xFF]),
                      bytes(6), bytes([10, 0, 1, seq & 0xFF]))
    return dst_mac + src_mac + b"\x08\x06" + arp   # 42 bytes: padded to 60 by the wire


def generated_frames(count, src_mac=b"\x02\x00\x00\x00\x00\xfe", dst_mac=b"\xff" * 6):
    """`count` distinct frames of many sizes (42..1514) and kinds (IPv4/UDP, IPv6/UDP, ARP), each
    carrying its sequence number, so that loss, reordering and corruption are all visible."""
    sizes = [60, 64, 128, 256, 512, 1024, 1514, 50, 99, 1500, 333, 77]
    frames = []
    for seq in range(count):
        kind = seq % 5
        size = sizes[seq % len(sizes)]
        if kind == 4:
            frames.append(_arp(src_mac, dst_mac, seq))
        elif kind == 3:
            frames.append(_ipv6_udp(src_mac, dst_mac, seq, max(8, size - 62)))
        else:
            frames.append(_ipv4_udp(src_mac, dst_mac, seq, max(8, size - 42)))
    return frames


def flood_frame(dst_mac, src_mac=b"\x02\x00\x00\x00\x00\xfe"):
    """A 60-byte IPv4/UDP frame for floods (64 bytes on the wire with the FCS)."""
    return _ipv4_udp(src_mac, dst_mac, 0, 18)


# --- the wire ---------------------------------------------------------------------------------------

class Wire:
    """The host's end of QEMU's UDP socket netdev: injects frames and records what the guest sends."""

    def __init__(self, inject_port, sink_sock):
        self.inject_addr = ("127.0.0.1", inject_port)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tx.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sink = sink_sock
        self.sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sink.settimeout(0.2)
        self._lock = threading.Lock()
        self._recordings = {}          # name -> list of (time, frame)
        self._stop = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @staticmethod
    def bind_sink():
        """A UDP socket on a free loopback port, for QEMU's `udp=` destination."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s

    def _receive(self):
        while not self._stop:
            try:
                frame = self.sink.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.time()
            with self._lock:
                for frames in self._recordings.values():
                    frames.append((now, frame))

    def start_recording(self, name):
        with self._lock:
            self._recordings[name] = []

    def stop_recording(self, name):
        """Stops a recording and returns its (time, frame) list."""
        with self._lock:
            return self._recordings.pop(name, [])

    def inject(self, frames, rate):
        """Sends frames at `rate` frames per second (QEMU's socket backend drops under floods)."""
        interval = 1.0 / rate
        start = time.monotonic()
        for i, frame in enumerate(frames):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.tx.sendto(frame, self.inject_addr)

    def flood(self, frame, seconds):
        """Sends one frame as fast as the socket takes it for `seconds`; returns frames sent."""
        sent = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(256):
                try:
                    self.tx.sendto(frame, self.inject_addr)
                    sent += 1
                except BlockingIOError:
                    break
        return sent

    def close(self):
        self._stop = True
        self._thread.join(timeout=1)
        self.tx.close()
        self.sink.close()
