/// The port API every port type implements (a VF driver, the pcap file port): what an app
/// needs to move packets, in the shape of DPDK's ethdev.
///
/// Queue `q` of a port is used by one thread at a time. `receive` and `transmit` are called
/// once per burst: the per-packet work happens inside them, on concrete types.
public protocol Port: AnyObject, Sendable {
    /// Name for tables and logs (the port spec the user gave, or the PCI address).
    var name: String { get }
    /// Receive/transmit queue pairs in use.
    var queueCount: Int { get }
    /// The port's own MAC address.
    var macAddress: MACAddress { get }
    /// Link state as last seen.
    var link: LinkStatus { get }
    /// The counters as of the last `updateStats()`.
    var stats: PortStats { get }
    /// What the port can still do: run, or why it cannot (its input is exhausted, its device
    /// was removed, it failed). Any thread may ask; it costs no more than a few loads.
    var condition: PortCondition { get }
    /// Buffers taken from the port's own pools and not back in them (0 after a clean close).
    var buffersInUse: Int { get }
    /// The pools the port's received packets come from.
    var receivePools: [Mempool] { get }

    /// Makes packets of `pool` sendable on this port (maps the pool's memory for the device;
    /// nothing to do for a port without one). Call before transmitting packets of a pool that
    /// is not one of this port's own, e.g. packets received on another port.
    func mapForTransmit(_ pool: Mempool) throws

    /// Starts the queues; packets flow after this.
    func start() throws
    /// Stops the queues and takes back every buffer the device held.
    func stop()
    /// Stops and releases the port; pools are whole afterwards.
    func close()

    /// Receives up to `batch.freeCapacity` packets (at most one burst) from `queue` into the
    /// back of `batch`; returns how many arrived.
    func receive(queue: Int, into batch: inout PacketBatch) -> Int
    /// Sends packets from the front of `batch` on `queue`; removes what it sent and leaves the
    /// rest (ring full) in the batch. Returns how many it sent.
    func transmit(queue: Int, _ batch: inout PacketBatch) -> Int

    /// Reads the device counters and link state, and does any maintenance the port owes
    /// (re-initialising itself after a PF reset): call about once a second, with no burst
    /// running on the port's queues.
    func updateStats()
    /// Reads the counters and link state while other threads may run bursts on the port's
    /// queues (the statistics of a running datapath, which it never stops for them). Returns
    /// true when the port owes maintenance that needs its queues quiet: then stop the bursts
    /// and call `updateStats()`.
    func updateStatsBesideBursts() -> Bool
}

/// What a port can still do.
public enum PortCondition: Equatable, Sendable, CustomStringConvertible {
    /// Packets flow (or will, once started).
    case running
    /// A finite source (a capture file, a simulated VF fed from one) delivered everything it
    /// had: no packet will ever arrive again. Sending may still work.
    case inputExhausted
    /// The device is gone (its registers read all ones: surprise removal or unbind).
    case removed
    /// The port stopped working; the sentence says why.
    case failed(String)

    public var description: String {
        switch self {
        case .running: "running"
        case .inputExhausted: "input exhausted"
        case .removed: "device removed"
        case .failed(let reason): "failed: \(reason)"
        }
    }
}

/// Link state.
public struct LinkStatus: Equatable, Sendable, CustomStringConvertible {
    /// Whether the link is up.
    public var isUp: Bool
    /// Speed in Mb/s (0 when unknown or down).
    public var speedMbps: Int

    /// A link state.
    public init(isUp: Bool, speedMbps: Int) {
        self.isUp = isUp
        self.speedMbps = speedMbps
    }

    /// Link down.
    public static let down = LinkStatus(isUp: false, speedMbps: 0)

    public var description: String {
        guard isUp else { return "down" }
        if speedMbps >= 1000 { return "up \(speedMbps / 1000)G" }
        return speedMbps > 0 ? "up \(speedMbps)M" : "up"
    }
}

