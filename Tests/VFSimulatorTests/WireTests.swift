import CShims
import PMDCore
import Testing
@testable import VFSimulator

/// Wires: generator, memory source/sink, cable, L2 switch, and the threaded engine.
struct WireTests {
    @Test func generatorBuildsValidFramesPerFlowAndSize() {
        var c = FrameGenerator.Configuration()
        c.frameSizes = [64, 128]
        c.flows = 3
        c.count = 7
        let g = FrameGenerator(c)
        let b = FrameBatch()
        #expect(g.pull(into: b, limit: 32, now: 0) == 7 && g.isExhausted)
        #expect((0..<7).map { b[$0].length } == [60, 60, 60, 124, 124, 124, 60])
        for i in 0..<7 {
            let p = parseFrame(b[i].data, length: b[i].length)
            #expect(p.ipGood && p.l4Good && p.l4Protocol == 17)
        }
        // Flows differ in the UDP source port.
        #expect(b[1].bytes[34...35] == [0x04, 0x01] && b[2].bytes[34...35] == [0x04, 0x02])
        #expect(g.pull(into: b, limit: 32, now: 1) == 0)
    }

    @Test func generatorHonoursItsRateInEngineTime() {
        var c = FrameGenerator.Configuration()
        c.rate = 1_000_000  // one frame per microsecond
        let g = FrameGenerator(c)
        let b = FrameBatch(capacity: 1024)
        var total = g.pull(into: b, limit: 1024, now: 1_000)
        b.removeAll()
        total += g.pull(into: b, limit: 1024, now: 101_000)
        #expect(total == 101)
    }

    @Test func memorySourceLoopsAndPacesByTimestamps() {
        let frames = [Frames.udp(flow: 0), Frames.udp(flow: 1)]
        let looped = MemorySource(frames: frames, loops: 3)
        let b = FrameBatch()
        #expect(looped.pull(into: b, limit: 64, now: 0) == 6 && looped.isExhausted)
        #expect(b[5].bytes == frames[1])
        let paced = MemorySource(frames: frames, timestamps: [5_000, 15_000], loops: 1, paced: true)
        b.removeAll()
        #expect(paced.pull(into: b, limit: 64, now: 100) == 1)
        #expect(paced.pull(into: b, limit: 64, now: 10_099) == 0)
        #expect(paced.pull(into: b, limit: 64, now: 10_100) == 1 && paced.isExhausted)
        #expect(b[1].timestamp == 15_000)
        #expect(MemorySource(frames: []).isExhausted)
    }

    @Test func memorySinkCountsWhatItCannotKeep() {
        let sink = MemorySink(capacity: 2)
        let b = FrameBatch()
        for i in 0..<3 { b.appendCopy(Frames.udp(flow: i)) }
        #expect(sink.push(b, now: 0) == 2 && sink.drops == 1 && sink.count == 2)
    }

    /// Two VFs: A transmits what its generator... here hand-posted descriptors; B receives.
    @Test func cableCarriesFramesFromOneVFToAnother() throws {
        let a = Rig(.ixgbeX550)
        let b = SimulatedVF(family: .igb82576, container: a.container, engine: a.engine,
                            settings: PFSettings(mac: MACAddress(0x02, 9, 9, 9, 9, 9)))
        let cable = Cable(a.vf, b)
        a.bringUp()
        let tx = try a.setUpTX(count: 16)
        let rigB = Rig(wrapping: b)
        rigB.resetHandshake()
        let rx = try rigB.setUpRX(count: 16)
        a.postContext(tx, slot: 0)
        a.postData(tx, slot: 1, TransmitTests.ours)
        a.bar.write(a.regs.tx(0, RegisterMap.tail), 2)
        a.engine.step()
        a.engine.step()
        #expect(rx.writeBack(0).length == 124 && rx.bytes(0, 124) == TransmitTests.ours)
        #expect(cable.drops == 0 && b.counters.rxFrames == 1)
    }

