import Logging
import PMDCore

let driverLog = Logger(label: "vfpmd.driver")

/// Mailbox API versions a VF may negotiate (the wire value is an enum, not the dotted number).
public enum MailboxAPI: Int, Comparable, Sendable, CustomStringConvertible {
    /// The original message set.
    case v1_0 = 0
    /// Adds GET_QUEUES.
    case v1_1 = 2
    /// Adds GET_RETA, GET_RSS_KEY, UPDATE_XCAST_MODE.
    case v1_2 = 3
    /// Adds the promiscuous xcast mode.
    case v1_3 = 4
    /// Adds IPsec offload messages (not used here).
    case v1_4 = 5

    public static func < (a: MailboxAPI, b: MailboxAPI) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .v1_0: "1.0"
        case .v1_1: "1.1"
        case .v1_2: "1.2"
        case .v1_3: "1.3"
        case .v1_4: "1.4"
        }
    }

    /// Tried from the newest down to 1.0 (1.5 and later change the mailbox protocol: not
    /// asked for). A PF that refuses them all predates negotiation: 1.0.
    static let negotiationOrder: [MailboxAPI] = [.v1_4, .v1_3, .v1_2, .v1_1, .v1_0]
}

/// A Virtual Function of the ixgbevf (82599 / X540 / X550) or igbvf (82576 / I350) family as a
/// PMDCore `Port`: one class for both families, driven by their `VFFamilyTable`.
///
/// Life: `init` resets the VF, talks to the PF (RESET, API, queues, MAC, frame size, filters),
/// allocates and maps one pool and one ring pair per queue; `start()` programs and enables
/// the queues; `stop()` disables them and takes every buffer back; `close()` resets the VF
/// and unmaps everything (the pools are whole afterwards).
///
/// Threads: queue `q` is used by one thread at a time. `watchdog()` / `updateStats()` may
/// re-initialise the port after a PF reset: call them from the thread that runs the queues,
/// or while no other thread is inside `receive`/`transmit`.
public final class VFPort: Port, @unchecked Sendable {
    /// The PCI function driven.
    public let function: any PCIFunction
    /// Its family table.
    public let table: VFFamilyTable
    /// Name for tables and logs.
    public let name: String
    /// The configuration as currently applied.
    public internal(set) var configuration: VFPortConfiguration

    /// Queue pairs in use. (No dynamic exclusivity check: read on every burst, written only
    /// by the control path of the thread that runs the queues.)
    @exclusivity(unchecked) public internal(set) var queueCount: Int
    /// Queue pairs the PF granted at the last reset.
    public internal(set) var grantedQueues: Int
    /// The MAC address in use.
    public internal(set) var macAddress: MACAddress
    /// The MAC the PF assigned (nil when it assigned none).
    public internal(set) var permanentMAC: MACAddress?
    /// The negotiated mailbox API (1.0 for igbvf, which has no negotiation).
    public internal(set) var apiVersion: MailboxAPI = .v1_0
    /// Link state as last seen.
    public internal(set) var link: LinkStatus = .down
    /// Counters as of the last `updateStats()`.
    public internal(set) var stats = PortStats()
    /// Whether the device disappeared (registers read all ones).
    public var isRemoved: Bool { state == .removed }
    /// What stands behind the function (a VFIO device, a simulated VF and its wires): told
    /// when the port stops and closes, asked whether the port's input is exhausted.
    public let backing: (any VFPortBacking)?

    /// Removed once the registers read all ones; failed or input exhausted when the backing
    /// says so.
    public var condition: PortCondition {
        if state == .removed { return .removed }
        if let failure = backing?.failure { return .failed(failure) }
        if backing?.isInputExhausted == true { return .inputExhausted }
        return .running
    }
    /// One pool per RX queue (index = queue).
    public internal(set) var rxPools: [Mempool] = []

    enum State { case configured, started, stopped, closed, removed }
    var state: State = .configured
    /// Whether `receive`/`transmit` may touch the rings (started, not recovering, not removed).
    /// Read on every burst: no dynamic exclusivity check (a `swift_beginAccess` call each time).
    @exclusivity(unchecked) @usableFromInline var queuesRunning = false
    @usableFromInline let rxQueues: UnsafeMutablePointer<RxQueue>
    @usableFromInline let txQueues: UnsafeMutablePointer<TxQueue>
    /// The software counters of each queue pair, read beside the bursts (`updateStatsBesideBursts`).
    let queueTallies: [(rx: SharedCounters, tx: SharedCounters)]

    let mailbox: Mailbox
    /// BAR0 as plain registers: queue programming and the data path's tails.
    let window: RegisterWindow
    /// BAR0's control path (reset, interrupts, status, link, statistics), with the registers'
    /// semantics applied where the bus models them.
    let controlRegisters: ControlRegisters
    /// Multicast hash type from the RESET reply (ixgbe), 0 for igb.
    var multicastFilterType = 0
    /// DMA regions this port mapped (rings, pools, extra pools), unmapped at close.
    var mappedRegions: [DMAMemory] = []
    /// Ring memory of each queue pair.
    var ringRegions: [(rx: DMAMemory, tx: DMAMemory)] = []
    /// Queue structs set up (`queueCount` once allocation finished).
    var allocatedQueues = 0
    /// Memory of the queue structs' side arrays.
    var sideArrays: [UnsafeMutableRawPointer] = []
    /// Device counters extended to 64 bits.
    var deviceCounters: DeviceCounters?
    /// A recovery is owed (a PF reset or lost clear-to-send was seen, or one failed).
    var needsRecovery = false
    /// Whether the PF honoured SET_PROMISC before (igb): it is cleared when turning modes off.
    var igbPromiscuousRequested = false
    /// Interrupt mode's eventfds and MSI-X capability while the port runs with interrupts.
    var msix: MSIXAttachment?

