/// What a port knows about a packet besides its bytes. One per buffer, kept beside the pool's
/// buffers (not inside them), filled by RX and read by TX and the apps.
@frozen
public struct PacketMetadata: Sendable {
    /// Bytes of frame data, starting at the buffer's data pointer.
    public var length: UInt32
    /// Port that received the packet.
    public var port: UInt16
    /// Queue that received the packet.
    public var queue: UInt16
    /// RSS hash from the device, valid with `.rssHash`.
    public var rssHash: UInt32
    /// VLAN tag control information: stripped on RX (`.vlanStripped`), inserted on TX (`.insertVLAN`).
    public var vlanTCI: UInt16
    /// Status and offload flags.
    public var flags: PacketFlags
    /// Packet type bits as the device reported them (pkt_info of the write-back descriptor).
    public var packetType: UInt16
    /// Receive time: TSC ticks (RX) or nanoseconds since the epoch (pcap sources).
    public var timestamp: UInt64

    /// An empty record.
    @inlinable
    public init() {
        length = 0; port = 0; queue = 0; rssHash = 0; vlanTCI = 0
        flags = []; packetType = 0; timestamp = 0
    }
}

/// Status (RX) and request (TX) flags of a packet. The flags are computed constants, so the
/// driver's hot path folds them across modules (a `static let` is reached through an accessor).
@frozen
public struct PacketFlags: OptionSet, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RX: `rssHash` holds the device's RSS hash.
    @inlinable public static var rssHash: PacketFlags { PacketFlags(rawValue: 1 << 0) }
    /// RX: a VLAN tag was stripped into `vlanTCI`.
    @inlinable public static var vlanStripped: PacketFlags { PacketFlags(rawValue: 1 << 1) }
    /// RX: the device checked the IPv4 header checksum and it was good.
    @inlinable public static var ipChecksumGood: PacketFlags { PacketFlags(rawValue: 1 << 2) }
    /// RX: the IPv4 header checksum was bad.
    @inlinable public static var ipChecksumBad: PacketFlags { PacketFlags(rawValue: 1 << 3) }
    /// RX: the device checked the TCP/UDP checksum and it was good.
    @inlinable public static var l4ChecksumGood: PacketFlags { PacketFlags(rawValue: 1 << 4) }
    /// RX: the TCP/UDP checksum was bad.
    @inlinable public static var l4ChecksumBad: PacketFlags { PacketFlags(rawValue: 1 << 5) }
    /// RX: the timestamp is wall-clock nanoseconds (not TSC ticks).
    @inlinable public static var wallClockTimestamp: PacketFlags { PacketFlags(rawValue: 1 << 6) }
    /// TX: insert `vlanTCI` as an 802.1Q tag.
    @inlinable public static var insertVLAN: PacketFlags { PacketFlags(rawValue: 1 << 8) }
    /// TX: compute the IPv4 header checksum.
    @inlinable public static var offloadIPChecksum: PacketFlags { PacketFlags(rawValue: 1 << 9) }
    /// TX: compute the UDP or TCP checksum.
    @inlinable public static var offloadL4Checksum: PacketFlags { PacketFlags(rawValue: 1 << 10) }
}