    @Test func switchDeliversByDestinationAndBroadcastsToAllOthers() throws {
        let engine = SimulationEngine()
        let container = SimulatedContainer()
        let sw = L2Switch(uplink: nil)
        let macs = (1...3).map { MACAddress(0x02, 0, 0, 0, 0, UInt8($0)) }
        let vfs = macs.map { SimulatedVF(family: .ixgbe82599, container: container, engine: engine, settings: PFSettings(mac: $0)) }
        for vf in vfs { sw.attach(vf) }
        var rings = [TestRing]()
        var txRings = [TestRing]()
        for vf in vfs {
            let v = Rig(wrapping: vf)
            v.resetHandshake()
            rings.append(try v.setUpRX(count: 16))
            txRings.append(try v.setUpTX(count: 16))
        }
        let sender = Rig(wrapping: vfs[0])
        sender.postData(txRings[0], slot: 0, Frames.udp(to: macs[2], from: macs[0]))
        sender.postData(txRings[0], slot: 1, Frames.udp(to: .broadcast, from: macs[0]))
        sender.postData(txRings[0], slot: 2, Frames.udp(to: MACAddress(0x02, 5, 5, 5, 5, 5), from: macs[0]))
        sender.bar.write(sender.regs.tx(0, RegisterMap.tail), 3)
        engine.step()
        engine.step()
        #expect(vfs[0].counters.rxFrames == 0)
        #expect(vfs[1].counters.rxFrames == 1 && vfs[2].counters.rxFrames == 2)
        #expect(sw.unknownDestinationDrops == 1 && sw.drops == 1)
        #expect(rings[1].bytes(0, 6) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func switchSendsUnknownAndBroadcastToTheUplink() throws {
        let engine = SimulationEngine()
        let uplink = MemorySink()
        let sw = L2Switch(uplink: uplink)
        let vf = SimulatedVF(family: .igb82576, container: SimulatedContainer(), engine: engine, settings: PFSettings(mac: Rig.mac))
        sw.attach(vf)
        let v = Rig(wrapping: vf)
        v.resetHandshake()
        let tx = try v.setUpTX(count: 8)
        v.postData(tx, slot: 0, Frames.udp(to: .broadcast, from: Rig.mac))
        v.postData(tx, slot: 1, Frames.udp(to: MACAddress(0x02, 5, 5, 5, 5, 5), from: Rig.mac))
        v.bar.write(v.regs.tx(0, RegisterMap.tail), 2)
        engine.step()
        #expect(uplink.count == 2 && sw.drops == 0)
    }

    @Test func threadedEngineMovesFramesOnItsOwn() throws {
        let engine = SimulationEngine(mode: .threaded)
        let container = SimulatedContainer()
        let vf = SimulatedVF(family: .ixgbe82599, container: container, engine: engine, settings: PFSettings(mac: Rig.mac))
        var c = FrameGenerator.Configuration()
        c.destination = Rig.mac
        c.count = 1000
        c.rate = 200_000
        let generator = FrameGenerator(c)
        engine.start()
        defer { engine.stop() }
        let v = Rig(wrapping: vf)
        #expect(v.resetHandshake()[0] == 0x8000_0001)
        let rx = try v.setUpRX(count: 64)
        vf.connect(rx: generator)
        // Give the device 63 buffers, take them back as they fill, as a driver would.
        var next = 0
        var received = 0
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        func accounted() -> UInt64 { UInt64(received) + vf.counters.rxMissed + vf.counters.rxNotReady }
        while accounted() < 1000 && MonotonicClock.nanoseconds() < deadline {
            let d = rx.descriptor(next)
            if vfpmd_load_acquire32(d + 8) & AdvancedRxWriteBack.dd != 0 {
                received += 1
                d.storeBytes(of: rx.bufferIOVA(next), as: UInt64.self)
                d.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
                v.bar.write(v.regs.rx(0, RegisterMap.tail), UInt32(next))
                next = (next + 1) % 64
            }
        }
        #expect(received >= 63 && generator.isExhausted)  // at least the first ring's worth
        let counted = vf.counters.rxFrames + vf.counters.rxMissed + vf.counters.rxNotReady
        #expect(counted == 1000 && UInt64(received) == vf.counters.rxFrames && vf.violations.isEmpty, "\(received) \(vf.counters)")
    }
}


/// Stepped time: an endless source does not make a long delay long.
struct SteppedTimeTests {
    @Test func endlessSourceDoesNotShrinkTheTimeStep() {
        let rig = Rig(.ixgbe82599)
        let generator = FrameGenerator(FrameGenerator.Configuration())
        rig.vf.connect(rx: generator)
        let before = rig.engine.now
        rig.vf.delay(microseconds: 1_000_000)
        #expect(rig.engine.now - before == 1_000_000_000)
        // About one burst per 50 µs idle step, not one per microsecond.
        #expect(generator.framesProduced <= 64 * 20_002 && rig.vf.counters.rxNotReady == UInt64(generator.framesProduced))
    }
}

/// The frame queue under cables and switches.
struct FrameQueueTests {
    @Test func countsFramesThatDoNotFit() {
        let q = FrameQueue(capacity: 2, slotSize: 128)
        let b = FrameBatch()
        for i in 0..<3 { b.appendCopy(Frames.udp(flow: i)) }
        b.appendCopy(Frames.udp(size: 200))
        #expect(q.push(b, now: 0) == 2 && q.drops == 2 && q.count == 2)
        let out = FrameBatch()
        #expect(q.pull(into: out, limit: 8, now: 0) == 2 && out[1].bytes == Frames.udp(flow: 1))
        q.finish()
        #expect(!q.isExhausted)  // the two frames are released by the next pull
        #expect(q.pull(into: FrameBatch(), limit: 8, now: 0) == 0 && q.isExhausted)
    }

    @Test func vfReportsItsSourceExhausted() {
        let rig = Rig(.igb82576)
        #expect(!rig.vf.isReceiveSourceExhausted)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.vf.isReceiveSourceExhausted && rig.vf.counters.rxNotReady == 1)
    }
}
