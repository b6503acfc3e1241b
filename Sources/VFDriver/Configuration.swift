import PMDCore

/// How a VF port is set up. Everything the PF has a say in (MAC, filters, modes, MTU) is
/// re-applied after every reset.
public struct VFPortConfiguration: Equatable, Sendable {
    /// Receive/transmit queue pairs wanted (the PF may grant fewer).
    public var queues: Int = 1
    /// Descriptors per RX ring: `descriptorRange`, a multiple of 8.
    public var rxDescriptors: Int = 512
    /// Descriptors per TX ring: `descriptorRange`, a multiple of 8.
    public var txDescriptors: Int = 512
    /// MTU: `mtuRange`.
    public var mtu: Int = 1500
    /// Unicast promiscuous mode (needs a trusted VF).
    public var promiscuous = false
    /// All-multicast mode.
    public var allMulticast = false
    /// VLAN ids to receive (untagged frames are always received).
    public var vlanIDs: [UInt16] = []
    /// Strip VLAN tags into the metadata (ixgbe VFs; on igb VFs the PF decides).
    public var stripVLAN = false
    /// MAC address to use instead of the PF-assigned one.
    public var mac: MACAddress? = nil
    /// Multicast groups to receive.
    public var multicast: [MACAddress] = []
    /// Accept frames that span several RX descriptors (see `rxBufferSize`) by copying their
    /// segments into one buffer; off: such frames are dropped and counted.
    public var scatteredReceive = false
    /// Bytes per RX buffer as the device sees it (a multiple of 1024); nil: large enough for
    /// the MTU, so that frames never span descriptors.
    public var rxBufferSize: Int? = nil
    /// Buffers in each RX queue's pool, more than `rxDescriptors` plus a burst; nil: enough
    /// for a full RX ring and a full TX ring of another port (`buffersPerPool`).
    public var poolSize: Int? = nil
    /// Reclaim sent buffers when fewer TX slots than this are free.
    public var txFreeThreshold: Int = 32
    /// Pages backing rings and pools.
    public var pages: DMAMemory.PagePolicy = .preferHugepages
    /// RSS hash key (40 bytes) for VFs that own their RSS registers; nil: a fixed default.
    public var rssKey: [UInt8]? = nil
    /// Interrupt mode (MSI-X through eventfds, see `VFPort.interruptEventFDs`); nil: poll mode,
    /// every interrupt masked.
    public var interrupts: InterruptSettings? = nil

    /// The defaults.
    public init() {}

    /// Descriptors a ring may have (the ring length registers VFRDLEN/VFTDLEN, RDLEN/TDLEN on
    /// the 82576, take multiples of 128 bytes: 8 descriptors; this driver's rings are 64 to 4096 long).
    public static let descriptorRange = 64...4096
    /// Ring lengths are multiples of this.
    public static let descriptorMultiple = 8
    /// MTUs the VF families accept: the PF's largest frame is 9728 bytes with the Ethernet
    /// header, a VLAN tag and the CRC (the PF's MAXFRS on the 82599,
    /// the VF's RLPML on the 82576 and X550).
    public static let mtuRange = 68...9706
    /// VLAN ids a VF can join (0 is "no VLAN", 4095 reserved: IEEE 802.1Q).
    public static let vlanRange: ClosedRange<UInt16> = 1...4094
    /// The most queue pairs any supported family gives a VF (an 82599/X550 VF: 8).
    public static let maxQueues = 8

    /// Whether `n` is a valid ring length.
    public static func isValidRingLength(_ n: Int) -> Bool {
        descriptorRange.contains(n) && n % descriptorMultiple == 0
    }

    /// Buffers in each RX queue's pool: `poolSize`, or room for a full RX ring, a full TX ring
    /// of the largest size (where the packets go when forwarded) and two bursts.
    public var buffersPerPool: Int {
        poolSize ?? max(4096, rxDescriptors + Self.descriptorRange.upperBound + 2 * PacketBatch.capacity)
    }

    /// Largest frame on the wire: Ethernet header, one VLAN tag, CRC.
    public var maxFrameLength: Int { mtu + 14 + 4 + 4 }

