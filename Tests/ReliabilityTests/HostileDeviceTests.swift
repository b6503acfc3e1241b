import DriverTestSupport
import PMDCore
import Testing
@testable import VFDriver
import VFSimulator

/// A device that writes what it should not: the driver checks every value it reads from the
/// device, drops what is wrong, counts it, and keeps running.
struct HostileDeviceTests {
    let frames = (0..<40).map { udpFrame(to: assignedMAC, length: 200, sequence: $0) }

    @Test(arguments: allFamilies)
    func writeBackLengthLargerThanTheBuffer(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        setup.vf.inject(.rxLengthExceedsBuffer(queue: 0))
        setup.advance(10)
        let got = setup.deliver(frames, to: port)
        #expect(got.count == frames.count - 1)
        #expect(got.allSatisfy { $0.count == 200 })
        #expect(port.rxCounters(queue: 0).oversize == 1)
        port.updateStats()
        #expect(port.stats.rxErrors == 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func endOfPacketNeverSet(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        for _ in 0..<5 { setup.vf.inject(.rxMissingEOP(queue: 0)); setup.advance(10) }
        let got = setup.deliver(frames, to: port)
        // A frame without EOP is dropped together with the next descriptor (the rest of it).
        let dropped = frames.count - got.count
        #expect(dropped >= 1 && dropped <= 10, "\(dropped) dropped")
        #expect(got.allSatisfy { $0.count == 200 })
        #expect(port.rxCounters(queue: 0).multiDescriptorDrops >= 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    /// DD on the slot at the tail (one the driver has not posted), with its buffer address
    /// wiped: the driver never reads it as a frame, restores it before posting it, and the
    /// device's later DMA to that slot lands in a mapped buffer.
    @Test(arguments: allFamilies)
    func descriptorDoneOnASlotNeverPosted(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        // A ring of 64 and bursts of 64: without a bound the driver would read the tail slot.
        let port = try setup.open(.small(rx: 64))
        // One frame first: the 82576 model takes up its ring at the first frame.
        #expect(setup.deliver([udpFrame(to: assignedMAC, length: 100, sequence: 999)], to: port).count == 1)
        for round in 0..<3 {
            setup.vf.inject(.rxDoneOnUnpostedSlot(queue: 0))
            setup.advance(10)
            let wave = (0..<63).map { udpFrame(to: assignedMAC, length: 100, sequence: round * 100 + $0) }
            setup.inject(wave)
            let got = setup.receive(port, count: 63)
            #expect(got == wave, "round \(round): \(difference(got, wave) ?? "")")
            #expect(port.rxCounters(queue: 0).unpostedWrites == UInt64(round + 1), "round \(round)")
        }
        let more = (0..<200).map { udpFrame(to: assignedMAC, length: 100, sequence: 1000 + $0) }
        #expect(setup.deliver(more, to: port) == more)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func headThatJumpsBackwards(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        #expect(setup.deliver(Array(frames[0..<20]), to: port).count == 20)
        setup.vf.inject(.headJumpsBack(queue: 0, by: 7))
        setup.advance(10)
        #expect(setup.deliver(Array(frames[20...]), to: port) == Array(frames[20...]))
        let out = (0..<50).map { udpFrame(to: peerMAC, from: assignedMAC, length: 70, sequence: $0) }
        #expect(setup.transmit(port, out, from: pool) == 50)
        #expect(setup.sentFrames() == out)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test(arguments: allFamilies)
    func statisticsThatGoBackwards(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        #expect(setup.deliver(frames, to: port).count == 40)
        port.updateStats()
        #expect(port.stats.rxPackets == 40)
        setup.vf.inject(.statisticsGoBackwards(by: 5))
        setup.advance(10)
        port.updateStats()
        // Not read as a wrap of 2^32 - 5 packets: nothing counted, the regression noted.
        #expect(port.stats.rxPackets == 40)
        #expect((port.hardwareCounters?.regressions ?? 0) >= 1)
        #expect(setup.deliver(Array(frames[0..<10]), to: port).count == 10)
        port.updateStats()
        #expect(port.stats.rxPackets == 50)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func aRolloverCounterStillWraps() {
        var c = RolloverCounter(width: 32, initial: 0xFFFF_FF00)
        c.update(raw: 0x100)
        #expect(c.total == 0x200 && c.regressions == 0)
        c.update(raw: 0xF0)
        #expect(c.total == 0x200 && c.regressions == 1)
        var wide = RolloverCounter(width: 36, initial: 0xF_FFFF_FFF0)
        wide.update(raw: 0x10)
        #expect(wide.total == 0x20 && wide.regressions == 0)
    }
}

/// Load faults: the pool runs dry, the TX engine stalls.
struct LoadFaultTests {
    @Test func poolExhaustedUnderLoad() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        let port = try setup.open(.small(rx: 128, pool: 256))
        let frames = (0..<600).map { udpFrame(to: assignedMAC, length: 64, sequence: $0) }
        // The application holds every buffer of the pool that the ring does not.
        let pool = port.rxPools[0].ref
        var held: [UInt32] = []
        while let index = pool.take() { held.append(index) }
        var received = 0
        setup.inject(Array(frames[0..<300]))
        received += setup.receive(port, count: 300).count
        #expect(received == 0)
        #expect(port.rxCounters(queue: 0).noBuffer >= 1)
        for index in held { pool.give(index) }
        // With buffers back, the rest of the load flows and nothing is lost twice.
        received += setup.receive(port, count: 1000).count
        setup.inject(Array(frames[300...]))
        received += setup.receive(port, count: 1000).count
        setup.advance(100)
        port.updateStats()
        // Every frame is either received or counted by the device as missed (no descriptor).
        #expect(UInt64(received) + setup.vf.counters.rxMissed == 600,
                "received \(received), missed \(setup.vf.counters.rxMissed)")
        #expect(setup.vf.counters.rxMissed > 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func txEngineStallGivesBackPressureWithoutLeaks(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(.small(tx: 64))
        let pool = try transmitPool(for: port)
        setup.vf.inject(.txStall(true))
        setup.advance(10)
        let frame = udpFrame(to: peerMAC, from: assignedMAC, length: 60, sequence: 0)
        var batch = PacketBatch(pool: pool.ref)
        var accepted = 0
        for _ in 0..<20 {
            while batch.freeCapacity > 0, let p = Packet(from: pool.ref) {
                frame.withUnsafeBytes { p.data.copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
                p.length = frame.count
                _ = batch.append(p)
            }
            accepted += port.transmit(queue: 0, &batch)
            setup.advance(50)
        }
        // The ring takes at most its size; the rest stays with the application.
        #expect(accepted <= 64 && accepted >= 32)
        #expect(batch.count == PacketBatch.capacity)
        #expect(pool.inUse == accepted + batch.count)
        batch = PacketBatch()
        setup.vf.inject(.txStall(false))
        setup.advance(2000)
        _ = port.reclaimTransmitted(queue: 0)
        #expect(setup.sentFrames().count == accepted)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }
}
