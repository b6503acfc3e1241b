import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// Receive: bytes, metadata, ring wrap, pool exhaustion, bad write-backs, jumbo and scattered frames.
struct RxTests {
    @Test(arguments: allFamilies)
    func framesArriveByteExact(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        var g = SystemRandomNumberGenerator()
        let frames = (0..<300).map { udpFrame(to: assignedMAC, length: Int.random(in: 60...1514, using: &g), sequence: $0) }
        var lengths: [Int] = []
        let received = setup.deliver(frames, to: port) { lengths.append(Int($0.length)) }
        #expect(received.count == frames.count)
        #expect(difference(received, frames) == nil)
        #expect(lengths == frames.map(\.count), "metadata lengths differ")
        port.updateStats()
        #expect(port.stats.rxPackets == UInt64(frames.count))
        #expect(port.stats.rxErrors == 0 && port.stats.rxNoBuffer == 0)
        #expect(port.rxCounters(queue: 0).packets == UInt64(frames.count))
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: [64, 72, 512, 4096])
    func ringWrapsWithMoreFramesThanDescriptors(ringSize: Int) throws {
        let setup = SimulatedSetup(.ixgbe82599)
        let port = try setup.open(.small(rx: ringSize, tx: 64, pool: ringSize + 512))
        let total = max(3 * ringSize, 400)
        var received: [[UInt8]] = []
        var sequence = 0
        // Feed in waves no larger than the ring so that nothing is dropped for lack of descriptors.
        while sequence < total {
            let wave = min(ringSize / 2, total - sequence)
            setup.inject((sequence..<sequence + wave).map { udpFrame(to: assignedMAC, length: 64, sequence: $0) })
            received += setup.receive(port, count: wave)
            sequence += wave
        }
        #expect(received.count == total)
        let inOrder = received.map(sequenceNumber) == Array(0..<total)
        #expect(inOrder, "first sequence numbers: \(received.prefix(4).map(sequenceNumber))")
        #expect(setup.vf.counters.rxMissed == 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func anExhaustedPoolStopsTheBurstAndLosesNoBuffer() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        // 64 descriptors, 64 + 64 + 1 buffers: the application can hold at most 65.
        let port = try setup.open(.small(rx: 64, tx: 64, pool: 129))
        let frames = (0..<100).map { udpFrame(to: assignedMAC, length: 100, sequence: $0) }
        var first = PacketBatch()
        var second = PacketBatch()
        setup.inject(Array(frames[0..<50]))
        setup.advance(500)
        var got = port.receive(queue: 0, into: &first)
        setup.inject(Array(frames[50...]))
        setup.advance(500)
        got += port.receive(queue: 0, into: &second)
        got += port.receive(queue: 0, into: &second)
        let pool = port.rxPools[0]
        #expect(got == 65)
        #expect(pool.available == 0)
        port.updateStats()
        #expect(port.stats.rxNoBuffer >= 1)
        // Give the buffers back: the frames the ring kept arrive, in order, none lost.
        first.removeAll()
        second.removeAll()
        let rest = setup.receive(port, count: 35)
        #expect(rest.map(sequenceNumber) == Array(65..<100))
        #expect(setup.vf.counters.rxMissed == 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func aLengthBeyondTheBufferIsDroppedAndCounted(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        setup.vf.inject(.rxLengthExceedsBuffer(queue: 0))
        setup.advance(10)
        let frames = (0..<5).map { udpFrame(to: assignedMAC, length: 200, sequence: $0) }
        setup.inject(frames)
        let received = setup.receive(port, count: 4)
        #expect(difference(received, Array(frames.dropFirst())) == nil)
        #expect(port.rxCounters(queue: 0).oversize == 1)
        port.updateStats()
        #expect(port.stats.rxErrors == 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func aFrameWithoutEOPIsDroppedWhenScatteredReceiveIsOff() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        let port = try setup.open()
        setup.vf.inject(.rxMissingEOP(queue: 0))
        setup.advance(10)
        let frames = (0..<4).map { udpFrame(to: assignedMAC, length: 300, sequence: $0) }
        setup.inject(frames)
        let received = setup.receive(port, count: 4)
        // The frame that lacked EOP and the one the device finished it with are one dropped frame.
        #expect(received.count >= 2 && received.count <= 3)
        #expect(difference(received, Array(frames.suffix(received.count))) == nil)
        #expect(port.rxCounters(queue: 0).multiDescriptorDrops == 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func jumboFramesOfMTU9000(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        setup.vf.configurePF { $0.pfMTU = 9000 }
        var config = VFPortConfiguration.small(pool: 256)
        config.mtu = 9000
        let port = try setup.open(config)
        #expect(setup.vf.pfView.maxFrame == (family.isIxgbe ? 9018 : 9022))
        let frames = (0..<20).map { udpFrame(to: assignedMAC, length: 9014, sequence: $0) }
        setup.inject(frames)
        let received = setup.receive(port, count: frames.count)
        #expect(difference(received, frames) == nil)
        // And out again, from buffers of the same size.
        let pool = try transmitPool(for: port, capacity: 64, dataRoom: 9216)
        let out = frames.map { f -> [UInt8] in
            var g = f
            for i in 0..<6 { g[i] = peerMAC.array[i]; g[6 + i] = assignedMAC.array[i] }
            return g
        }
        #expect(setup.transmit(port, out, from: pool) == out.count)
        #expect(difference(setup.sentFrames(), out) == nil)
        port.reclaimTransmitted(queue: 0)
        #expect(pool.available == pool.capacity)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: [false, true])
    func framesSpanningDescriptors(scattered: Bool) throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var config = VFPortConfiguration.small(pool: 256)
        config.mtu = 9000
        config.rxBufferSize = 2048
        config.scatteredReceive = scattered
        let port = try setup.open(config)
        let frames = (0..<6).map { udpFrame(to: assignedMAC, length: $0 % 2 == 0 ? 9014 : 1000, sequence: $0) }
        setup.inject(frames)
        let received = setup.receive(port, count: scattered ? 6 : 3)
        if scattered {
            #expect(difference(received, frames) == nil)
        } else {
            #expect(difference(received, frames.filter { $0.count == 1000 }) == nil)
            #expect(port.rxCounters(queue: 0).multiDescriptorDrops == 3)
        }
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func vlanTagsAreStrippedIntoTheMetadata() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var config = VFPortConfiguration.small()
        config.vlanIDs = [100]
        config.stripVLAN = true
        let port = try setup.open(config)
        #expect(setup.vf.pfView.vlans == [100])
        let tagged = udpFrame(to: assignedMAC, length: 200, sequence: 7, vlan: 0x2064)
        setup.inject([tagged])
        var meta: [(flags: PacketFlags, vlanTCI: UInt16)] = []
        let received = setup.receive(port, count: 1) { meta.append(($0.flags, $0.metadata.pointee.vlanTCI)) }
        // The same frame without its 4-byte tag; the TCI in the metadata.
        #expect(difference(received, [Array(tagged[0..<12] + tagged[16...])]) == nil)
        #expect(meta.first?.flags.contains(.vlanStripped) == true)
        #expect(meta.first?.vlanTCI == 0x2064)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: [SimulatedFamily.ixgbe82599, .ixgbeX550])
    func vlanTagsKeptInTheFrameAreNotReportedStripped(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        var config = VFPortConfiguration.small()
        config.vlanIDs = [100]
        let port = try setup.open(config)
        let tagged = udpFrame(to: assignedMAC, length: 200, sequence: 7, vlan: 0x2064)
        setup.inject([tagged])
        var flags: [PacketFlags] = []
        let received = setup.receive(port, count: 1) { flags.append($0.flags) }
        // VP says the frame is tagged; without VME the tag is still in it.
        #expect(difference(received, [tagged]) == nil)
        #expect(flags.first?.contains(.vlanStripped) == false)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func checksumStatusIsReported() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        let port = try setup.open()
        let good = udpFrame(to: assignedMAC, length: 120, sequence: 1)
        var bad = udpFrame(to: assignedMAC, length: 120, sequence: 2)
        bad[24] ^= 0xFF  // corrupt the IPv4 header checksum
        setup.inject([good, bad])
        var flags: [PacketFlags] = []
        let received = setup.receive(port, count: 2) { flags.append($0.flags) }
        #expect(received.count == 2)
        #expect(flags.first?.contains(.ipChecksumGood) == true)
        #expect(flags.last?.contains(.ipChecksumBad) == true)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }
}

/// The same traffic with the device model in its own thread, in real time: the driver's
/// barriers and ownership hold against a concurrent device.
@Test(arguments: [SimulatedFamily.ixgbeX550, .igb82576])
func forwardingAgainstAThreadedDevice(family: SimulatedFamily) throws {
    let engine = SimulationEngine(mode: .threaded)
    let container = SimulatedContainer()
    let vf = SimulatedVF(family: family, container: container, engine: engine, settings: PFSettings(mac: assignedMAC))
    let wire = FrameQueue(capacity: 4096)
    let sink = FrameQueue(capacity: 4096)
    vf.connect(rx: wire, tx: sink)
    engine.start()
    defer { engine.stop() }
    let port = try VFPort(function: vf, configuration: .small(rx: 256, tx: 256, pool: 1024))
    try port.start()
    let frames = (0..<2000).map { udpFrame(to: assignedMAC, length: 60 + $0 % 1400, sequence: $0) }
    var fed = 0
    var forwarded = 0
    let deadline = MonotonicClock.nanoseconds() + 20_000_000_000
    while forwarded < frames.count && MonotonicClock.nanoseconds() < deadline {
        // Keep fewer frames in flight than the RX ring holds.
        while fed < frames.count && fed - forwarded < 128 {
            let f = frames[fed]
            guard f.withUnsafeBytes({ wire.enqueue($0.baseAddress!, length: f.count, timestamp: 0) }) else { break }
            fed += 1
        }
        var batch = PacketBatch()
        _ = port.receive(queue: 0, into: &batch)
        batch.forEach { view in
            let eth = EthernetHeader(view.data)
            eth.destination = peerMAC
            eth.source = assignedMAC
        }
        while !batch.isEmpty && MonotonicClock.nanoseconds() < deadline {
            forwarded += port.transmit(queue: 0, &batch)
        }
    }
    #expect(forwarded == frames.count)
    var out: [[UInt8]] = []
    let fb = FrameBatch(capacity: 64, slotSize: 16_384)
    while out.count < frames.count && MonotonicClock.nanoseconds() < deadline + 1_000_000_000 {
        fb.removeAll()
        let n = sink.pull(into: fb, limit: 64, now: 0)
        for i in 0..<n { out.append(fb[i].bytes) }
        if n == 0 { MonotonicClock.sleep(microseconds: 100) }
    }
    let expected = frames.map { f -> [UInt8] in
        var g = f
        for i in 0..<6 { g[i] = peerMAC.array[i]; g[6 + i] = assignedMAC.array[i] }
        return g
    }
    #expect(difference(out, expected) == nil)
    #expect(container.faults.isEmpty && vf.violations.isEmpty)
    closeAndExpectWholePools(port)
}
