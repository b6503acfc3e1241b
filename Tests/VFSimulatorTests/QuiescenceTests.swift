import PMDCore
import Testing
@testable import VFSimulator

/// What the VF says about its own work from outside the engine: RX rings drained, TX rings
/// idle, finite input delivered, and the bounded wait for the TX rings. Rings programmed with
/// raw register writes, as a driver does.
struct QuiescenceTests {
    @Test(arguments: SimulatedFamily.allCases)
    func receiveRingsAreDrainedWhenTheTailIsOneBehindTheHead(family: SimulatedFamily) throws {
        let rig = Rig(family)
        rig.bringUp()
        #expect(rig.vf.receiveRingsDrained)  // no RX ring programmed
        try rig.setUpRX(count: 16)
        #expect(rig.vf.receiveRingsDrained)  // every descriptor posted, nothing written
        rig.vf.connect(rx: MemorySource(frames: (0..<3).map { Frames.udp(flow: $0) }))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 3)
        #expect(!rig.vf.receiveRingsDrained)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 1)  // the driver took two of the three
        #expect(!rig.vf.receiveRingsDrained)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 2)  // and the third
        #expect(rig.vf.receiveRingsDrained)
    }

    @Test func receiveRingsDrainedCountsModuloTheRing() throws {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        try rig.setUpRX(count: 8)
        rig.vf.connect(rx: MemorySource(frames: (0..<7).map { Frames.udp(flow: $0) }))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 7)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 6)
        #expect(rig.vf.receiveRingsDrained)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 0)  // wrapped
        #expect(!rig.vf.receiveRingsDrained)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 7)
        #expect(rig.vf.receiveRingsDrained)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func transmitRingsAreIdleOnceTheHeadReachesTheTail(family: SimulatedFamily) throws {
        let (rig, r, sink) = try TransmitTests.sending(family)
        #expect(rig.vf.transmitRingsIdle)
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        #expect(!rig.vf.transmitRingsIdle)
        rig.engine.step()
        #expect(rig.vf.transmitRingsIdle && sink.count == 1)
    }

    @Test func aQueueTheDeviceStoppedIsNotWaitedFor() throws {
        // X550 malicious-driver detection stops the queue with descriptors left behind it.
        let (rig, r, _) = try TransmitTests.sending(.ixgbeX550)
        rig.postData(r, slot: 0, TransmitTests.ours)  // no context descriptor before it
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(rig.vf.counters.mddEvents == 1)
        #expect(rig.bar.read(rig.regs.tx(0, RegisterMap.head)) != rig.bar.read(rig.regs.tx(0, RegisterMap.tail)))
        #expect(rig.vf.transmitRingsIdle)
    }

    @Test func waitingForTheTransmitRingsRunsASteppedEngineAndGivesUpAtTheTimeout() throws {
        let (rig, r, sink) = try TransmitTests.sending(.ixgbe82599)
        rig.vf.inject(.txStall(true))
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        let start = MonotonicClock.nanoseconds()
        #expect(!rig.vf.waitForTransmitRingsIdle(timeoutNanoseconds: 20_000_000))
        #expect(MonotonicClock.nanoseconds() - start >= 20_000_000)
        #expect(sink.count == 0)
        rig.vf.inject(.txStall(false))
        #expect(rig.vf.waitForTransmitRingsIdle(timeoutNanoseconds: 1_000_000_000))
        #expect(Self.eventually { sink.count == 1 } && rig.vf.transmitRingsIdle)
    }

    @Test func waitingForTheTransmitRingsOfAThreadedEngine() throws {
        let engine = SimulationEngine(mode: .threaded)
        engine.start()
        defer { engine.stop() }
        let vf = SimulatedVF(family: .igb82576, container: SimulatedContainer(), engine: engine,
                             settings: PFSettings(mac: Rig.mac))
        // The wire first: the engine takes it up before the handshake's steps are done.
        let sink = MemorySink()
        vf.connect(tx: sink)
        let rig = Rig(wrapping: vf)
        rig.resetHandshake()
        let r = try rig.setUpTX(count: 16)
        for slot in 0..<4 { rig.postData(r, slot: slot, TransmitTests.ours) }
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 4)
        #expect(vf.waitForTransmitRingsIdle(timeoutNanoseconds: 2_000_000_000))
        // The head moves when the descriptors are done; the frames reach the wire right after.
        #expect(rig.bar.read(rig.regs.tx(0, RegisterMap.head)) == 4 && Self.eventually { sink.count == 4 })
    }

    /// Whether `condition` holds within a second (a threaded engine finishes a burst after it
    /// wrote the head back).
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.nanoseconds() + 1_000_000_000
        while !condition() {
            if MonotonicClock.nanoseconds() >= deadline { return false }
            MonotonicClock.sleep(microseconds: 100)
        }
        return true
    }

    @Test func finiteInputIsDeliveredTwoPassesAfterItRanOutAndOnceTheRingsAreDrained() throws {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        try rig.setUpRX(count: 16)
        #expect(!rig.vf.hasDeliveredAllInput)  // no source
        let source = MemorySource(frames: (0..<3).map { Frames.udp(flow: $0) })
        rig.vf.connect(rx: source)
        #expect(!rig.vf.hasDeliveredAllInput)  // not played yet
        let before = rig.engine.passCount
        rig.engine.step()
        #expect(rig.engine.passCount == before + 1)  // a stepped engine counts its passes too
        #expect(source.isExhausted && rig.vf.isReceiveSourceExhausted)
        #expect(!rig.vf.hasDeliveredAllInput)  // first seen exhausted: the count starts
        rig.engine.step()
        #expect(!rig.vf.hasDeliveredAllInput)  // one pass since
        rig.engine.step()
        rig.engine.step()
        #expect(!rig.vf.hasDeliveredAllInput)  // enough passes, but the driver has not taken the frames
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 2)
        #expect(rig.vf.hasDeliveredAllInput)

        // A new source starts the count anew.
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 3)
        #expect(!rig.vf.hasDeliveredAllInput)
        for _ in 0..<3 { rig.engine.step() }
        #expect(rig.vf.hasDeliveredAllInput)
    }

    @Test func endlessInputIsNeverDelivered() throws {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        try rig.setUpRX(count: 16)
        rig.vf.connect(rx: FrameGenerator(FrameGenerator.Configuration()))
        for _ in 0..<4 { rig.engine.step() }
        #expect(!rig.vf.hasDeliveredAllInput)
    }
}
