import CShims
import PMDCore
import Synchronization

/// A software SR-IOV Virtual Function with its PF, implementing PMDCore's `PCIFunction`: an
/// 82599 VF, an X550 VF (ixgbevf class, ixgbe PF) or an 82576 VF (igbvf class, igb PF).
///
/// BAR0 is a 16 KiB register file in ordinary memory. The data path's registers (ring
/// programming, heads, tails, queue enables) are plain memory: the driver uses the same volatile
/// 32-bit loads and stores as on a real BAR, and the device model (run by a `SimulationEngine`)
/// polls what it wrote and moves frames between the descriptor rings and its wires through the
/// container's IOMMU table. The control registers (reset, mailbox control, interrupt cause and
/// mask, status, link, statistics) are reached through `controlRegisters`, which applies their
/// silicon semantics at each access (`ControlRegisterSemantics`): read-to-clear mailbox bits,
/// read-only bits and registers, the self-clearing reset, cause and mask set/clear. Interrupt
/// causes (RX and TX write-back, mailbox) are raised as the mapping registers say and sent as
/// MSI-X messages to eventfds (`InterruptNotifications`, `SimulatedVF+Interrupts`).
///
/// How the model shows what a BAR shows:
/// - The model changes registers the driver also writes (mailbox bits, queue enable bits)
///   with compare-and-swap, so no driver access is lost.
/// - ixgbe queue enables: the model clears the ENABLE bit the driver wrote and sets it again
///   `enableDelay` later, when the queue really runs (igb: at once, as QEMU's igb does and
///   igbvf drivers expect).
/// - A threaded engine polls the running queues' registers at every pass and the disabled
///   queues' every `idleQueueScanInterval` (20 µs): an enable request is seen that much later
///   at most. A stepped engine polls every queue at every step.
///
/// Use (stepped, as tests do):
/// ```
/// let engine = SimulationEngine(mode: .stepped)
/// let vf = SimulatedVF(family: .ixgbe82599, container: SimulatedContainer(), engine: engine,
///                      settings: PFSettings(mac: mac))
/// vf.connect(rx: FrameGenerator(config), tx: MemorySink())
/// // a driver opens `vf` as a PCIFunction; its delay(microseconds:) runs the model, and
/// // engine.step() runs it between bursts
/// ```
///
/// Thread use: the public methods may be called from any thread. The device state is owned by
/// the engine's thread; settings and faults are handed over through a lock and applied at the
/// engine's next step.
public final class SimulatedVF: PCIFunction, @unchecked Sendable {
    // @unchecked: engine-owned fields are touched only by the engine's thread (or, in stepped
    // mode, by the thread that steps it); everything else goes through `shared` (a Mutex) or
    // atomics. BAR0 is shared memory by design.

    /// Which VF this is.
    public let family: SimulatedFamily
    /// The address space the VF's DMA goes through.
    public let container: SimulatedContainer
    /// The engine that runs the model.
    public let engine: SimulationEngine
    /// A simulator name such as `sim:82599-0`.
    public let address: String
    /// 0x8086.
    public var vendorID: UInt16 { family.vendorID }
    /// The family's VF device ID.
    public var deviceID: UInt16 { family.deviceID }
    /// The register window (BAR0).
    public var bar0: RegisterWindow { registers.window }
    /// The control registers of BAR0, with their silicon semantics applied at each access.
    public var controlRegisters: ControlRegisters { ControlRegisters(window: registers.window, model: controlSemantics) }

    /// Simulated time an ixgbe queue enable takes to read back (ns): drivers poll the enable bit
    /// (ixgbevf.md §3.7, "hardware sets/clears the read-back value with delay").
    public static let enableDelay: UInt64 = 20_000

    // MARK: Shared state (behind the lock)

    struct Shared {
        var settings: PFSettings
        var view = PFView()
        var responder: PFMailboxResponder
        var faults: [Fault] = []
        var violations: [ProtocolViolation] = []
        var mailboxLog: [MailboxExchange] = []
        var rxSource: FrameSource?
        var txSink: FrameSink?
        var statPresets: [(StatisticRegister, UInt64)] = []
        var link: LinkStatus
        var config = ConfigSpace()
        var removed = false
        /// Eventfds (our duplicates) handed over for the engine to take, -1 for none.
        var pendingEventFDs: [Int32]?
    }

