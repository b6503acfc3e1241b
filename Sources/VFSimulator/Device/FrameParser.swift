import PMDCore

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

/// IP protocol numbers the parser and the offloads know.
enum IPProtocolNumber {
    static let tcp: UInt8 = 6, udp: UInt8 = 17
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
    guard length >= EthernetHeader.length else { return f }
    let d0 = p.load(as: UInt8.self)
    f.isMulticast = d0 & 1 != 0
    if f.isMulticast {
        f.isBroadcast = p.loadUnaligned(as: UInt32.self) == 0xFFFF_FFFF && p.loadUnaligned(fromByteOffset: 4, as: UInt16.self) == 0xFFFF
    }
    var offset = EthernetFraming.addressesLength
    var type = wireU16(p, offset)
    if type == EtherType.vlan && length >= EthernetHeader.length + EthernetFraming.vlanTagLength {
        f.hasVLAN = true
        f.vlanTCI = wireU16(p, 14)
        offset = 16
        type = wireU16(p, 16)
    }
    offset &+= 2
    f.l3Offset = offset
    if type == EtherType.ipv4 && length >= offset + IPv4Header.minimumLength {
        let vihl = p.load(fromByteOffset: offset, as: UInt8.self)
        let ihl = Int(vihl & 0xF) * 4
        guard vihl >> 4 == 4, ihl >= IPv4Header.minimumLength, length >= offset + ihl else { return f }
        f.isIPv4 = true
        f.ipv4Options = ihl > IPv4Header.minimumLength
        f.ipChecked = true
        f.ipGood = onesComplementSum(p + offset, count: ihl, initial: 0) == 0xFFFF
        let totalLength = Int(wireU16(p, offset + 2))
        let fragment = wireU16(p, offset + 6) & 0x3FFF
        let proto = p.load(fromByteOffset: offset + 9, as: UInt8.self)
        guard fragment == 0, proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp, totalLength >= ihl, offset + totalLength <= length else { return f }
        f.l4Protocol = proto
        f.l4Offset = offset + ihl
        let l4Length = totalLength - ihl
        // Pseudo-header: addresses, protocol, L4 length.
        var pseudo = onesComplementSum(p + offset + 12, count: 8, initial: 0)
        pseudo = fold(pseudo &+ UInt32(proto) &+ UInt32(l4Length))
        checkL4(&f, p, l4Length: l4Length, pseudo: pseudo)
    } else if type == EtherType.ipv6 && length >= offset + ipv6HeaderLength {
        guard p.load(fromByteOffset: offset, as: UInt8.self) >> 4 == 6 else { return f }
        f.isIPv6 = true
        let payloadLength = Int(wireU16(p, offset + 4))
        let next = p.load(fromByteOffset: offset + 6, as: UInt8.self)
        guard next == IPProtocolNumber.tcp || next == IPProtocolNumber.udp, offset + ipv6HeaderLength + payloadLength <= length else { return f }
        f.l4Protocol = next
        f.l4Offset = offset + ipv6HeaderLength
        var pseudo = onesComplementSum(p + offset + 8, count: 32, initial: 0)
        pseudo = fold(pseudo &+ UInt32(next) &+ UInt32(payloadLength))
        checkL4(&f, p, l4Length: payloadLength, pseudo: pseudo)
    }
    return f
}

@inline(__always)
private func checkL4(_ f: inout ParsedFrame, _ p: UnsafeRawPointer, l4Length: Int, pseudo: UInt32) {
    let minimum = f.l4Protocol == IPProtocolNumber.tcp ? 20 : UDPHeader.length
    guard l4Length >= minimum else { f.l4Protocol = 0; return }
    f.l4Checked = true
    if f.l4Protocol == IPProtocolNumber.udp && wireU16(p, f.l4Offset + 6) == 0 {
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

/// Bytes of the fixed IPv6 header (RFC 8200 §3).
private let ipv6HeaderLength = 40
