/// What a port knows about a packet besides its bytes. One per buffer, kept beside the pool's
/// buffers (not inside them), filled by RX and read by TX and the apps.
///
/// A driver's receive path fills it with four whole-word stores (`storeReceived`): the length
/// and queue, the 16 bytes of the device's receive write-back descriptor as the device wrote
/// them, and the timestamp. What the write-back's status bits mean is decoded only when someone
/// asks (`PacketView.flags`), with the format the driver set on the pool.
@frozen
public struct PacketMetadata: Sendable {
    /// Bytes of frame data, starting at the buffer's data pointer.
    public var length: UInt32
    /// Queue that received the packet.
    public var queue: UInt16
    /// Flags set in software: TX requests, and the status of packets that no device received
    /// (a capture file's wall-clock timestamps). A received packet's device status is decoded
    /// from `receiveStatus` by `PacketView.flags`, which includes these.
    public var flags: PacketFlags
    /// The device's packet-info word (packet type, RSS type); 0 when no device received it.
    public var packetInfo: UInt32
    /// RSS hash from the device, valid with `.rssHash`.
    public var rssHash: UInt32
    /// The device's extended status and error bits; 0 when no device received the packet.
    public var receiveStatus: UInt32
    /// The length the device wrote for the last buffer of the frame.
    public var receiveLength: UInt16
    /// VLAN tag control information: stripped on RX (`.vlanStripped`), inserted on TX (`.insertVLAN`).
    public var vlanTCI: UInt16
    /// Receive time: TSC ticks (RX) or nanoseconds since the epoch (pcap sources).
    public var timestamp: UInt64

    /// An empty record.
    @inlinable
    public init() {
        length = 0; queue = 0; flags = []; packetInfo = 0; rssHash = 0
        receiveStatus = 0; receiveLength = 0; vlanTCI = 0; timestamp = 0
    }

    /// Whether the packet's VLAN tag was stripped into `vlanTCI`: its device status says so
    /// (`strippedTagStatus`: its pool's `PoolRef.strippedTagStatus`, read once per batch), or
    /// software set `.vlanStripped`. Two tests, for per-packet paths that need only this flag.
    @inlinable
    public func tagStripped(strippedTagStatus: UInt32) -> Bool {
        receiveStatus & strippedTagStatus != 0 || flags.contains(.vlanStripped)
    }

    /// Packet type bits as the device reported them (the low half of the packet-info word).
    @inlinable public var packetType: UInt16 { UInt16(truncatingIfNeeded: packetInfo) }

    /// Fills a record for a received frame with four stores: `length` and `queue` (software
    /// flags cleared), the device's 16-byte write-back descriptor (`writeBackLow`: packet info
    /// and RSS hash; `writeBackHigh`: status and errors, length, VLAN tag; little endian, as the
    /// device wrote them), and the timestamp.
    @inlinable
    public static func storeReceived(into record: UnsafeMutablePointer<PacketMetadata>, length: UInt32,
                                     queueWord: UInt64, writeBackLow: UInt64, writeBackHigh: UInt64,
                                     timestamp: UInt64) {
        let raw = UnsafeMutableRawPointer(record)
        raw.storeBytes(of: UInt64(length) | queueWord, as: UInt64.self)
        raw.storeBytes(of: writeBackLow, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: writeBackHigh, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: timestamp, toByteOffset: 24, as: UInt64.self)
    }

    /// The first word `storeReceived` writes for packets of queue `queue`, less the length.
    @inlinable
    public static func queueWord(_ queue: UInt16) -> UInt64 { UInt64(queue) << 32 }
}

/// How a device's receive status decodes into `PacketFlags`: masks of the status and
/// packet-info words that a driver copies into `PacketMetadata` (`receiveStatus`,
/// `packetInfo`). The driver sets it on the pools its receive queues fill, from its own
/// hardware tables; all zero decodes nothing.
@frozen
public struct ReceiveStatusFormat: Sendable, Equatable {
    /// Status: a VLAN tag was stripped into `vlanTCI`.
    public var vlanStripped: UInt32
    /// Status: the IPv4 header checksum / the TCP or UDP checksum was checked.
    public var ipChecked: UInt32
    public var l4Checked: UInt32
    /// Errors: the checked IPv4 / TCP or UDP checksum was bad.
    public var ipError: UInt32
    public var l4Error: UInt32
    /// Status: ignore the checksum indications (0 when the format has no such bit).
    public var checksumIgnored: UInt32
    /// Packet info: the RSS type; non-zero means `rssHash` holds a hash.
    public var rssType: UInt32
    /// Packet info: packet types whose L4 error is not reported (a device erratum), 0 for none.
    public var l4ErrorUnreliable: UInt32

    /// A format; all zero decodes nothing.
    @inlinable
    public init(vlanStripped: UInt32 = 0, ipChecked: UInt32 = 0, l4Checked: UInt32 = 0, ipError: UInt32 = 0,
                l4Error: UInt32 = 0, checksumIgnored: UInt32 = 0, rssType: UInt32 = 0, l4ErrorUnreliable: UInt32 = 0) {
        self.vlanStripped = vlanStripped
        self.ipChecked = ipChecked
        self.l4Checked = l4Checked
        self.ipError = ipError
        self.l4Error = l4Error
        self.checksumIgnored = checksumIgnored
        self.rssType = rssType
        self.l4ErrorUnreliable = l4ErrorUnreliable
    }

    /// The flags a device's status and packet-info words say (none for a status of 0).
    @inlinable
    public func flags(status: UInt32, info: UInt32) -> PacketFlags {
        guard status != 0 else { return [] }
        var flags: PacketFlags = []
        if info & rssType != 0 { flags.insert(.rssHash) }
        if status & vlanStripped != 0 { flags.insert(.vlanStripped) }
        guard status & checksumIgnored == 0 else { return flags }
        if status & ipChecked != 0 {
            flags.insert(status & ipError != 0 ? .ipChecksumBad : .ipChecksumGood)
        }
        if status & l4Checked != 0 {
            if status & l4Error == 0 {
                flags.insert(.l4ChecksumGood)
            } else if info & l4ErrorUnreliable == 0 {
                flags.insert(.l4ChecksumBad)
            }
        }
        return flags
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