    let shared: Locked<Shared>
    /// Bumped on every change of `shared` the engine must pick up.
    let controlVersion = Atomic<UInt64>(1)
    /// The VF's MAC as the PF knows it (48 bits; bit 63 set when valid), for switches.
    let macBits = Atomic<UInt64>(0)
    /// The last `controlVersion` the engine applied.
    let appliedVersion = Atomic<UInt64>(0)
    /// 1 + the engine's pass count when the receive source was first seen exhausted (0: not
    /// yet); `connect(rx:)` starts it anew.
    let inputExhaustedAtPass = Atomic<UInt64>(0)

    // MARK: Engine-owned state
    // Touched by one thread at a time (the engine's, or the one stepping it), so without the
    // dynamic exclusivity check that each access to a class's stored variable costs otherwise.

    let registers: RegisterFile
    /// What a VF access to a control register does.
    let controlSemantics: ControlRegisterSemantics
    /// Where the VF's MSI-X messages go.
    let msix = MSIXDelivery()
    let map: RegisterMap
    @exclusivity(unchecked) var busMaster = false
    @exclusivity(unchecked) var settings: PFSettings
    @exclusivity(unchecked) var filter = ReceiveFilter()
    @exclusivity(unchecked) var link: LinkStatus
    /// The receive side's source, kept here and read by the receive burst through `rxSourceRef`
    /// (a constant of an object reached unretained: no reference counting at every pass).
    @exclusivity(unchecked) var rxSource: ReceiveSourceHolder? {
        didSet { rxSourceRef = rxSource.map { .passUnretained($0) } }
    }
    /// `rxSource` unretained, for the receive burst.
    @exclusivity(unchecked) var rxSourceRef: Unmanaged<ReceiveSourceHolder>?
    @exclusivity(unchecked) var txSink: FrameSink?
    let rxQueues: UnsafeMutablePointer<QueueState>
    let txQueues: UnsafeMutablePointer<QueueState>
    @exclusivity(unchecked) var stats: StatisticsRegisters
    let counterStorage: UnsafeMutablePointer<Counters>
    /// The PF's filter drops, by reason (written by the engine, read by anyone).
    let filterDropCounters = FilterDropCounters()
    @exclusivity(unchecked) var rss: RSSHash
    @exclusivity(unchecked) var rssConfig = RSSConfig()
    let rxBatch = FrameBatch()
    /// The write-back's error bits in this family's positions.
    let rxErrorBits: ReceiveErrorBits
    /// Whether bursts take the receive and transmit common-case paths (`deliverCommonCase`,
    /// `transmitSingleDescriptor`) where they apply; tests turn them off to compare the general
    /// paths' results with theirs.
    @exclusivity(unchecked) var commonCasePaths = true
    let txBatch = FrameBatch()
    @exclusivity(unchecked) var pendingPFMessages: [[UInt32]] = []
    @exclusivity(unchecked) var removed = false
    @exclusivity(unchecked) var pfResetUntil: UInt64?
    @exclusivity(unchecked) var txStalled = false
    @exclusivity(unchecked) var nacked: Set<UInt32> = []
    @exclusivity(unchecked) var silent = false
    @exclusivity(unchecked) var silentFrom: UInt32?
    /// Whether every control pass scans every queue: in a stepped engine (what a test steps
    /// is seen at that step); a threaded one scans the idle queues every
    /// `idleQueueScanInterval`. Tests turn it off on a stepped engine to check that bound in
    /// simulated time.
    @exclusivity(unchecked) var scansIdleQueuesEveryPass: Bool
    /// Engine time of the last scan of every queue.
    @exclusivity(unchecked) var lastQueueScan: UInt64 = 0
    /// The queues running or enabling at the last scan of every queue (RX queue q: bit q; TX
    /// queue q: bit `txQueueBit` + q), polled at every pass in between.
    @exclusivity(unchecked) var activeQueues: UInt32 = 0

