import CShims
#if canImport(Glibc)
import Glibc
#endif
import PMDCore
import Testing
@testable import VFSimulator

/// The MSI-X model: causes raised by write-back and the mailbox, mapped to vectors, sent as
/// messages to eventfds under mask, auto-clear, auto-mask and moderation, on every family.
@Suite(.serialized)
struct MSIXInterruptTests {
    /// A VF after RESET with RX queue 0 running and three eventfds attached, MSI-X enabled, RX
    /// queue 0 mapped to `vector`, the vectors of `unmask` unmasked.
    static func armed(_ family: SimulatedFamily, vector: Int = 1, unmask: UInt32 = 0x7,
                      before: (Rig) -> Void = { _ in }) throws -> (Rig, TestRing, VectorEventFDs) {
        let rig = Rig(family)
        rig.bringUp()
        let ring = try rig.setUpRX()
        before(rig)
        let fds = VectorEventFDs()
        try rig.armReceiveInterrupt(fds, vector: vector, unmask: unmask)
        return (rig, ring, fds)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func capabilityAdvertisesThreeVectorsOffByDefault(family: SimulatedFamily) throws {
        let rig = Rig(family)
        #expect(try rig.vf.readConfig32(at: 0x04) & ConfigSpace.capabilityListBit != 0)
        #expect(try rig.vf.readConfig32(at: 0x34) & 0xFF == 0x70)
        let word = try rig.vf.readConfig32(at: 0x70)
        #expect(word & 0xFF == 0x11 && word >> 8 & 0xFF == 0)
        #expect(word >> 16 & 0x7FF == 2 && word & MSIXControlBits.enable == 0)
        #expect(rig.vf.interruptVectorCount == 3)
        try rig.vf.writeConfig32(0xFFFF_FFFF, at: 0x70)
        #expect(try rig.vf.readConfig32(at: 0x70) == word | MSIXControlBits.writable)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func receivedFrameSignalsTheMappedVector(family: SimulatedFamily) throws {
        let (rig, ring, fds) = try Self.armed(family, vector: 1)
        rig.receive([Frames.udp()])
        #expect(ring.writeBack(0).status & AdvancedRxWriteBack.dd != 0)
        #expect(fds.take(1) == 1)
        #expect(fds.take(0) == 0 && fds.take(2) == 0)
        #expect(rig.vf.interruptMessages(vector: 1) == 1 && rig.vf.interruptMessages(vector: 0) == 0)
        #expect(rig.causes == 0b010)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func transmitWriteBackSignalsTheMappedVector(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1)
        rig.mapQueue(0, tx: true, to: 0)
        let tx = try rig.setUpTX(count: 16)
        rig.vf.connect(tx: MemorySink())
        rig.postContext(tx, slot: 0)
        rig.postData(tx, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(rig.vf.counters.txFrames == 1)
        #expect(fds.take(0) == 1 && fds.take(1) == 0)
        #expect(rig.causes == 0b001)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func unmappedCauseSetsNothing(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1)
        rig.bar.write(rig.regs.ivar, 0)  // RX queue 0's entry without its valid bit
        rig.receive([Frames.udp()])
        #expect(rig.vf.counters.rxFrames == 1)
        #expect(rig.causes == 0 && fds.take(1) == 0 && rig.vf.interruptMessages(vector: 1) == 0)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func maskedVectorSendsNothingAndUnmaskingWithCausePendingSendsAtOnce(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1, unmask: 0b101)
        rig.receive([Frames.udp()])
        rig.engine.advance(microseconds: 500)
        #expect(rig.causes == 0b010)
        #expect(fds.take(1) == 0 && rig.vf.interruptMessages(vector: 1) == 0)
        rig.control.write(rig.regs.eims, 0b010)
        rig.engine.step()
        #expect(fds.take(1) == 1 && rig.vf.interruptMessages(vector: 1) == 1)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func noMessageWithoutMSIXEnableOrWithFunctionMask(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1)
        try rig.setMSIX(enabled: false)
        rig.receive([Frames.udp()])
        #expect(rig.causes == 0b010 && fds.take(1) == 0)
        _ = rig.control.read(rig.regs.eicr)
        try rig.setMSIX(enabled: true, functionMask: true)
        rig.receive([Frames.udp()])
        #expect(rig.causes == 0b010 && fds.take(1) == 0)
        #expect(rig.vf.interruptMessages(vector: 1) == 0)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func autoClearClearsTheVectorsCauseOnDelivery(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 0) { rig in rig.bar.write(rig.regs.eiac, 0b001) }
        rig.receive([Frames.udp()])
        #expect(fds.take(0) == 1 && rig.causes == 0)
        rig.bar.write(rig.regs.eiac, 0)
        rig.receive([Frames.udp()])
        #expect(fds.take(0) == 1 && rig.causes == 0b001)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func autoMaskMasksTheVectorOnDeliveryUntilReenabled(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 2) { rig in rig.bar.write(rig.regs.eiam, 0b100) }
        rig.receive([Frames.udp()])
        #expect(fds.take(2) == 1)
        #expect(rig.control.read(rig.regs.eims) == 0b011)
        rig.receive([Frames.udp()])
        rig.engine.advance(microseconds: 500)
        #expect(fds.take(2) == 0 && rig.causes == 0b100)
        rig.control.write(rig.regs.eims, 0b100)  // the driver re-enables: the cause is still set
        rig.engine.step()
        #expect(fds.take(2) == 1 && rig.vf.interruptMessages(vector: 2) == 2)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func moderationHoldsASecondCauseUntilTheIntervalEnds(family: SimulatedFamily) throws {
        let map = family.registers
        let steps = UInt32(200_000 / map.itrUnitNanoseconds)  // about 200 µs
        let interval = Int(UInt64(steps) * map.itrUnitNanoseconds / 1000)
        let (rig, _, fds) = try Self.armed(family, vector: 1) { rig in
            rig.bar.write(rig.regs.eitr(1), steps << map.itrShift)
            rig.bar.write(rig.regs.eiac, 0b010)
        }
        rig.receive([Frames.udp()])
        #expect(fds.take(1) == 1)
        rig.receive([Frames.udp()])
        #expect(rig.causes == 0b010 && fds.take(1) == 0)
        rig.engine.advance(microseconds: interval / 2)
        #expect(fds.take(1) == 0)
        rig.engine.advance(microseconds: interval)
        #expect(fds.take(1) == 1 && rig.causes == 0)
        #expect(rig.vf.interruptMessages(vector: 1) == 2 && rig.vf.counters.rxFrames == 2)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func softwareCauseThroughEICSIsSent(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1)
        rig.control.write(rig.regs.eics, 0b001)
        rig.engine.step()
        #expect(fds.take(0) == 1 && fds.take(1) == 0)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func mailboxMessageAndAckFromThePFSignalTheMiscVector(family: SimulatedFamily) throws {
        let (rig, _, fds) = try Self.armed(family, vector: 1) { rig in rig.mapMailbox(to: 2) }
        _ = rig.control.read(rig.regs.mailbox)  // the VF read the PF's last message
        rig.vf.inject(.clearToSendLoss)  // the PF posts a control message to the VF
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        #expect(fds.take(2) == 1 && fds.take(1) == 0 && rig.causes == 0b100)
        _ = rig.control.read(rig.regs.eicr)
        rig.send([PFMailboxMessage.getQueues])  // the PF's ACK (and reply) to a request
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfack != 0)
        #expect(fds.take(2) == 1 && rig.vf.interruptMessages(vector: 2) == 2)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func threadedEngineWakesAPollOnTheVectorsEventFD(family: SimulatedFamily) throws {
        let rig = Rig(threaded: family)
        let (engine, vf) = (rig.engine, rig.vf)
        engine.start()
        defer { engine.stop() }
        rig.bringUp()
        let ring = try rig.setUpRX()
        let fds = VectorEventFDs()
        try rig.armReceiveInterrupt(fds, vector: 0)
        vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        var waiter = pollfd(fd: fds.fds[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&waiter, 1, 2000) == 1 && waiter.revents & Int16(POLLIN) != 0)
        #expect(fds.take(0) == 1 && ring.writeBack(0).status & AdvancedRxWriteBack.dd != 0)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func eventFDsAreReleasedWhenDetachedAndWhenTheVFGoesAway(family: SimulatedFamily) throws {
        let fds = VectorEventFDs()
        #expect(fds.openReferences() == 3)
        do {
            let rig = Rig(family)
            try rig.vf.setInterruptEventFDs(fds.fds)
            rig.engine.step()
            #expect(fds.openReferences() == 6)
            try rig.vf.setInterruptEventFDs([])
            rig.engine.step()
            #expect(fds.openReferences() == 3)
            try rig.vf.setInterruptEventFDs(fds.fds)
            rig.engine.step()
            try rig.vf.setInterruptEventFDs([fds.fds[0]])  // replaces a set the engine took
            try rig.vf.setInterruptEventFDs(fds.fds)  // replaces a set the engine never took
            #expect(fds.openReferences() == 6 + 3)
        }
        #expect(fds.openReferences() == 3)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func badEventFDListsAreRefused(family: SimulatedFamily) throws {
        let rig = Rig(family)
        let fds = VectorEventFDs()
        #expect(throws: SimulatorError.tooManyInterruptVectors(given: 4, vectors: 3)) {
            try rig.vf.setInterruptEventFDs(fds.fds + [fds.fds[0]])
        }
        #expect(throws: SimulatorError.badEventFD(-7)) { try rig.vf.setInterruptEventFDs([fds.fds[0], -7]) }
        #expect(fds.openReferences() == 3)
    }
}