    /// Largest frame the device writes into memory (CRC stripped by the PF).
    var maxReceivedFrame: Int { mtu + 14 + 4 }

    /// The device's RX buffer size.
    var hardwareBufferSize: Int {
        rxBufferSize ?? max(2048, (maxReceivedFrame + 1023) / 1024 * 1024)
    }

    /// Bytes of frame data in each pool buffer: the device's buffer, or a whole frame when
    /// scattered frames are collected into one buffer.
    var poolDataRoom: Int {
        scatteredReceive ? max(hardwareBufferSize, (maxReceivedFrame + 1023) / 1024 * 1024) : hardwareBufferSize
    }

    /// Checks the ranges against a family's limits.
    func validate(for table: VFFamilyTable) throws(VFDriverError) {
        guard queues >= 1 && queues <= table.maxQueues else {
            throw .invalidConfiguration("\(queues) queues: a \(table.generation) has 1 to \(table.maxQueues)")
        }
        try validateRanges()
        let buffer = hardwareBufferSize
        guard buffer % 1024 == 0 && buffer >= 1024 && buffer <= table.maxBufferKiB * 1024 else {
            throw .invalidConfiguration("RX buffer size \(buffer): use a multiple of 1024 up to \(table.maxBufferKiB * 1024) bytes")
        }
    }

    /// Checks the ranges every family shares (the published ones: `descriptorRange`,
    /// `mtuRange`, `vlanRange`, `maxQueues`), and that the pool holds a ring and a burst.
    public func validateRanges() throws(VFDriverError) {
        guard (1...Self.maxQueues).contains(queues) else {
            throw .invalidConfiguration("\(queues) queues: use 1 to \(Self.maxQueues)")
        }
        let rings = "use \(Self.descriptorRange.lowerBound) to \(Self.descriptorRange.upperBound), a multiple of \(Self.descriptorMultiple)"
        guard Self.isValidRingLength(rxDescriptors) else {
            throw .invalidConfiguration("\(rxDescriptors) RX descriptors: \(rings)")
        }
        guard Self.isValidRingLength(txDescriptors) else {
            throw .invalidConfiguration("\(txDescriptors) TX descriptors: \(rings)")
        }
        guard Self.mtuRange.contains(mtu) else {
            throw .invalidConfiguration("MTU \(mtu): use \(Self.mtuRange.lowerBound) to \(Self.mtuRange.upperBound)")
        }
        guard buffersPerPool > rxDescriptors + PacketBatch.capacity else {
            throw .invalidConfiguration("pool of \(buffersPerPool) buffers: it must hold more than the \(rxDescriptors) RX descriptors plus a burst of \(PacketBatch.capacity)")
        }
        guard txFreeThreshold >= 0 && txFreeThreshold < txDescriptors else {
            throw .invalidConfiguration("TX free threshold \(txFreeThreshold): use 0 to \(txDescriptors - 1)")
        }
        for id in vlanIDs where !Self.vlanRange.contains(id) {
            throw .invalidConfiguration("VLAN id \(id): use \(Self.vlanRange.lowerBound) to \(Self.vlanRange.upperBound)")
        }
        if let key = rssKey, key.count != 40 {
            throw .invalidConfiguration("RSS key of \(key.count) bytes: it has 40")
        }
        if let interrupts, !InterruptSettings.moderationRange.contains(interrupts.moderationMicroseconds) {
            throw .invalidConfiguration("interrupt moderation of \(interrupts.moderationMicroseconds) µs: use \(InterruptSettings.moderationRange.lowerBound) to \(InterruptSettings.moderationRange.upperBound)")
        }
    }
}

/// Interrupt mode's settings.
public struct InterruptSettings: Equatable, Sendable {
    /// The least time between two messages of a receive queue's vector, in microseconds (0: none).
    public var moderationMicroseconds: Int
    /// Moderation values every family can hold (the 82599's 9-bit field of 2.048 µs steps
    /// reaches 1046 µs).
    public static let moderationRange = 0...1000

    /// Interrupt mode with `moderationMicroseconds` of moderation.
    public init(moderationMicroseconds: Int = 0) {
        self.moderationMicroseconds = moderationMicroseconds
    }
}