/// A port's counters, 64 bits wide (extended in software from the device's rollover registers).
public struct PortStats: Equatable, Sendable {
    /// Packets received and handed to the application.
    public var rxPackets: UInt64 = 0
    /// Bytes of those packets.
    public var rxBytes: UInt64 = 0
    /// Packets sent.
    public var txPackets: UInt64 = 0
    /// Bytes of those packets.
    public var txBytes: UInt64 = 0
    /// Frames the device dropped for lack of free descriptors.
    public var rxMissed: UInt64 = 0
    /// Frames dropped for errors (bad frame, oversize, bad descriptor from the device).
    public var rxErrors: UInt64 = 0
    /// Packets that could not be sent for errors.
    public var txErrors: UInt64 = 0
    /// Packets taken back from a transmit ring before the device reported them sent (a PF
    /// reset or a removed device reset the ring under them); back in their pools, not sent.
    public var txDiscarded: UInt64 = 0
    /// Times a receive slot could not be refilled because the pool was empty.
    public var rxNoBuffer: UInt64 = 0
    /// Times the port re-initialised itself (PF reset, lost clear-to-send).
    public var resets: UInt64 = 0
    /// DMA accesses the I/O address space refused (where visible).
    public var dmaFaults: UInt64 = 0
    /// Frames the PF's filters did not deliver to this VF, by reason (simulated ports only: a
    /// real VF cannot see its PF's filter drops, and the counts stay zero).
    public var filterDrops = FilterDrops()

    /// All zero.
    public init() {}

    /// The counters of `self` minus `older`, for rates.
    public func delta(since older: PortStats) -> PortStats {
        var d = PortStats()
        d.rxPackets = rxPackets &- older.rxPackets
        d.rxBytes = rxBytes &- older.rxBytes
        d.txPackets = txPackets &- older.txPackets
        d.txBytes = txBytes &- older.txBytes
        d.rxMissed = rxMissed &- older.rxMissed
        d.rxErrors = rxErrors &- older.rxErrors
        d.txErrors = txErrors &- older.txErrors
        d.txDiscarded = txDiscarded &- older.txDiscarded
        d.rxNoBuffer = rxNoBuffer &- older.rxNoBuffer
        d.resets = resets &- older.resets
        d.dmaFaults = dmaFaults &- older.dmaFaults
        d.filterDrops = filterDrops.delta(since: older.filterDrops)
        return d
    }
}

/// A counter of `width` bits in a device register, extended to 64 bits by summing the
/// differences between reads (modulo 2^width). Sample it before the register wraps twice.
public struct RolloverCounter: Sendable {
    /// Bits of the device register (32 or 36).
    public let width: Int
    /// The last raw value seen.
    public private(set) var last: UInt64
    /// The 64-bit total.
    public private(set) var total: UInt64

    /// A counter whose register currently reads `initial`.
    public init(width: Int, initial: UInt64) {
        self.width = width
        last = initial
        total = 0
    }

    /// Reads at which the register had gone backwards (a device fault): nothing was counted.
    public private(set) var regressions: UInt64 = 0

    /// Adds what the register counted since the last read. A step of more than half the
    /// register's range is taken as the register going backwards, not as a wrap (a 32-bit
    /// packet counter needs over 140 s at 14.88 Mpps to advance that far between two reads;
    /// a 36-bit octet counter over 25 s at 10 Gb/s): it is not counted, only noted.
    public mutating func update(raw: UInt64) {
        let mask: UInt64 = width >= 64 ? ~0 : (1 << UInt64(width)) - 1
        let step = (raw &- last) & mask
        if step > mask / 2 {
            regressions &+= 1
        } else {
            total &+= step
        }
        last = raw & mask
    }

    /// Starts over from `raw` without counting (after a device reset restarted the register).
    public mutating func rebase(raw: UInt64) { last = raw }
}
