/// Views of protocol headers over packet bytes, for rewrites in place and for building frames.
/// Each view is a pointer into a buffer the caller owns; multi-byte fields are big endian on
/// the wire and host order in the API.

@inlinable func loadBE16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}
@inlinable func storeBE16(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt16) {
    p.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
}
@inlinable func loadBE32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}
@inlinable func storeBE32(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt32) {
    p.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
}

/// EtherType values.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
}

/// The 14-byte Ethernet II header.
@frozen
public struct EthernetHeader {
    /// Header length.
    public static let length = 14
    /// First byte of the header.
    public let pointer: UnsafeMutableRawPointer

    /// The header at `pointer`.
    @inlinable public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
    /// The header at the front of `packet`, or nil when the frame is too short.
    @inlinable public init?(_ packet: PacketView) {
        guard packet.length >= Self.length else { return nil }
        pointer = packet.data
    }

    /// Destination address.
    @inlinable public var destination: MACAddress {
        get { MACAddress(loadingFrom: pointer) }
        nonmutating set { newValue.store(to: pointer) }
    }
    /// Source address.
    @inlinable public var source: MACAddress {
        get { MACAddress(loadingFrom: pointer + 6) }
        nonmutating set { newValue.store(to: pointer + 6) }
    }
    /// EtherType (or TPID of a VLAN tag).
    @inlinable public var etherType: UInt16 {
        get { loadBE16(pointer, 12) }
        nonmutating set { storeBE16(pointer, 12, newValue) }
    }

    /// Swaps source and destination addresses (6 + 6 bytes).
    @inlinable
    public func swapAddresses() {
        let d0 = pointer.loadUnaligned(as: UInt32.self)
        let d1 = pointer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        let s0 = pointer.loadUnaligned(fromByteOffset: 6, as: UInt32.self)
        let s1 = pointer.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
        pointer.storeBytes(of: s0, toByteOffset: 0, as: UInt32.self)
        pointer.storeBytes(of: s1, toByteOffset: 4, as: UInt16.self)
        pointer.storeBytes(of: d0, toByteOffset: 6, as: UInt32.self)
        pointer.storeBytes(of: d1, toByteOffset: 10, as: UInt16.self)
    }

    /// Offset of the layer-3 header and its EtherType, past any 802.1Q/802.1ad tags
    /// within `length` bytes; nil when the frame ends inside the tags.
    @inlinable
    public func payload(frameLength length: Int) -> (offset: Int, etherType: UInt16)? {
        var offset = 12
        var type = etherType
        while type == EtherType.vlan || type == EtherType.qinq {
            offset += 4
            guard offset + 2 <= length else { return nil }
            type = loadBE16(pointer, offset)
        }
        return (offset + 2, type)
    }
}

/// An 802.1Q tag: the 4 bytes after the source address when the EtherType is 0x8100.
@frozen
public struct VLANTag {
    /// First byte of the tag (its TPID).
    public let pointer: UnsafeMutableRawPointer
    /// The tag at `pointer`.
    @inlinable public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
    /// Tag protocol identifier (0x8100).
    @inlinable public var tpid: UInt16 { get { loadBE16(pointer, 0) } nonmutating set { storeBE16(pointer, 0, newValue) } }
    /// Tag control information: priority (3 bits), DEI, VLAN id (12 bits).
    @inlinable public var tci: UInt16 { get { loadBE16(pointer, 2) } nonmutating set { storeBE16(pointer, 2, newValue) } }
    /// VLAN id.
    @inlinable public var vlanID: UInt16 { tci & 0x0FFF }
    /// Priority code point.
    @inlinable public var priority: UInt8 { UInt8(tci >> 13) }
}

/// An IPv4 header.
@frozen
public struct IPv4Header {
    /// Length without options.
    public static let minimumLength = 20
    /// First byte of the header.
    public let pointer: UnsafeMutableRawPointer
    /// The header at `pointer`.
    @inlinable public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }

    /// Version (4).
    @inlinable public var version: UInt8 { pointer.load(as: UInt8.self) >> 4 }
    /// Header length in bytes.
    @inlinable public var headerLength: Int { Int(pointer.load(as: UInt8.self) & 0x0F) * 4 }
    /// Total length (header and payload).
    @inlinable public var totalLength: UInt16 { get { loadBE16(pointer, 2) } nonmutating set { storeBE16(pointer, 2, newValue) } }
    /// Identification.
    @inlinable public var identification: UInt16 { get { loadBE16(pointer, 4) } nonmutating set { storeBE16(pointer, 4, newValue) } }
    /// Time to live.
    @inlinable public var ttl: UInt8 {
        get { pointer.load(fromByteOffset: 8, as: UInt8.self) }
        nonmutating set { pointer.storeBytes(of: newValue, toByteOffset: 8, as: UInt8.self) }
    }
    /// Protocol number of the payload (17 UDP, 6 TCP).
    @inlinable public var protocolNumber: UInt8 {
        get { pointer.load(fromByteOffset: 9, as: UInt8.self) }
        nonmutating set { pointer.storeBytes(of: newValue, toByteOffset: 9, as: UInt8.self) }
    }
    /// Header checksum as stored.
    @inlinable public var checksum: UInt16 { get { loadBE16(pointer, 10) } nonmutating set { storeBE16(pointer, 10, newValue) } }
    /// Source address.
    @inlinable public var source: UInt32 { get { loadBE32(pointer, 12) } nonmutating set { storeBE32(pointer, 12, newValue) } }
    /// Destination address.
    @inlinable public var destination: UInt32 { get { loadBE32(pointer, 16) } nonmutating set { storeBE32(pointer, 16, newValue) } }

    /// Writes version 4 and a header length of `length` bytes.
    @inlinable public func setVersionAndLength(_ length: Int = 20) {
        pointer.storeBytes(of: UInt8(0x40 | (length / 4)), as: UInt8.self)
    }

    /// The checksum the header should carry (computed over the header with the checksum field as 0).
    public func computeChecksum() -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i < headerLength {
            if i != 10 { sum += UInt32(loadBE16(pointer, i)) }
            i += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// Stores the correct header checksum.
    public func updateChecksum() { checksum = computeChecksum() }
}

/// A UDP header (8 bytes).
@frozen
public struct UDPHeader {
    /// Header length.
    public static let length = 8
    /// First byte of the header.
    public let pointer: UnsafeMutableRawPointer
    /// The header at `pointer`.
    @inlinable public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
    /// Source port.
    @inlinable public var sourcePort: UInt16 { get { loadBE16(pointer, 0) } nonmutating set { storeBE16(pointer, 0, newValue) } }
    /// Destination port.
    @inlinable public var destinationPort: UInt16 { get { loadBE16(pointer, 2) } nonmutating set { storeBE16(pointer, 2, newValue) } }
    /// Length of header and payload.
    @inlinable public var length: UInt16 { get { loadBE16(pointer, 4) } nonmutating set { storeBE16(pointer, 4, newValue) } }
    /// Checksum (0 = none, IPv4 only).
    @inlinable public var checksum: UInt16 { get { loadBE16(pointer, 6) } nonmutating set { storeBE16(pointer, 6, newValue) } }
}
