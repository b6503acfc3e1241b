#!/usr/bin/env python3
"""Writes the sample captures of pcaps/ (and the malformed ones of pcaps/bad/).

Only Python's standard library; the output is the same on every run (fixed timestamps,
addresses and payloads), so the committed files can be checked by running this again:

    scripts/make-pcaps.py && git diff --exit-code pcaps/
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pcaps")

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
BASE_SECONDS = 1_767_225_600  # 2026-01-01 00:00:00 UTC

SRC_MAC = bytes.fromhex("020000000001")
DST_MAC = bytes.fromhex("020000000002")
BROADCAST = b"\xff" * 6


def file_header(magic=MAGIC_MICRO, snaplen=262144, linktype=LINKTYPE_ETHERNET):
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def record(frame, index, nano, caplen=None, length=None):
    fraction = index * 1000 + 7 if nano else index * 10 + 1
    caplen = len(frame) if caplen is None else caplen
    length = len(frame) if length is None else length
    return struct.pack("<IIII", BASE_SECONDS + index, fraction, caplen, length) + frame


def write(name, frames, nano=False):
    data = file_header(MAGIC_NANO if nano else MAGIC_MICRO)
    data += b"".join(record(f, i, nano) for i, f in enumerate(frames))
    with open(os.path.join(ROOT, name), "wb") as out:
        out.write(data)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def payload(n, seed):
    return bytes((seed + i * 7) & 0xFF for i in range(n))


def ipv4(src, dst, proto, body, ttl=64):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0x1234, 0x4000, ttl, proto, 0,
                         bytes(src), bytes(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + body


def udp(sport, dport, body, pseudo=None):
    """A UDP datagram; with `pseudo` (the IP pseudo-header) its checksum is filled in."""
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body
    if pseudo is None:
        return datagram
    total = checksum(pseudo + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", total) + datagram[8:]


def pseudo4(src, dst, length):
    return bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 17, length)


def pseudo6(src, dst, length):
    return src + dst + struct.pack("!IxxxB", length, 17)


def ethernet(dst, src, ethertype, body, vlan=None):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + body


def udp4_frame(size, seed, dst=DST_MAC, ip_dst=(10, 0, 0, 2), vlan=None):
    overhead = 14 + (4 if vlan is not None else 0) + 20 + 8
    data = payload(size - overhead, seed)
    body = udp(1024 + seed % 100, 9, data, pseudo4((10, 0, 0, 1), ip_dst, 8 + len(data)))
    return ethernet(dst, SRC_MAC, 0x0800, ipv4((10, 0, 0, 1), ip_dst, 17, body), vlan)


def udp6_frame(size, seed, dst=DST_MAC, ip_dst=None):
    ip_dst = ip_dst or bytes.fromhex("fd000000000000000000000000000002")
    ip_src = bytes.fromhex("fd000000000000000000000000000001")
    data = payload(size - 14 - 40 - 8, seed)
    body = udp(2048 + seed, 9, data, pseudo6(ip_src, ip_dst, 8 + len(data)))
    header = struct.pack("!IHBB16s16s", 0x60000000, len(body), 17, 64, ip_src, ip_dst)
    return ethernet(dst, SRC_MAC, 0x86DD, header + body)


def arp_request():
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, SRC_MAC, bytes((10, 0, 0, 1)),
                       b"\0" * 6, bytes((10, 0, 0, 2)))
    return ethernet(BROADCAST, SRC_MAC, 0x0806, body)  # 42 bytes: under the 60-byte minimum


def tcp_syn():
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
    return ethernet(DST_MAC, SRC_MAC, 0x0800, ipv4((10, 0, 0, 1), (10, 0, 0, 2), 6, tcp))  # 54 bytes


def main():
    os.makedirs(os.path.join(ROOT, "bad"), exist_ok=True)

    sizes = [60, 64, 65, 127, 128, 256, 511, 512, 1000, 1024, 1280, 1500, 1513, 1514]
    write("sizes.pcap", [udp4_frame(s, i) for i, s in enumerate(sizes)])

    protocols = [
        arp_request(),
        tcp_syn(),
        udp4_frame(60, 1),
        udp6_frame(86, 2),
        udp6_frame(1514, 3),
        udp4_frame(64, 4, vlan=100),
        udp4_frame(1518, 5, vlan=4094),
        udp4_frame(128, 6, dst=BROADCAST, ip_dst=(255, 255, 255, 255)),
        udp4_frame(128, 7, dst=bytes.fromhex("01005e000001"), ip_dst=(224, 0, 0, 1)),
        udp6_frame(128, 8, dst=bytes.fromhex("333300000001"), ip_dst=bytes.fromhex("ff020000000000000000000000000001")),
    ]
    write("protocols.pcap", protocols, nano=True)

    write("jumbo.pcap", [udp4_frame(9000, 9), udp4_frame(1514, 10), udp4_frame(9000, 11, vlan=7)])

    write("udp64x256.pcap", [udp4_frame(64, i) for i in range(256)])

    bad = os.path.join(ROOT, "bad")
    good = file_header() + b"".join(record(udp4_frame(100, i), i, False) for i in range(3))
    with open(os.path.join(bad, "truncated-record.pcap"), "wb") as out:
        out.write(good[:-40])  # the third record loses its last 40 bytes
    with open(os.path.join(bad, "truncated-header.pcap"), "wb") as out:
        out.write(good[:24 + 16 + 100 + 7])  # the second record header is cut after 7 bytes
    with open(os.path.join(bad, "bad-magic.pcap"), "wb") as out:
        out.write(struct.pack("<I", 0xDEADBEEF) + good[4:])
    with open(os.path.join(bad, "huge-caplen.pcap"), "wb") as out:
        frame = udp4_frame(100, 0)
        out.write(file_header() + record(frame, 0, False)
                  + struct.pack("<IIII", BASE_SECONDS + 1, 11, 0x7FFFFFF0, 0x7FFFFFF0) + frame)
    with open(os.path.join(bad, "linux-sll.pcap"), "wb") as out:
        sll = struct.pack("!HHH8sH", 0, 1, 6, SRC_MAC + b"\0\0", 0x0800)
        out.write(file_header(linktype=LINKTYPE_LINUX_SLL)
                  + record(sll + ipv4((10, 0, 0, 1), (10, 0, 0, 2), 17, udp(1, 2, b"x")), 0, False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
