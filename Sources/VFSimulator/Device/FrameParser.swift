import PMDCore

/// What the receive path learns about a frame before writing it back: VLAN tag, L3/L4
/// protocols, checksum verdicts and where the RSS hash input lies.
///
/// Eight bytes, returned in one register: the verdicts are bits of `flags`, laid out so that
/// the write-back's status bits (VP, IPCS, L4CS, UDPCS) and its packet type (`ptype`, shifted
/// by `ptypeShift`) are masks of it rather than a test per field.
struct ParsedFrame {
    /// `Flag` bits.
    var flags: UInt32 = 0
    /// The 802.1Q tag's TCI, when the frame carries one right after the source MAC.
    var vlanTCI: UInt16 = 0
    /// 6 (TCP), 17 (UDP) or 0.
    var l4Protocol: UInt8 = 0
    /// Offset of the L4 header in the frame (headers of a parsed frame end within 78 bytes).
    var l4OffsetByte: UInt8 = 0

    /// The bits of `flags`. The status bits sit where the advanced receive write-back has them
    /// (`AdvancedRxWriteBack`), the packet type bits `ptypeShift` higher.
    enum Flag {
        static let hasVLAN = AdvancedRxWriteBack.vp
        static let ipChecked = AdvancedRxWriteBack.ipcs
        static let l4Checked = AdvancedRxWriteBack.l4cs
        /// L4 checked and the protocol is UDP.
        static let udpChecked = AdvancedRxWriteBack.udpcs
        static let ipBad: UInt32 = 1 << 0
        static let l4Bad: UInt32 = 1 << 1
        static let udpZeroChecksum: UInt32 = 1 << 2
        static let isMulticast: UInt32 = 1 << 8
        static let isBroadcast: UInt32 = 1 << 9
        static let ptypeShift: UInt32 = 16
        static let isIPv4 = AdvancedRxWriteBack.ptypeIPv4 << ptypeShift
        static let ipv4Options = AdvancedRxWriteBack.ptypeIPv4Options << ptypeShift
        static let isIPv6 = AdvancedRxWriteBack.ptypeIPv6 << ptypeShift
        static let isTCP = AdvancedRxWriteBack.ptypeTCP << ptypeShift
        static let isUDP = AdvancedRxWriteBack.ptypeUDP << ptypeShift
        /// The write-back status bits the parse decides.
        static let statusMask = hasVLAN | ipChecked | l4Checked | udpChecked
    }

    @inline(__always) var hasVLAN: Bool { flags & Flag.hasVLAN != 0 }
    @inline(__always) var isIPv4: Bool { flags & Flag.isIPv4 != 0 }
    @inline(__always) var ipv4Options: Bool { flags & Flag.ipv4Options != 0 }
    @inline(__always) var isIPv6: Bool { flags & Flag.isIPv6 != 0 }
    /// Offsets of the L3 and L4 headers in the frame.
    @inline(__always) var l3Offset: Int { hasVLAN ? EthernetHeader.length + EthernetFraming.vlanTagLength : EthernetHeader.length }
    @inline(__always) var l4Offset: Int { Int(l4OffsetByte) }
    /// Whether the IPv4 header checksum was checked / was right.
    @inline(__always) var ipChecked: Bool { flags & Flag.ipChecked != 0 }
    @inline(__always) var ipGood: Bool { ipChecked && flags & Flag.ipBad == 0 }
    /// Whether the L4 checksum was checked / was right; a UDP checksum of 0 means "none".
    @inline(__always) var l4Checked: Bool { flags & Flag.l4Checked != 0 }
    @inline(__always) var l4Good: Bool { l4Checked && flags & Flag.l4Bad == 0 }
    @inline(__always) var udpZeroChecksum: Bool { flags & Flag.udpZeroChecksum != 0 }
    /// Whether the destination is a group address.
    @inline(__always) var isMulticast: Bool { flags & Flag.isMulticast != 0 }
    @inline(__always) var isBroadcast: Bool { flags & Flag.isBroadcast != 0 }
    /// The write-back's packet type field (82599 datasheet §7.1.6.2).
    @inline(__always) var ptype: UInt32 { flags >> Flag.ptypeShift }
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
    typealias F = ParsedFrame.Flag
    var f = ParsedFrame()
    guard length >= EthernetHeader.length else { return f }
    if p.load(as: UInt8.self) & 1 != 0 {
        let broadcast = p.loadUnaligned(as: UInt32.self) == 0xFFFF_FFFF && p.loadUnaligned(fromByteOffset: 4, as: UInt16.self) == 0xFFFF
        f.flags = broadcast ? F.isMulticast | F.isBroadcast : F.isMulticast
    }
    var offset = EthernetFraming.addressesLength
    var type = wireU16(p, offset)
    if type == EtherType.vlan && length >= EthernetHeader.length + EthernetFraming.vlanTagLength {
        f.flags |= F.hasVLAN
        f.vlanTCI = wireU16(p, 14)
        offset = 16
        type = wireU16(p, 16)
    }
    offset &+= 2
    if type == EtherType.ipv4 && length >= offset &+ IPv4Header.minimumLength {
        let vihl = p.load(fromByteOffset: offset, as: UInt8.self)
        let ihl = Int(vihl & 0xF) &* 4
        guard vihl >> 4 == 4, ihl >= IPv4Header.minimumLength, length >= offset &+ ihl else { return f }
        let options = ihl > IPv4Header.minimumLength
        f.flags |= options ? F.isIPv4 | F.ipv4Options | F.ipChecked : F.isIPv4 | F.ipChecked
        // The addresses (header bytes 12–19) are summed once, for the header and the
        // pseudo-header. A valid header sums to all ones, in either byte order.
        let addresses = machineOrderSum(p + (offset &+ 12), count: 8)
        var header = machineOrderSum(p + offset, count: 12) &+ addresses
        if options { header &+= machineOrderSum(p + (offset &+ IPv4Header.minimumLength), count: ihl &- IPv4Header.minimumLength) }
        if fold16(header) != 0xFFFF { f.flags |= F.ipBad }
        let totalLength = Int(wireU16(p, offset &+ 2))
        let fragment = wireU16(p, offset &+ 6) & 0x3FFF
        let proto = p.load(fromByteOffset: offset &+ 9, as: UInt8.self)
        guard fragment == 0, proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp, totalLength >= ihl, offset &+ totalLength <= length else { return f }
        let l4Length = totalLength &- ihl
        // Pseudo-header: addresses, protocol, L4 length.
        let pseudo = addresses &+ machineOrderWord(UInt16(proto)) &+ machineOrderWord(UInt16(truncatingIfNeeded: l4Length))
        checkL4(&f, p, proto: proto, at: offset &+ ihl, l4Length: l4Length, pseudo: pseudo)
    } else if type == EtherType.ipv6 && length >= offset &+ ipv6HeaderLength {
        guard p.load(fromByteOffset: offset, as: UInt8.self) >> 4 == 6 else { return f }
        f.flags |= F.isIPv6
        let payloadLength = Int(wireU16(p, offset &+ 4))
        let next = p.load(fromByteOffset: offset &+ 6, as: UInt8.self)
        guard next == IPProtocolNumber.tcp || next == IPProtocolNumber.udp, offset &+ ipv6HeaderLength &+ payloadLength <= length else { return f }
        let pseudo = machineOrderSum(p + (offset &+ 8), count: 32) &+ machineOrderWord(UInt16(next))
            &+ machineOrderWord(UInt16(truncatingIfNeeded: payloadLength))
        checkL4(&f, p, proto: next, at: offset &+ ipv6HeaderLength, l4Length: payloadLength, pseudo: pseudo)
    }
    return f
}

