import Foundation
import PMDCore
import Synchronization
import Testing
@testable import VFSimulator

/// What an engine pass skips: the idle queues between two scans of every queue (threaded
/// engines, at most `idleQueueScanInterval` apart), a transmit burst when no running queue's
/// tail moved, and reference counting (the VFs are held unretained per registry version).
@Suite struct QueueScanTests {
    /// An 82599 rig whose idle queues are scanned as a threaded engine scans them, in
    /// simulated time, with TX queue 0 running.
    static func throttledRig() throws -> (Rig, TestRing, MemorySink) {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        let ring = try rig.setUpTX(count: 16)
        let sink = MemorySink()
        rig.vf.connect(tx: sink)
        rig.engine.step()
        rig.vf.scansIdleQueuesEveryPass = false
        // A scan of every queue now; the next one is due an interval later.
        rig.engine.advance(microseconds: Int(SimulatedVF.idleQueueScanInterval / 1000))
        return (rig, ring, sink)
    }

    /// Programs RX queue `q`'s ring and writes its enable, as a driver does.
    static func requestRXEnable(_ rig: Rig, queue q: Int) throws -> TestRing {
        let r = try TestRing(vf: rig.vf, count: 16, bufferSize: 2048)
        let iova = r.ring.iova!
        rig.bar.write(rig.regs.rx(q, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: iova))
        rig.bar.write(rig.regs.rx(q, RegisterMap.ringBaseHigh), UInt32(iova >> 32))
        rig.bar.write(rig.regs.rx(q, RegisterMap.ringLength), 16 * 16)
        rig.bar.write(rig.regs.rx(q, RegisterMap.queueControl), RegisterMap.queueEnable)
        return r
    }

    @Test("an idle queue's enable is seen within the scan interval, a running queue's disable at the next pass")
    func idleQueuesAreScannedWithinTheInterval() throws {
        let (rig, _, _) = try Self.throttledRig()
        let control = rig.regs.rx(2, RegisterMap.queueControl)
        let ring = try Self.requestRXEnable(rig, queue: 2)
        // Passes before the interval ends leave the idle queue alone: the enable bit is still
        // the driver's (an 82599 clears it until the queue runs once it sees the request).
        for _ in 0..<100 { rig.engine.step() }
        #expect(rig.bar.read(control) & RegisterMap.queueEnable != 0)
        #expect(!rig.vf.rxQueues[2].enablePending && !rig.vf.rxQueues[2].enabled)
        // Once the interval has passed, the next pass sees the request.
        rig.engine.advance(microseconds: Int(SimulatedVF.idleQueueScanInterval / 1000))
        #expect(rig.vf.rxQueues[2].enablePending || rig.vf.rxQueues[2].enabled)
        // Running or enabling queues are polled at every pass: the enable completes, and a
        // disable is seen at the next step.
        rig.engine.advance(microseconds: Int(SimulatedVF.enableDelay / 1000))
        #expect(rig.vf.rxQueues[2].enabled && rig.bar.read(control) & RegisterMap.queueEnable != 0)
        rig.bar.write(rig.regs.tx(0, RegisterMap.queueControl), 0)
        rig.engine.step()
        #expect(!rig.vf.txQueues[0].enabled)
        withExtendedLifetime(ring) {}
    }

    @Test("control work (a settings change) scans every queue at once")
    func controlWorkScansEveryQueue() throws {
        let (rig, _, _) = try Self.throttledRig()
        let ring = try Self.requestRXEnable(rig, queue: 3)
        rig.engine.step()
        #expect(!rig.vf.rxQueues[3].enablePending)
        rig.vf.configurePF { $0.spoofCheck = false }
        rig.engine.step()
        #expect(rig.vf.rxQueues[3].enablePending)
        withExtendedLifetime(ring) {}
    }

