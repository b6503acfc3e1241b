import PMDCore
import Testing
@testable import VFSimulator

/// Injected device misbehaviour that a driver must survive.
struct FaultTests {
    @Test func writeBackLengthBeyondTheBufferAndMissingEOP() throws {
        let (rig, r) = try ReceiveTests.receiving(.ixgbe82599, [])
        rig.vf.inject(.rxLengthExceedsBuffer(queue: 0))
        rig.engine.step()
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(r.writeBack(0).length == 2048 + 512 && r.writeBack(0).status & AdvancedRxWriteBack.eop != 0)
        rig.vf.inject(.rxMissingEOP(queue: 0))
        rig.engine.step()
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(r.writeBack(1).length == 60 && r.writeBack(1).status & (AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop) == AdvancedRxWriteBack.dd)
        // Only once each.
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(r.writeBack(2).length == 60 && r.writeBack(2).status & AdvancedRxWriteBack.eop != 0)
    }

    @Test func doneBitOnASlotNeverPosted() throws {
        let (rig, r) = try ReceiveTests.receiving(.igb82576, [], count: 16)
        rig.vf.inject(.rxDoneOnUnpostedSlot(queue: 0))
        rig.engine.step()
        #expect(r.writeBack(15).status & AdvancedRxWriteBack.dd != 0)  // tail is 15: the driver's slot
        #expect(r.writeBack(0).status == 0)
    }

    @Test func headJumpsBackwards() throws {
        let (rig, _) = try ReceiveTests.receiving(.ixgbeX550, (0..<5).map { Frames.udp(flow: $0) }, count: 16)
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 5)
        rig.vf.inject(.headJumpsBack(queue: 0, by: 7))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 14)
    }

    @Test func stalledTransmitEngineHoldsDescriptorsUntilReleased() throws {
        let (rig, r, sink) = try TransmitTests.sending(.ixgbe82599)
        rig.vf.inject(.txStall(true))
        rig.engine.step()
        rig.postData(r, slot: 0, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 1)
        rig.vf.delay(microseconds: 1000)
        #expect(sink.count == 0 && r.descriptor(0).load(fromByteOffset: 12, as: UInt32.self) & 1 == 0)
        rig.vf.inject(.txStall(false))
        rig.engine.step()
        #expect(sink.count == 1)
    }

    @Test func surpriseRemovalStopsDMA() throws {
        let (rig, r) = try ReceiveTests.receiving(.ixgbe82599, [])
        rig.vf.inject(.surpriseRemoval)
        rig.engine.step()
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.vf.delay(microseconds: 100)
        #expect(r.writeBack(0).status == 0 && rig.vf.counters.rxFrames == 0)
        #expect(rig.bar.read(rig.regs.gprc) == 0xFFFF_FFFF)
    }

    @Test func pfResetStopsQueues() throws {
        let (rig, _) = try ReceiveTests.receiving(.ixgbeX550, [])
        let control = rig.regs.rx(0, RegisterMap.queueControl)
        #expect(rig.bar.read(control) & RegisterMap.queueEnable != 0)
        rig.vf.inject(.pfReset(microseconds: 50))
        rig.engine.step()
        #expect(rig.bar.read(control) & RegisterMap.queueEnable == 0)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.vf.counters.rxNotReady == 1)
    }
}
