import PMDCore
import VFDriver
import VFSimulator

/// Two simulated 82599 VFs on one stepped engine, each opened by the driver, for measuring the
/// driver's own cost: the device model runs in the caller's thread, between the driver's bursts,
/// and its time is left out of the driver's numbers.
///
/// - VF `a` receives an endless stream of UDP frames (the simulator's traffic generator,
///   addressed to `a`'s MAC); whatever `a` transmits is counted and discarded.
/// - VF `b` receives nothing; what it transmits goes to `sink`. Its spoof check is off, so that
///   frames forwarded unchanged from `a` leave `b`.
///
/// Work is done in rounds: one engine step (the device model moves up to 64 frames per
/// direction per VF), then bursts of the driver until it has handled 64 packets. The step
/// always sits between the same amount of driver work whatever the burst size, and the TSC
/// is read twice per round only.
public final class DriverRig {
    /// Packets the driver handles per round (what one engine step moves per direction).
    public static let packetsPerRound = 64

    /// The device model's engine (stepped).
    public let engine = SimulationEngine(mode: .stepped)
    /// The shared I/O address space.
    public let container = SimulatedContainer()
    /// The receiving VF and the transmitting VF.
    public let vfA: SimulatedVF, vfB: SimulatedVF
    /// The driver's ports on them.
    public let portA: VFPort, portB: VFPort
    /// Frames `b` sent.
    public let sink = CountingSink()
    /// Buffers holding prebuilt frames for TX-only runs (every buffer holds one frame).
    public let txPool: Mempool
    /// Frame size on the wire with CRC.
    public let frameSize: Int
    /// Packets per burst.
    public let burst: Int
    /// TSC ticks spent in engine steps (left out of the driver's cost).
    public private(set) var deviceTicks: UInt64 = 0

    private let macA = MACAddress(0x02, 0x00, 0x5E, 0x10, 0x00, 0x0A)
    private let macB = MACAddress(0x02, 0x00, 0x5E, 0x10, 0x00, 0x0B)

    /// Opens both ports and fills `txPool` with frames of `frameSize` bytes (with CRC); with
    /// `receiving` off, `a` gets no frames (TX-only runs).
    public init(frameSize: Int = 64, burst: Int = 32, receiving: Bool = true) throws {
        precondition(burst >= 1 && burst <= Self.packetsPerRound && Self.packetsPerRound % burst == 0,
                     "burst must divide \(Self.packetsPerRound)")
        self.frameSize = frameSize
        self.burst = burst
        vfA = SimulatedVF(family: .ixgbe82599, container: container, engine: engine, settings: PFSettings(mac: macA))
        var settingsB = PFSettings(mac: macB)
        settingsB.spoofCheck = false
        vfB = SimulatedVF(family: .ixgbe82599, container: container, engine: engine, settings: settingsB)
        var generator = FrameGenerator.Configuration()
        generator.frameSizes = [frameSize]
        generator.flows = 16
        generator.destination = macA
        vfB.connect(tx: sink)
        var config = VFPortConfiguration()
        config.pages = .smallPages
        config.poolSize = 2048
        portA = try VFPort(function: vfA, configuration: config, name: "a")
        portB = try VFPort(function: vfB, configuration: config, name: "b")
        try portA.start()
        try portB.start()
        txPool = try Mempool(name: "tx-only", capacity: 2048, pages: .smallPages)
        try portB.mapForTransmit(txPool)
        let frame = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        defer { frame.deallocate() }
        writeFrame(frame, length: frameSize - 4, source: macB)
        for i in 0..<UInt32(txPool.capacity) {
            txPool.ref.data(i).copyMemory(from: frame, byteCount: frameSize - 4)
            txPool.ref.metadata(i).pointee.length = UInt32(frameSize - 4)
        }
        engine.advance(microseconds: 1000)
        // The source starts now that the rings run: nothing waits in the RX ring at the start.
        if receiving { vfA.connect(rx: FrameGenerator(generator), tx: CountingSink()) }
    }

    deinit {
        portA.close()
        portB.close()
    }

    /// One engine step, timed.
    @inline(never)
    public func stepDevice() {
        let start = TSC.now()
        engine.step()
        deviceTicks &+= TSC.now() &- start
    }

    /// Returns what the driver still holds and checks that nothing went wrong: no frame lost
    /// by the device model, no IOMMU fault or protocol violation, every pool whole after close.
    /// Returns a sentence for each problem.
    public func finish() -> [String] {
        var problems: [String] = []
        let missed = vfA.counters.rxMissed
        if missed > 0 { problems.append("VF a missed \(missed) frames (RX ring full)") }
        // The source stops; b sends what its ring still holds and the driver reclaims it.
        vfA.connect(rx: MemorySource(frames: []))
        for _ in 0..<4 { engine.advance(microseconds: 100); _ = portB.reclaimTransmitted(queue: 0) }
        let b = vfB.counters
        if b.txSpoofed + b.txMalformed > 0 { problems.append("VF b dropped \(b.txSpoofed + b.txMalformed) frames") }
        if !container.faults.isEmpty { problems.append("IOMMU faults: \(container.faults)") }
        if !vfA.violations.isEmpty || !vfB.violations.isEmpty {
            problems.append("protocol violations: \(vfA.violations + vfB.violations)")
        }
        portA.stop()
        portB.stop()
        for pool in portA.rxPools + portB.rxPools + [txPool] where pool.inUse != 0 {
            problems.append("pool \(pool.name): \(pool.inUse) buffers not returned")
        }
        return problems
    }

    /// An Ethernet/IPv4/UDP frame of `length` bytes (without CRC) from `source` to `macA`.
    private func writeFrame(_ p: UnsafeMutableRawPointer, length: Int, source: MACAddress) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        let eth = EthernetHeader(p)
        eth.destination = macA
        eth.source = source
        eth.etherType = EtherType.ipv4
        let ip = IPv4Header(p + EthernetHeader.length)
        ip.setVersionAndLength()
        ip.totalLength = UInt16(length - EthernetHeader.length)
        ip.ttl = 64
        ip.protocolNumber = 17
        ip.source = 0x0A00_0001
        ip.destination = 0x0A00_0002
        ip.updateChecksum()
        let udp = UDPHeader(p + EthernetHeader.length + IPv4Header.minimumLength)
        udp.sourcePort = 1024
        udp.destinationPort = 5001
        udp.length = UInt16(length - EthernetHeader.length - IPv4Header.minimumLength)
    }
}
