import DriverTestSupport
import PMDCore
import Testing
@testable import VFDriver
import VFSimulator

/// The fault matrix on the simulator and the driver: for each fault the port recovers by
/// itself or stops with a clear error, every buffer is back in its pool afterwards, and the
/// device saw no DMA outside what the driver mapped.
struct FaultMatrixTests {
    /// Frames in both directions, a PF reset in the middle, and the application's own mailbox
    /// request while the PF is still resetting (its writes of the control register must not
    /// hide the reset).
    @Test(arguments: allFamilies)
    func pfResetInTheMiddleOfTraffic(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        setup.vf.configurePF { $0.trusted = true }
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        #expect(setup.deliver((0..<64).map { udpFrame(to: assignedMAC, length: 100, sequence: $0) }, to: port).count == 64)
        setup.inject((64..<96).map { udpFrame(to: assignedMAC, length: 100, sequence: $0) })
        setup.transmit(port, (0..<20).map { udpFrame(to: peerMAC, from: assignedMAC, length: 90, sequence: $0) }, from: pool)
        setup.vf.inject(.pfReset(microseconds: 5000))
        setup.advance(10)
        // The application keeps polling and asks for promiscuous mode meanwhile.
        var batch = PacketBatch()
        _ = port.receive(queue: 0, into: &batch)
        batch = PacketBatch()
        do { try port.setAllMulticast(true) } catch let error as VFDriverError {
            #expect(error == .pfReset(address: setup.vf.address) || error == .pfStillResetting(address: setup.vf.address),
                    "\(error)")
        }
        port.updateStats()
        port.updateStats()
        #expect(port.stats.resets >= 1)
        #expect(setup.vf.pfView.clearToSend)
        #expect(port.link.isUp)
        let after = (200..<300).map { udpFrame(to: assignedMAC, length: 128, sequence: $0) }
        let got = setup.deliver(after, to: port)
        #expect(got.suffix(100) == after[...], "\(got.count) frames after the reset")
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    /// Frames a stalled device still holds in the TX ring when the PF resets are taken back,
    /// counted as discarded, and returned to their pool; frames the device had sent are not.
    @Test(arguments: allFamilies)
    func framesInTheTransmitRingAtAPFResetAreCountedAsDiscarded(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        let early = (0..<10).map { udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: $0) }
        #expect(setup.transmit(port, early, from: pool) == 10)
        #expect(setup.sentFrames().count == 10)
        _ = port.reclaimTransmitted(queue: 0)
        #expect(pool.inUse == 0)
        setup.vf.inject(.txStall(true))
        setup.advance(10)
        let stuck = (10..<30).map { udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: $0) }
        #expect(setup.transmit(port, stuck, from: pool) == 20)
        #expect(pool.inUse == 20)
        setup.vf.inject(.pfReset(microseconds: 2000))
        setup.advance(3000)
        setup.vf.inject(.txStall(false))
        port.updateStats()
        port.updateStats()
        #expect(port.stats.resets >= 1)
        #expect(port.stats.txDiscarded == 20)
        #expect(port.txCounters(queue: 0).discarded == 20)
        #expect(pool.inUse == 0)
        #expect(setup.sentFrames().isEmpty)
        // After the reset the ring sends again, and nothing more is counted as discarded.
        let after = (30..<40).map { udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: $0) }
        #expect(setup.transmit(port, after, from: pool) == 10)
        #expect(setup.sentFrames().count == 10)
        port.updateStats()
        #expect(port.stats.txDiscarded == 20)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test(arguments: allFamilies)
    func clearToSendLostIsRecovered(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        for round in 0..<3 {
            setup.vf.inject(.clearToSendLoss)
            setup.advance(100)
            port.updateStats()
            #expect(port.stats.resets == UInt64(round + 1))
            #expect(setup.deliver([udpFrame(to: assignedMAC, length: 80, sequence: round)], to: port).map(sequenceNumber) == [round])
        }
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func linkFlapping100Times(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        var downSeen = 0, upSeen = 0
        for i in 0..<100 {
            setup.vf.setLink(up: false)
            setup.advance(50)
            port.updateStats()
            if !port.link.isUp { downSeen += 1 }
            setup.vf.setLink(up: true)
            setup.advance(50)
            port.updateStats()
            if port.link.isUp { upSeen += 1 }
            if i % 10 == 0 {
                #expect(setup.deliver([udpFrame(to: assignedMAC, length: 64, sequence: i)], to: port).map(sequenceNumber) == [i])
            }
        }
        #expect(downSeen == 100 && upSeen == 100)
        #expect(port.stats.resets == 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    /// Surprise removal is seen at the first watchdog call after it; every call after that
    /// returns at once, and the port closes with whole pools.
    @Test(arguments: allFamilies)
    func surpriseRemovalIsSeenAtTheNextPoll(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        #expect(setup.deliver((0..<10).map { udpFrame(to: assignedMAC, length: 80, sequence: $0) }, to: port).count == 10)
        setup.vf.inject(.surpriseRemoval)
        setup.advance(1)
        port.watchdog()
        #expect(port.isRemoved)
        let start = MonotonicClock.nanoseconds()
        for _ in 0..<1000 { port.updateStats() }
        var batch = PacketBatch()
        #expect(port.receive(queue: 0, into: &batch) == 0)
        #expect(MonotonicClock.nanoseconds() - start < 1_000_000_000)
        #expect(throws: VFDriverError.deviceRemoved(address: setup.vf.address)) { try port.start() }
        closeAndExpectWholePools(port, extra: [pool])
        #expect(setup.container.mappedRegionCount == 0)
    }

    /// The messages of a port's bring-up, each the one at which the PF falls silent: the open
    /// fails naming that message, and nothing stays mapped.
    @Test(arguments: [(SimulatedFamily.ixgbe82599, MailboxMessage.reset), (.ixgbe82599, .apiNegotiate),
                      (.ixgbe82599, .getQueues), (.ixgbe82599, .setLPE), (.ixgbe82599, .setVLAN),
                      (.ixgbe82599, .updateXcastMode), (.ixgbe82599, .setMulticast), (.igb82576, .reset), (.igb82576, .setLPE), (.igb82576, .setPromisc),
                      (.igb82576, .setVLAN), (.igb82576, .setMulticast)])
    func mailboxSilentAtEachStepOfInit(family: SimulatedFamily, message: MailboxMessage) throws {
        let setup = SimulatedSetup(family)
        setup.vf.configurePF { $0.trusted = true; $0.rssQueryEnabled = true }
        setup.vf.inject(.mailboxSilenceFrom(messageType: message.id))
        var config = VFPortConfiguration.small()
        config.vlanIDs = [7]
        config.multicast = [MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0x01)]
        config.allMulticast = true
        var thrown: VFDriverError?
        do { _ = try setup.open(config) } catch let error as VFDriverError { thrown = error }
        #expect(thrown == .mailboxTimeout(address: setup.vf.address, message: message.name), "\(String(describing: thrown))")
        #expect(thrown.map { "\($0)".contains(message.name) } == true)
        #expect(setup.container.mappedRegionCount == 0)
        setup.expectCleanRun()
    }

    /// Every request type NACKed in turn: the port either works without what was refused (API
    /// negotiation falls back; a refused MAC keeps the permanent one) or fails with a sentence
    /// that names the refused request; nothing stays mapped either way.
    @Test(arguments: [(SimulatedFamily.ixgbe82599, MailboxMessage.reset), (.ixgbe82599, .setMACAddress),
                      (.ixgbe82599, .apiNegotiate), (.ixgbe82599, .getQueues), (.ixgbe82599, .setLPE),
                      (.ixgbe82599, .setVLAN), (.ixgbe82599, .updateXcastMode), (.ixgbe82599, .setMulticast),
                      (.igb82576, .reset),
                      (.igb82576, .setMACAddress), (.igb82576, .setLPE), (.igb82576, .setPromisc),
                      (.igb82576, .setVLAN), (.igb82576, .setMulticast)])
    func nackOfEachRequestType(family: SimulatedFamily, message: MailboxMessage) throws {
        let setup = SimulatedSetup(family, settings: PFSettings())
        setup.vf.configurePF { $0.trusted = true; $0.rssQueryEnabled = true }
        setup.vf.inject(.nackMessages([message.id]))
        var config = VFPortConfiguration.small()
        config.vlanIDs = [7]
        config.mac = assignedMAC
        config.multicast = [MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0x01)]
        config.allMulticast = true
        do {
            let port = try setup.open(config)
            let mac = port.macAddress
            let frames = setup.deliver([udpFrame(to: mac, length: 80, sequence: 1)], to: port)
            #expect(frames.map(sequenceNumber) == [1], "\(message.name) NACKed: port opened but received \(frames.count)")
            closeAndExpectWholePools(port)
        } catch let error as VFDriverError {
            let text = "\(error)"
            #expect(text.contains(message.name) || text.contains("refused"), "\(message.name): \(text)")
        }
        #expect(setup.container.mappedRegionCount == 0)
        setup.expectCleanRun()
    }
}
