import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// PF reset, lost clear-to-send and surprise removal in the middle of traffic.
struct RecoveryTests {
    @Test(arguments: allFamilies)
    func pfResetDuringTrafficLosesNoBuffer(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        var config = VFPortConfiguration.small()
        config.vlanIDs = [42]
        let port = try setup.open(config)
        let pool = try transmitPool(for: port)
        let first = (0..<100).map { udpFrame(to: assignedMAC, length: 128, sequence: $0) }
        setup.inject(first)
        let before = setup.receive(port, count: 50)
        #expect(before.count >= 50)
        // Frames in flight both ways when the PF resets.
        setup.transmit(port, (0..<30).map { udpFrame(to: peerMAC, from: assignedMAC, length: 90, sequence: $0) }, from: pool)
        setup.vf.inject(.pfReset(microseconds: 3000))
        setup.advance(100)
        port.updateStats()  // sees RSTI: re-initialises (waiting for the PF to finish)
        #expect(port.stats.resets == 1)
        #expect(setup.vf.pfView.clearToSend)
        #expect(setup.vf.pfView.vlans == [42])
        port.updateStats()
        #expect(port.link.isUp)
        // Traffic resumes without the application doing anything.
        let second = (100..<200).map { udpFrame(to: assignedMAC, length: 128, sequence: $0) }
        setup.inject(second)
        let after = setup.receive(port, count: 100)
        #expect(after.suffix(100) == second[...])
        setup.transmit(port, [udpFrame(to: peerMAC, from: assignedMAC, length: 90, sequence: 99)], from: pool)
        #expect(setup.sentFrames().last.map(sequenceNumber) == 99)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func aPFResetSeenDuringARequestIsRecoveredFrom() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        setup.vf.configurePF { $0.trusted = true }
        let port = try setup.open()
        setup.vf.inject(.pfReset(microseconds: 2000))
        setup.advance(10)
        try port.setAllMulticast(true)
        #expect(port.stats.resets == 1)
        #expect(setup.vf.pfView.xcastMode == .allMulti)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func lostClearToSendReinitialises(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        setup.vf.inject(.clearToSendLoss)
        setup.advance(100)
        port.updateStats()
        #expect(port.stats.resets == 1)
        #expect(setup.vf.pfView.clearToSend)
        setup.inject([udpFrame(to: assignedMAC, length: 80, sequence: 5)])
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [5])
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func surpriseRemovalStopsThePortCleanly(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        setup.inject((0..<10).map { udpFrame(to: assignedMAC, length: 80, sequence: $0) })
        #expect(setup.receive(port, count: 10).count == 10)
        setup.vf.inject(.surpriseRemoval)
        setup.advance(10)
        port.updateStats()
        #expect(port.isRemoved)
        #expect(port.link == .down)
        var batch = PacketBatch()
        #expect(port.receive(queue: 0, into: &batch) == 0)
        #expect(setup.transmit(port, [udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: 1)], from: pool) == 0)
        #expect(throws: VFDriverError.deviceRemoved(address: setup.vf.address)) { try port.setPromiscuous(true) }
        closeAndExpectWholePools(port, extra: [pool])
    }
}
