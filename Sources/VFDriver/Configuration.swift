import PMDCore

/// How a VF port is set up. Everything the PF has a say in (MAC, filters, modes, MTU) is
/// re-applied after every reset.
public struct VFPortConfiguration: Sendable {
    /// Receive/transmit queue pairs wanted (the PF may grant fewer).
    public var queues: Int = 1
    /// Descriptors per RX ring: 64…4096, a multiple of 8.
    public var rxDescriptors: Int = 512
    /// Descriptors per TX ring: 64…4096, a multiple of 8.
    public var txDescriptors: Int = 512
    /// MTU: 68…9706 (the PF's largest frame is 9728 bytes with a VLAN tag and CRC).
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
    /// Buffers in each RX queue's pool; more than `rxDescriptors`.
    public var poolSize: Int = 4096
    /// Reclaim sent buffers when fewer TX slots than this are free.
    public var txFreeThreshold: Int = 32
    /// Pages backing rings and pools.
    public var pages: DMAMemory.PagePolicy = .preferHugepages
    /// RSS hash key (40 bytes) for VFs that own their RSS registers; nil: a fixed default.
    public var rssKey: [UInt8]? = nil

    /// The defaults.
    public init() {}

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

    /// Checks ranges against a family's limits.
    func validate(for table: VFFamilyTable) throws(VFDriverError) {
        func ringOK(_ n: Int) -> Bool { (64...4096).contains(n) && n % 8 == 0 }
        guard queues >= 1 && queues <= table.maxQueues else {
            throw .invalidConfiguration("\(queues) queues: a \(table.generation) has 1 to \(table.maxQueues)")
        }
        guard ringOK(rxDescriptors) else {
            throw .invalidConfiguration("\(rxDescriptors) RX descriptors: use 64 to 4096, a multiple of 8")
        }
        guard ringOK(txDescriptors) else {
            throw .invalidConfiguration("\(txDescriptors) TX descriptors: use 64 to 4096, a multiple of 8")
        }
        guard (68...9706).contains(mtu) else {
            throw .invalidConfiguration("MTU \(mtu): use 68 to 9706")
        }
        let buffer = hardwareBufferSize
        guard buffer % 1024 == 0 && buffer >= 1024 && buffer <= table.maxBufferKiB * 1024 else {
            throw .invalidConfiguration("RX buffer size \(buffer): use a multiple of 1024 up to \(table.maxBufferKiB * 1024) bytes")
        }
        guard poolSize > rxDescriptors + PacketBatch.capacity else {
            throw .invalidConfiguration("pool of \(poolSize) buffers: it must hold more than the \(rxDescriptors) RX descriptors plus a burst of \(PacketBatch.capacity)")
        }
        guard txFreeThreshold >= 0 && txFreeThreshold < txDescriptors else {
            throw .invalidConfiguration("TX free threshold \(txFreeThreshold): use 0 to \(txDescriptors - 1)")
        }
        for id in vlanIDs where id == 0 || id >= 4095 {
            throw .invalidConfiguration("VLAN id \(id): use 1 to 4094")
        }
        if let key = rssKey, key.count != 40 {
            throw .invalidConfiguration("RSS key of \(key.count) bytes: it has 40")
        }
    }
}