    @Test("a tail written after many passes with nothing to send is still seen", arguments: [true, false])
    func transmitTailAfterIdlePasses(scansEveryPass: Bool) throws {
        let (rig, r, sink) = try Self.throttledRig()
        rig.vf.scansIdleQueuesEveryPass = scansEveryPass
        for _ in 0..<1000 { rig.engine.step() }
        #expect(sink.count == 0)
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(sink.frames.map(\.bytes) == [TransmitTests.ours])
        #expect(rig.bar.read(rig.regs.tx(0, RegisterMap.head)) == 2)
        #expect(r.descriptor(1).load(fromByteOffset: 12, as: UInt32.self) == AdvancedTxDescriptor.dd)
    }

    @Test("a threaded engine enables a queue and sends what is posted on it after thousands of idle passes")
    func threadedEngineAfterIdlePasses() throws {
        let rig = Rig(threaded: .ixgbe82599)
        let (engine, vf) = (rig.engine, rig.vf)
        engine.start()
        defer { engine.stop() }
        rig.bringUp()
        let sink = MemorySink()
        vf.connect(tx: sink)
        let passes = engine.passCount
        while engine.passCount < passes + 2000 { sched_yield() }
        let r = try rig.setUpTX(queue: 1, count: 16)
        #expect(rig.bar.read(rig.regs.tx(1, RegisterMap.queueControl)) & RegisterMap.queueEnable != 0)
        let idle = engine.passCount
        while engine.passCount < idle + 2000 { sched_yield() }
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(1, RegisterMap.tail), 2)
        rig.settle { sink.count == 1 }
        #expect(sink.frames.map(\.bytes) == [TransmitTests.ours])
    }

    /// A receive source that holds the last reference to another VF and drops it at its first
    /// pull, on the engine's thread, in the middle of a pass.
    final class DroppingSource: FrameSource, @unchecked Sendable {
        // @unchecked: `held` is handed to the engine thread by `connect`'s lock and touched
        // only there afterwards.
        var held: SimulatedVF?
        let dropped = Atomic<Bool>(false)

        init(holding vf: SimulatedVF) { held = vf }

        func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int {
            if held != nil {
                held = nil
                dropped.store(true, ordering: .releasing)
            }
            return 0
        }

        var isExhausted: Bool { false }
    }

    @Test("a VF freed on the engine's thread during a pass ends that pass; the engine runs on", arguments: [true, false])
    func vfFreedDuringAPass(threaded: Bool) throws {
        let engine = SimulationEngine(mode: threaded ? .threaded : .stepped)
        let container = SimulatedContainer()
        // `a` is polled first; `b`, after it in the registry, goes away during `a`'s poll.
        let a = SimulatedVF(family: .ixgbe82599, container: container, engine: engine, settings: PFSettings(mac: Rig.mac))
        weak var gone: SimulatedVF?
        do {
            let b = SimulatedVF(family: .igb82576, container: container, engine: engine, settings: PFSettings(mac: Rig.mac))
            gone = b
            a.connect(rx: DroppingSource(holding: b))
        }
        #expect(engine.attachedCount == 2)
        if threaded {
            engine.start()
            let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
            while gone != nil && MonotonicClock.nanoseconds() < deadline { sched_yield() }
            let passes = engine.passCount
            while engine.passCount < passes + 2 && MonotonicClock.nanoseconds() < deadline { sched_yield() }
            #expect(engine.passCount >= passes + 2, "the engine thread stopped making passes")
            engine.stop()
        } else {
            engine.step()
            engine.step()
        }
        #expect(gone == nil)
        #expect(engine.attachedCount == 1)
        // `a` is still polled: a configuration write is applied.
        try a.writeConfig32(0x6, at: 4)
        let version = a.controlVersion.load(ordering: .acquiring)
        if threaded { engine.start(); defer { engine.stop() }; a.delay(microseconds: 100) } else { engine.step() }
        #expect(a.appliedVersion.load(ordering: .acquiring) == version)
    }
}
