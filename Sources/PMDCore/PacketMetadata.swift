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

/// Status (RX) and request (TX) flags of a packet.
@frozen
public struct PacketFlags: OptionSet, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RX: `rssHash` holds the device's RSS hash.
    public static let rssHash = PacketFlags(rawValue: 1 << 0)
    /// RX: a VLAN tag was stripped into `vlanTCI`.
    public static let vlanStripped = PacketFlags(rawValue: 1 << 1)
    /// RX: the device checked the IPv4 header checksum and it was good.
    public static let ipChecksumGood = PacketFlags(rawValue: 1 << 2)
    /// RX: the IPv4 header checksum was bad.
    public static let ipChecksumBad = PacketFlags(rawValue: 1 << 3)
    /// RX: the device checked the TCP/UDP checksum and it was good.
    public static let l4ChecksumGood = PacketFlags(rawValue: 1 << 4)
    /// RX: the TCP/UDP checksum was bad.
    public static let l4ChecksumBad = PacketFlags(rawValue: 1 << 5)
    /// RX: the timestamp is wall-clock nanoseconds (not TSC ticks).
    public static let wallClockTimestamp = PacketFlags(rawValue: 1 << 6)
    /// TX: insert `vlanTCI` as an 802.1Q tag.
    public static let insertVLAN = PacketFlags(rawValue: 1 << 8)
    /// TX: compute the IPv4 header checksum.
    public static let offloadIPChecksum = PacketFlags(rawValue: 1 << 9)
    /// TX: compute the UDP or TCP checksum.
    public static let offloadL4Checksum = PacketFlags(rawValue: 1 << 10)
}