    /// Opens the VF at `function`: reset, PF handshake, queues, filters. The port is
    /// configured and stopped; call `start()`. `backing` is told when the port stops and
    /// after it closed; when opening fails it is not told: the caller still owns it.
    public init(function: any PCIFunction, configuration: VFPortConfiguration = VFPortConfiguration(),
                name: String? = nil, backing: (any VFPortBacking)? = nil) throws {
        guard let table = VFFamilyTable.lookup(vendorID: function.vendorID, deviceID: function.deviceID) else {
            throw VFDriverError.unsupportedDevice(
                address: function.address, vendorID: function.vendorID, deviceID: function.deviceID)
        }
        try configuration.validate(for: table)
        self.function = function
        self.table = table
        self.name = name ?? function.address
        self.configuration = configuration
        self.backing = backing
        window = function.bar0
        controlRegisters = function.controlRegisters
        mailbox = Mailbox(function: function, table: table)
        queueCount = 0
        grantedQueues = 0
        macAddress = .zero
        rxQueues = .allocate(capacity: table.maxQueues)
        txQueues = .allocate(capacity: table.maxQueues)
        queueTallies = (0..<table.maxQueues).map { _ in
            (SharedCounters(count: RxQueueCounters.Slot.count), SharedCounters(count: TxQueueCounters.Slot.count))
        }
        do {
            try function.enableBusMaster()
            try initializeDevice()
            queueCount = min(configuration.queues, grantedQueues)
            if queueCount < configuration.queues {
                driverLog.notice("\(self.name): the PF granted \(grantedQueues) queue pairs; using \(queueCount) of the \(configuration.queues) asked for")
            }
            try allocateQueues()
            try applyPFSettings()
            rebaseCounters()
            link = readLink()
        } catch {
            releaseAllBuffers()
            releaseMemory()
            state = .closed
            throw error
        }
    }

    deinit {
        close()
        rxQueues.deallocate()
        txQueues.deallocate()
        for tallies in queueTallies {
            tallies.rx.deallocate()
            tallies.tx.deallocate()
        }
    }

    // MARK: - Port: the data path

    /// Receives up to `batch.freeCapacity` packets (one burst) from RX queue `queue`.
    @inlinable
    public func receive(queue: Int, into batch: inout PacketBatch) -> Int {
        precondition(queue >= 0 && queue < queueCount, "RX queue out of range")
        guard queuesRunning else { return 0 }
        return rxQueues[queue].receive(into: &batch)
    }

    /// Sends packets from the front of `batch` on TX queue `queue`; what did not fit stays.
    @inlinable
    public func transmit(queue: Int, _ batch: inout PacketBatch) -> Int {
        precondition(queue >= 0 && queue < queueCount, "TX queue out of range")
        guard queuesRunning else { return 0 }
        return txQueues[queue].transmit(&batch)
    }

    /// Returns sent buffers of TX queue `queue` to their pools now (otherwise done lazily).
    @discardableResult
    public func reclaimTransmitted(queue: Int) -> Int {
        guard queuesRunning else { return 0 }
        return txQueues[queue].reclaim()
    }

    /// Maps `pool` into the VF's I/O address space so that its packets can be sent here
    /// (pools of another port in the same container are already mapped). Unmapped at close.
    public func mapForTransmit(_ pool: Mempool) throws {
        guard state != .closed else { throw VFDriverError.closed(address: function.address) }
        if let segment = function.dmaSegmentSize, !pool.keepsBuffersInside(segmentsOf: segment) {
            throw VFDriverError.dmaMapFailed(address: function.address, reason: "the buffers of pool \(pool.name) may cross the \(segment / 1024) KiB segments the VF addresses memory in (no IOMMU): make the pool in hugepages")
        }
        try map(pool.region)
        pool.regionWasMapped()
    }
}

/// What stands behind a VF port besides its PCI function, for the port's life: the VFIO device
/// to close after the driver let go of it, or a simulated VF with its wires. Called on the
/// control path only (start, stop, close, condition checks), never per burst.
public protocol VFPortBacking: AnyObject, Sendable {
    /// Whether a finite input (a simulated VF's capture) is played and every frame of it is in
    /// the application's hands or dropped and counted. A real VF's input never is.
    var isInputExhausted: Bool { get }
    /// The port is about to stop its queues (a simulated VF lets its device drain the TX rings).
    func portWillStop()
    /// The port closed: the VF is reset and no longer does DMA, its memory is unmapped.
    func portDidClose()
    /// What stopped working behind the port (a simulated wire's capture file that could not
    /// be written), as one sentence; nil while all is well.
    var failure: String? { get }
    /// Frames the PF's filters did not deliver to the VF, as the PF counted them: a simulated
    /// PF knows them; a real VF cannot see its PF's counts (zero).
    var filterDrops: FilterDrops { get }
}