    /// A VF of `family` attached to `container` and run by `engine`, with the PF's
    /// administrative `settings` for it.
    public init(
        family: SimulatedFamily, container: SimulatedContainer, engine: SimulationEngine,
        address: String? = nil, settings: PFSettings = PFSettings()
    ) {
        self.family = family
        self.container = container
        self.engine = engine
        scansIdleQueuesEveryPass = engine.mode == .stepped
        map = family.registers
        registers = RegisterFile()
        controlSemantics = ControlRegisterSemantics(registers: registers, map: map)
        let defaultLink = LinkStatus(isUp: true, speedMbps: family.isIxgbe ? 10_000 : 1000)
        shared = Locked(Shared(settings: settings, responder: PFMailboxResponder(family: family), link: defaultLink))
        self.settings = settings
        link = defaultLink
        let queues = RegisterMap.maxQueuesOfAnyFamily
        rxQueues = .allocate(capacity: queues)
        rxQueues.initialize(repeating: QueueState(), count: queues)
        txQueues = .allocate(capacity: queues)
        txQueues.initialize(repeating: QueueState(), count: queues)
        stats = StatisticsRegisters(family: family)
        rxErrorBits = ReceiveErrorBits(family: family)
        counterStorage = .allocate(capacity: 1)
        counterStorage.initialize(to: Counters())
        rss = RSSHash(key: RSSHash.microsoftKey)
        self.address = address ?? engine.nextAddress(for: family)
        shared.withLock { $0.config.setIdentity(vendor: family.vendorID, device: family.deviceID) }
        powerOnRegisters()
        engine.attach(self)
    }

    deinit {
        engine.detach(self)
        shared.withLock { MSIXDelivery.close($0.pendingEventFDs ?? []) }
        rxQueues.deallocate()
        txQueues.deallocate()
        counterStorage.deallocate()
        rss.release()
        filter.bitmaps.deallocate()
        rssConfig.reta.deallocate()
    }

    /// A receive source in an object of its own: a pass reads the source, a constant, from an
    /// unretained reference to it without a reference count (a variable of the VF would be
    /// retained around each call).
    final class ReceiveSourceHolder {
        let source: FrameSource
        init(_ source: FrameSource) { self.source = source }
    }

    // MARK: - PCIFunction

    /// Reads configuration space (all ones after a surprise removal).
    public func readConfig32(at offset: Int) throws -> UInt32 {
        guard offset >= 0, offset < ConfigSpace.size, offset % 4 == 0 else { throw SimulatorError.badConfigOffset(offset) }
        return shared.withLock { $0.removed ? 0xFFFF_FFFF : $0.config.read(offset) }
    }

    /// Writes configuration space (only the command register's writable bits change).
    public func writeConfig32(_ value: UInt32, at offset: Int) throws {
        guard offset >= 0, offset < ConfigSpace.size, offset % 4 == 0 else { throw SimulatorError.badConfigOffset(offset) }
        shared.withLock { $0.config.write(value, at: offset) }
        controlVersion.add(1, ordering: .releasing)
    }

    /// Maps `region` in the shared container (refcounted per region).
    @discardableResult
    public func mapDMA(_ region: DMAMemory) throws -> UInt64 { container.map(region) }

    /// The container's segments, when it models a bus without IOMMU.
    public var dmaSegmentSize: Int? { container.segmentSize }

    /// Drops one reference to the mapping of `region`; once the last one is gone, the engine's
    /// passes no longer reach it when this returns (the memory may be freed), as an IOMMU unmap
    /// returns once the IOTLB no longer holds the mapping.
    public func unmapDMA(_ region: DMAMemory) throws {
        try container.unmap(region)
        engine.waitForCurrentPass()
    }

    /// Function-level reset: the same effect as a VF reset through the control register
    /// (the PF sees it as a VF reset), applied at the engine's next step.
    public func reset() throws {
        shared.withLock { $0.faults.append(.functionLevelReset) }
        let version = controlVersion.add(1, ordering: .releasing).newValue
        engine.settle(self, version: version)
    }

    /// Stepped engine: runs the model for `microseconds` of simulated time in the caller's
    /// thread. Threaded engine: sleeps.
    public func delay(microseconds: Int) { engine.delay(microseconds: microseconds) }

    /// IOMMU faults this VF caused.
    public var dmaFaults: Int { Int(counterStorage.pointee.dmaFaults) }

    // MARK: - Observation and administration

    /// What the model counted (frames, drops, faults). Read without a lock: each field is one
    /// 64-bit word written by the engine.
    public var counters: Counters {
        vfpmd_compiler_barrier()  // a fresh read every time, never one hoisted out of a loop
        return counterStorage.pointee
    }

    /// The PF's view of the VF (CTS, API, MAC, filters).
    public var pfView: PFView { shared.withLock { $0.view } }

    /// The administrative settings in force.
    public var pfSettings: PFSettings { shared.withLock { $0.settings } }

