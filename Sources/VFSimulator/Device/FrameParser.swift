/// What the receive path learns about a frame before writing it back: VLAN tag, L3/L4
/// protocols, checksum verdicts and where the RSS hash input lies.
struct ParsedFrame {
    /// The 802.1Q tag's TCI, when the frame carries one right after the source MAC.
    var vlanTCI: UInt16 = 0
    var hasVLAN = false
    var isIPv4 = false
    var ipv4Options = false
    var isIPv6 = false
    /// 6 (TCP), 17 (UDP) or 0.
    var l4Protocol: UInt8 = 0
    /// Offsets of the L3 and L4 headers in the frame.
    var l3Offset = 0
    var l4Offset = 0
    /// Whether the IPv4 header checksum was checked / was right.
    var ipChecked = false
    var ipGood = false
    /// Whether the L4 checksum was checked / was right; a UDP checksum of 0 means "none".
    var l4Checked = false
    var l4Good = false
    var udpZeroChecksum = false
    /// Whether the destination is a group address.
    var isMulticast = false
    var isBroadcast = false
}

@inline(__always) func wireU16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(p.load(fromByteOffset: offset, as: UInt8.self)) << 8 | UInt16(p.load(fromByteOffset: offset &+ 1, as: UInt8.self))
}

/// Parses a frame (bytes without CRC) the way the 82599/82576 receive parsers do for the
/// cases the model supports: Ethernet II, one 802.1Q tag, IPv4 (with options), IPv6 without
/// extension headers, TCP and UDP.
@inline(__always)
func parseFrame(_ p: UnsafeRawPointer, length: Int) -> ParsedFrame {
    var f = ParsedFrame()
    guard length >= 14 else { return f }
    let d0 = p.load(as: UInt8.self)
    f.isMulticast = d0 & 1 != 0
    if f.isMulticast {
        f.isBroadcast = p.loadUnaligned(as: UInt32.self) == 0xFFFF_FFFF && p.loadUnaligned(fromByteOffset: 4, as: UInt16.self) == 0xFFFF
    }
    var offset = 12
    var type = wireU16(p, 12)
    if type == 0x8100 && length >= 18 {
        f.hasVLAN = true
        f.vlanTCI = wireU16(p, 14)
        offset = 16
        type = wireU16(p, 16)
    }
    offset &+= 2
    f.l3Offset = offset
    if type == 0x0800 && length >= offset + 20 {
        let vihl = p.load(fromByteOffset: offset, as: UInt8.self)
        let ihl = Int(vihl & 0xF) * 4
        guard vihl >> 4 == 4, ihl >= 20, length >= offset + ihl else { return f }
        f.isIPv4 = true
        f.ipv4Options = ihl > 20
        f.ipChecked = true
        f.ipGood = onesComplementSum(p + offset, count: ihl, initial: 0) == 0xFFFF
        let totalLength = Int(wireU16(p, offset + 2))
        let fragment = wireU16(p, offset + 6) & 0x3FFF
        let proto = p.load(fromByteOffset: offset + 9, as: UInt8.self)
        guard fragment == 0, proto == 6 || proto == 17, totalLength >= ihl, offset + totalLength <= length else { return f }
        f.l4Protocol = proto
        f.l4Offset = offset + ihl
        let l4Length = totalLength - ihl
        // Pseudo-header: addresses, protocol, L4 length.
        var pseudo = onesComplementSum(p + offset + 12, count: 8, initial: 0)
        pseudo = fold(pseudo &+ UInt32(proto) &+ UInt32(l4Length))
        checkL4(&f, p, l4Length: l4Length, pseudo: pseudo)
    } else if type == 0x86DD && length >= offset + 40 {
        guard p.load(fromByteOffset: offset, as: UInt8.self) >> 4 == 6 else { return f }
        f.isIPv6 = true
        let payloadLength = Int(wireU16(p, offset + 4))
        let next = p.load(fromByteOffset: offset + 6, as: UInt8.self)
        guard next == 6 || next == 17, offset + 40 + payloadLength <= length else { return f }
        f.l4Protocol = next
        f.l4Offset = offset + 40
        var pseudo = onesComplementSum(p + offset + 8, count: 32, initial: 0)
        pseudo = fold(pseudo &+ UInt32(next) &+ UInt32(payloadLength))
        checkL4(&f, p, l4Length: payloadLength, pseudo: pseudo)
    }
    return f
}

@inline(__always)
private func checkL4(_ f: inout ParsedFrame, _ p: UnsafeRawPointer, l4Length: Int, pseudo: UInt32) {
    let minimum = f.l4Protocol == 6 ? 20 : 8
    guard l4Length >= minimum else { f.l4Protocol = 0; return }
    f.l4Checked = true
    if f.l4Protocol == 17 && wireU16(p, f.l4Offset + 6) == 0 {
        f.udpZeroChecksum = true
        f.l4Good = true
        return
    }
    f.l4Good = onesComplementSum(p + f.l4Offset, count: l4Length, initial: pseudo) == 0xFFFF
}

@inline(__always) func fold(_ s: UInt32) -> UInt32 {
    var s = s
    s = (s & 0xFFFF) &+ (s >> 16)
    s = (s & 0xFFFF) &+ (s >> 16)
    return s
}

/// The 16-bit ones-complement sum (RFC 1071) of `count` bytes, folded, plus `initial`.
@inline(__always)
func onesComplementSum(_ p: UnsafeRawPointer, count: Int, initial: UInt32) -> UInt32 {
    var sum: UInt64 = UInt64(initial)
    var i = 0
    while i &+ 4 <= count {
        sum &+= UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
        i &+= 4
    }
    if i &+ 2 <= count {
        sum &+= UInt64(wireU16(p, i))
        i &+= 2
    }
    if i < count { sum &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
    sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
    sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
    return fold(UInt32(truncatingIfNeeded: sum))
}
