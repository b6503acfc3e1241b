import DriverTestSupport
import Foundation
import PMDCore
import Testing
import TestSupport
import VFDriver
import VFSimulator
#if canImport(Glibc)
import Glibc
#endif

/// Interrupt mode on the simulated VFs: an idle queue's eventfd stays quiet, a frame wakes it
/// once per arm, arm-then-recheck loses no frame, moderation lands in each family's units, the
/// mailbox vector brings a PF reset to the driver, and every eventfd is closed again.
@Suite(.serialized)
struct InterruptModeTests {
    static func config(moderation: Int = 0, queues: Int = 1) -> VFPortConfiguration {
        var c = VFPortConfiguration.small()
        c.queues = queues
        c.interrupts = InterruptSettings(moderationMicroseconds: moderation)
        return c
    }

    /// MSI-X Enable: bit 15 of Message Control, the top half of the capability's first dword
    /// (PCI Local Bus Specification 3.0 §6.8.2.3); the simulated VF's capability is at 0x70.
    static let msixEnable: UInt32 = 1 << 31

    /// Whether `fd` is readable within `milliseconds` (poll(2)).
    static func readable(_ fd: Int32, within milliseconds: Int32 = 0) -> Bool {
        var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&waiter, 1, milliseconds) == 1 && waiter.revents & Int16(POLLIN) != 0
    }

    /// Whether `condition` holds within three seconds (it is looked at every 10 ms). Other suites
    /// run beside this one and open eventfds of their own for a moment, so the checks on
    /// eventfds look at the port's own ids, or wait for a count to settle.
    static func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<300 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test(arguments: allFamilies)
    func anIdleQueueIsQuietAndAFrameWakesItOncePerArm(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config())
        let fds = try #require(port.interruptEventFDs)
        #expect(fds.receive.count == 1)
        port.armInterrupt(queue: 0)
        setup.advance(1000)
        #expect(!Self.readable(fds.receive[0], within: 10))
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 1)])
        setup.advance(200)
        #expect(Self.readable(fds.receive[0], within: 100))
        #expect(InterruptEventFDs.take(fds.receive[0]) == 1)
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [1])
        // Disarmed by the message (auto-mask): a second frame sends nothing until armed again.
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 2)])
        setup.advance(200)
        #expect(!Self.readable(fds.receive[0]))
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [2])
        port.armInterrupt(queue: 0)
        #expect(!port.hasReceivedFrame(queue: 0))
        setup.advance(1000)
        #expect(!Self.readable(fds.receive[0]))
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 3)])
        setup.advance(200)
        #expect(InterruptEventFDs.take(fds.receive[0]) == 1)
        #expect(setup.vf.interruptMessages(vector: 0) == 2 && setup.vf.interruptMessages(vector: 1) == 0)
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [3])
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func armThenRecheckFindsAFrameThatCameBeforeTheArm(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config())
        let fds = try #require(port.interruptEventFDs)
        // The poller's last poll found nothing; the frame completes before it arms.
        var batch = PacketBatch()
        #expect(port.receive(queue: 0, into: &batch) == 0)
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 7)])
        setup.advance(200)
        port.armInterrupt(queue: 0)
        setup.advance(200)
        // Its cause was cleared by the arm, so no message comes: only the re-check sees it.
        #expect(!Self.readable(fds.receive[0]))
        #expect(port.hasReceivedFrame(queue: 0))
        #expect(port.hasReceivedFrame(queue: 0))  // looking takes nothing
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [7])
        #expect(!port.hasReceivedFrame(queue: 0))
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func theRegistersMapQueuesAndMailboxToTheirVectorsWithModerationInTheFamilysUnits(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config(moderation: 100))
        let map = family.registers
        // 100 µs: 49 steps of 2.048 µs in VTEITR bits 11:3; 100 steps of 1 µs in EITR bits 14:2.
        let expected: UInt32 = family == .igb82576 ? 100 << 2 : 49 << 3
        #expect(setup.vf.bar0.read(map.eitr(0)) == expected)
        #expect(setup.vf.bar0.read(map.eitr(1)) == 0)
        #expect(setup.vf.bar0.read(map.ivar) & 0xFF == 0x80)  // RX queue 0 → vector 0
        #expect(setup.vf.bar0.read(map.ivarMisc) & 0xFF == 0x81)  // mailbox → vector 1
        #expect(setup.vf.bar0.read(map.eiac) == 0b11 && setup.vf.bar0.read(map.eiam) == 0b01)
        #expect(setup.vf.controlRegisters.read(map.eims) == 0b10)  // queue vector waits for its arm
        let control = try setup.vf.readConfig32(at: 0x70)
        #expect(control & Self.msixEnable != 0)
        port.stop()
        #expect(try setup.vf.readConfig32(at: 0x70) & Self.msixEnable == 0)
        #expect(port.interruptEventFDs == nil)
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func moderationHoldsTheNextMessageForTheInterval(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config(moderation: 400))
        let fds = try #require(port.interruptEventFDs)
        port.armInterrupt(queue: 0)
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 1)])
        setup.advance(50)
        #expect(InterruptEventFDs.take(fds.receive[0]) == 1)
        #expect(setup.receive(port, count: 1).count == 1)
        port.armInterrupt(queue: 0)
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 2)])
        setup.advance(100)
        #expect(!Self.readable(fds.receive[0]))
        setup.advance(500)
        #expect(InterruptEventFDs.take(fds.receive[0]) == 1)
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func aPFResetSignalsTheMailboxVectorAndTheDriverRecovers(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config())
        let fds = try #require(port.interruptEventFDs)
        setup.advance(500)
        #expect(!Self.readable(fds.mailbox))
        setup.vf.inject(.pfReset(microseconds: 2000))
        setup.advance(100)
        #expect(Self.readable(fds.mailbox, within: 100))
        #expect(port.serviceMailboxInterrupt() >= 1)
        #expect(port.stats.resets == 1 && setup.vf.pfView.clearToSend)
        // The VF reset cleared the maps: the recovery programmed them again.
        #expect(port.interruptEventFDs == fds)
        port.armInterrupt(queue: 0)
        setup.inject([udpFrame(to: assignedMAC, length: 100, sequence: 5)])
        setup.advance(200)
        #expect(InterruptEventFDs.take(fds.receive[0]) == 1)
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [5])
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func stopAndCloseCloseEveryEventFD(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open(Self.config())
        setup.advance(100)
        // The driver's two eventfds (queue 0, mailbox) and the VF's own references to them.
        var ids = Set(try #require(port.interruptEventFDs).receive.map(String.init) + [String(port.interruptEventFDs!.mailbox)])
            .compactMap { OpenEventFDs.id(of: $0) }
        #expect(ids.count == 2 && OpenEventFDs.references(to: Set(ids)) == 4)
        port.stop()
        setup.advance(100)
        #expect(Self.eventually { OpenEventFDs.references(to: Set(ids)) == 0 })
        try port.start()
        setup.advance(100)
        ids = (try #require(port.interruptEventFDs).receive + [port.interruptEventFDs!.mailbox]).compactMap { OpenEventFDs.id(of: String($0)) }
        #expect(ids.count == 2 && OpenEventFDs.references(to: Set(ids)) == 4)
        closeAndExpectWholePools(port)
        setup.advance(100)
        #expect(Self.eventually { OpenEventFDs.references(to: Set(ids)) == 0 })
    }

    @Test func pollModeLeavesMSIXOffAndMakesNoEventFD() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        let before = OpenEventFDs.ids().count
        let port = try setup.open()
        #expect(port.interruptEventFDs == nil)
        #expect(try setup.vf.readConfig32(at: 0x70) & Self.msixEnable == 0)
        #expect(Self.eventually { OpenEventFDs.ids().count <= before })
        closeAndExpectWholePools(port)
    }

    @Test func tooFewVectorsIsAClearError() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        setup.vf.configurePF { $0.queuesPerPool = 4 }
        let before = OpenEventFDs.ids().count
        let port = try setup.open(Self.config(queues: 3), start: false)
        #expect(throws: VFDriverError.tooFewInterruptVectors(address: port.function.address, queues: 3, vectors: 3)) {
            try port.start()
        }
        #expect(VFDriverError.tooFewInterruptVectors(address: "0000:03:10.0", queues: 3, vectors: 3).description
            == "interrupt mode needs 4 MSI-X vectors on 0000:03:10.0 (one per queue and one for the mailbox) but it has 3: use at most 2 queues or poll mode")
        #expect(port.interruptEventFDs == nil)
        #expect(Self.eventually { OpenEventFDs.ids().count <= before })
        closeAndExpectWholePools(port)
    }

    @Test func moderationOutOfRangeIsRefused() {
        var config = Self.config()
        config.interrupts = InterruptSettings(moderationMicroseconds: 5000)
        #expect(throws: VFDriverError.invalidConfiguration("interrupt moderation of 5000 µs: use 0 to 1000")) {
            try config.validateRanges()
        }
    }
}