    /// Changes the PF's settings for this VF (`ip link set PF vf N ...`).
    public func configurePF(_ change: (inout PFSettings) -> Void) {
        shared.withLock { change(&$0.settings) }
        controlVersion.add(1, ordering: .releasing)
    }

    /// Protocol violations seen so far.
    public var violations: [ProtocolViolation] { shared.withLock { $0.violations } }

    /// Every mailbox exchange so far (request words as read, reply words as written), oldest first.
    public var mailboxLog: [MailboxExchange] { shared.withLock { $0.mailboxLog } }

    /// Receive descriptors the driver has posted and the model has not filled yet on RX queue
    /// `q`; 0 while the queue is not running. For wires that pace themselves on the receiver
    /// (flow control): call it from the engine's thread, i.e. from a `FrameSource.pull`.
    public func freeReceiveDescriptors(queue q: Int) -> Int {
        guard q >= 0, q < map.maxQueues, rxQueues[q].enabled, !rxQueues[q].halted else { return 0 }
        let count = rxQueues[q].count
        guard count > 0 else { return 0 }
        let tail = Int(registers.read(map.rx(q, RegisterMap.tail)))
        guard tail < count else { return 0 }
        return (tail - rxQueues[q].head + count) % count
    }

    /// Connects the VF's receive side to `source` and its transmit side to `sink` (nil leaves
    /// a side unchanged). Takes effect at the engine's next step.
    public func connect(rx source: FrameSource? = nil, tx sink: FrameSink? = nil) {
        shared.withLock { s in
            if let source { s.rxSource = source }
            if let sink { s.txSink = sink }
        }
        if source != nil { inputExhaustedAtPass.store(0, ordering: .releasing) }
        controlVersion.add(1, ordering: .releasing)
    }

    /// Whether the receive side's source is finite and produced its last frame (a file played
    /// to its end, a counted generator); false without a source.
    public var isReceiveSourceExhausted: Bool { shared.withLock { $0.rxSource?.isExhausted ?? false } }

    /// Presets a statistics register (to test rollover); applied at the engine's next step.
    public func presetStatistic(_ register: StatisticRegister, to value: UInt64) {
        shared.withLock { $0.statPresets.append((register, value)) }
        controlVersion.add(1, ordering: .releasing)
    }

    /// The VF's MAC as the PF knows it, read without a lock (for switches).
    var currentMACBits: UInt64? {
        let v = macBits.load(ordering: .acquiring)
        return v >> 63 != 0 ? v & 0xFFFF_FFFF_FFFF : nil
    }

    /// What the model counted.
    public struct Counters: Sendable, Equatable {
        /// Frames written into RX rings, and their bytes (as delivered, without CRC).
        public var rxFrames: UInt64 = 0
        public var rxBytes: UInt64 = 0
        /// Frames dropped because the queue had too few free descriptors.
        public var rxMissed: UInt64 = 0
        /// Frames dropped for exceeding the max frame size (SET_LPE, RLPML).
        public var rxOversize: UInt64 = 0
        /// Frames dropped for being shorter than 64 bytes on the wire.
        public var rxUndersize: UInt64 = 0
        /// Frames not addressed to the VF (MAC, multicast or VLAN filter).
        public var rxFiltered: UInt64 = 0
        /// Frames dropped because the VF could not receive: link down, receive path off, queue
        /// not enabled or stopped, bus mastering off.
        public var rxNotReady: UInt64 = 0
        /// Frames sent to the wire, and their bytes (after padding and VLAN insertion).
        public var txFrames: UInt64 = 0
        public var txBytes: UInt64 = 0
        /// Frames dropped by source-MAC anti-spoofing.
        public var txSpoofed: UInt64 = 0
        /// Frames dropped because the link was down.
        public var txLinkDown: UInt64 = 0
        /// Frames dropped for malformed descriptors (too long, bad format).
        public var txMalformed: UInt64 = 0
        /// Malicious-driver events (X550: missing context); the queue was stopped.
        public var mddEvents: UInt64 = 0
        /// IOMMU faults.
        public var dmaFaults: UInt64 = 0
        /// VF resets (control register or function-level).
        public var vfResets: UInt64 = 0

        /// All zero.
        public init() {}
    }

    /// One mailbox exchange.
    public struct MailboxExchange: Sendable, Equatable {
        /// The 16 words the PF read.
        public var request: [UInt32]
        /// The words it wrote back; empty when it did not answer.
        public var reply: [UInt32]
    }
}