/// Records the TCP or UDP header at `l4Offset` and checks its checksum (`pseudo`: the
/// pseudo-header's `machineOrderSum`).
@inline(__always)
private func checkL4(_ f: inout ParsedFrame, _ p: UnsafeRawPointer, proto: UInt8, at l4Offset: Int, l4Length: Int, pseudo: UInt64) {
    typealias F = ParsedFrame.Flag
    f.l4OffsetByte = UInt8(truncatingIfNeeded: l4Offset)
    let udp = proto == IPProtocolNumber.udp
    guard l4Length >= (udp ? UDPHeader.length : 20) else { return }
    f.l4Protocol = proto
    if udp {
        f.flags |= F.isUDP | F.l4Checked | F.udpChecked
        if wireU16(p, l4Offset &+ 6) == 0 {
            f.flags |= F.udpZeroChecksum
            return
        }
    } else {
        f.flags |= F.isTCP | F.l4Checked
    }
    if fold16(pseudo &+ machineOrderSum(p + l4Offset, count: l4Length)) != 0xFFFF { f.flags |= F.l4Bad }
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
    fold(UInt32(UInt16(bigEndian: fold16(machineOrderSum(p, count: count)))) &+ initial)
}

/// The ones-complement sum of `count` bytes as 16-bit words in machine order, not folded: eight
/// bytes at a time, as two 32-bit halves into a 64-bit accumulator. Folded (`fold16`) it is the
/// byte-swapped big-endian sum on a little-endian machine: the sum does not depend on the byte
/// order it is taken in, up to that swap (RFC 1071 §2 (B)); all ones in one order is all ones
/// in the other.
@inline(__always)
func machineOrderSum(_ p: UnsafeRawPointer, count: Int) -> UInt64 {
    var sum: UInt64 = 0
    var i = 0
    while i &+ 8 <= count {
        let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        sum &+= (w & 0xFFFF_FFFF) &+ (w >> 32)
        i &+= 8
    }
    if i &+ 4 <= count {
        sum &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
        i &+= 4
    }
    if i &+ 2 <= count {
        sum &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt16.self))
        i &+= 2
    }
    // A last odd byte is the high byte of a big-endian word padded with zero.
    if i < count { sum &+= machineOrderWord(UInt16(p.load(fromByteOffset: i, as: UInt8.self)) << 8) }
    return sum
}

/// A big-endian 16-bit field's value as `machineOrderSum` adds it (the field's bytes loaded in
/// machine order).
@inline(__always) func machineOrderWord(_ value: UInt16) -> UInt64 { UInt64(value.bigEndian) }

/// `machineOrderSum`'s accumulator folded to 16 bits with its end-around carries.
@inline(__always) func fold16(_ s: UInt64) -> UInt16 {
    var s = (s & 0xFFFF_FFFF) &+ (s >> 32)
    s = (s & 0xFFFF_FFFF) &+ (s >> 32)
    return UInt16(truncatingIfNeeded: fold(UInt32(truncatingIfNeeded: s)))
}

/// Bytes of the fixed IPv6 header (RFC 8200 §3).
private let ipv6HeaderLength = 40
