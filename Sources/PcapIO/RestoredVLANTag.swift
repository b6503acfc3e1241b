/// The 802.1Q tag a port stripped from a received frame (or is asked to insert on transmit),
/// as a capture puts it back: TPID 0x8100 and the TCI, both big endian, right after the
/// destination and source addresses. The frame's own buffer is never changed: writers and
/// filters take the addresses, the tag and the rest as separate pieces.
@frozen
public struct RestoredVLANTag {
    /// Bytes of the frame before the tag: destination and source MAC addresses.
    @inlinable public static var addressesLength: Int { 12 }
    /// Bytes of the tag.
    @inlinable public static var length: Int { 4 }
    /// The tag protocol identifier of an 802.1Q tag.
    @inlinable public static var protocolIdentifier: UInt32 { 0x8100 }

    /// The tag's four bytes in wire order, as they lie in memory.
    public let bytes: UInt32

    /// The tag carrying `tci` (priority, DEI, VLAN id).
    @inlinable
    public init(tci: UInt16) {
        bytes = (Self.protocolIdentifier << 16 | UInt32(tci)).bigEndian
    }

    /// Whether a frame of `length` bytes has room for a tag after its addresses (shorter
    /// frames are written as they are).
    @inlinable
    public static func fits(frameLength length: Int) -> Bool { length >= addressesLength }
}
