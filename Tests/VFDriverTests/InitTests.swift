import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// Open, reset handshake, API negotiation, queues, MAC; close leaves nothing behind.
struct InitTests {
    @Test(arguments: allFamilies)
    func handshakeGivesTheAssignedMACAndClearToSend(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        #expect(port.macAddress == assignedMAC)
        #expect(port.permanentMAC == assignedMAC)
        let view = setup.vf.pfView
        #expect(view.clearToSend)
        #expect(view.mac == assignedMAC)
        if family.isIxgbe {
            // The PF accepts 1.0–1.4; the driver asks from 1.4 down.
            #expect(port.apiVersion == .v1_4)
            #expect(view.api == .v1_4)
            #expect(port.queueCount == 1 && port.grantedQueues == 2)
        } else {
            #expect(port.apiVersion == .v1_0)
            #expect(port.grantedQueues == 2)
        }
        // SET_LPE carried the largest frame of MTU 1500: header and CRC, plus a VLAN tag on igb.
        #expect(view.maxFrame == (family.isIxgbe ? 1518 : 1522))
        // The first mailbox exchange after the reset is RESET.
        let first = try #require(setup.vf.mailboxLog.first)
        #expect(first.request[0] & 0xFFFF == 0x01)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
        #expect(setup.container.mappedRegionCount == 0)
    }

    @Test(arguments: allFamilies)
    func noAssignedMACGivesARandomLocalOneAnnouncedToThePF(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family, settings: PFSettings())
        let port = try setup.open()
        #expect(port.permanentMAC == nil)
        #expect(port.macAddress.isLocallyAdministered && !port.macAddress.isMulticast)
        #expect(setup.vf.pfView.mac == port.macAddress)
        #expect(setup.vf.mailboxLog.contains { $0.request[0] & 0xFFFF == 0x02 })
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func configuredMACIsRefusedWhenTheAdministratorFixedOne() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var config = VFPortConfiguration.small()
        config.mac = MACAddress(0x02, 1, 2, 3, 4, 5)
        do {
            _ = try setup.open(config)
            Issue.record("the PF accepted a MAC change from an untrusted VF")
        } catch let error as VFDriverError {
            #expect(error == .refusedByPF(address: setup.vf.address, what: "the MAC address 02:01:02:03:04:05",
                                          reason: .macFixed(wanted: MACAddress(0x02, 1, 2, 3, 4, 5))))
        }
        #expect(setup.container.mappedRegionCount == 0)
    }

    @Test(arguments: allFamilies)
    func stopTakesBackEveryBufferAndStartResumes(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        #expect(setup.deliver((0..<40).map { udpFrame(to: assignedMAC, length: 90, sequence: $0) }, to: port).count == 40)
        setup.vf.inject(.txStall(true))
        setup.transmit(port, (0..<10).map { udpFrame(to: peerMAC, from: assignedMAC, length: 90, sequence: $0) }, from: pool)
        port.stop()
        // Nothing is left in the rings: the RX pool and the TX pool are whole while stopped.
        #expect(port.rxPools[0].available == port.rxPools[0].capacity)
        #expect(pool.available == pool.capacity)
        setup.vf.inject(.txStall(false))
        try port.start()
        let again = setup.deliver((40..<80).map { udpFrame(to: assignedMAC, length: 90, sequence: $0) }, to: port)
        #expect(again.map(sequenceNumber) == Array(40..<80))
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func grantedQueuesLimitTheQueueCount() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        setup.vf.configurePF { $0.queuesPerPool = 4 }
        var config = VFPortConfiguration.small()
        config.queues = 8
        let port = try setup.open(config)
        #expect(port.grantedQueues == 4 && port.queueCount == 4)
        #expect(port.rxPools.count == 4)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func invalidConfigurationsAreRefusedWithAReason() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        func refused(_ change: (inout VFPortConfiguration) -> Void) -> String {
            var c = VFPortConfiguration.small()
            change(&c)
            do {
                _ = try setup.open(c)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(refused { $0.rxDescriptors = 100 }.contains("multiple of 8"))
        #expect(refused { $0.txDescriptors = 8192 }.contains("64 to 4096"))
        #expect(refused { $0.rxDescriptors = 32 }.contains("64 to 4096"))
        #expect(refused { $0.mtu = 20_000 }.contains("MTU"))
        #expect(refused { $0.poolSize = 100 }.contains("pool"))
        #expect(refused { $0.queues = 9 }.contains("queues"))
        #expect(refused { $0.vlanIDs = [4095] }.contains("VLAN"))
    }

    @Test func aSilentPFGivesATimeoutNamingTheMessage() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        setup.vf.inject(.mailboxSilence(true))
        do {
            _ = try setup.open()
            Issue.record("open succeeded with a silent PF")
        } catch let error as VFDriverError {
            #expect(error == .mailboxTimeout(address: setup.vf.address, message: "RESET"))
            #expect(error.description.contains("RESET"))
        }
    }

    @Test func aNACKedRequestIsAClearError() throws {
        let setup = SimulatedSetup(.igb82576)
        setup.vf.inject(.nackMessages([0x05]))
        do {
            _ = try setup.open()
            Issue.record("open succeeded although SET_LPE was refused")
        } catch let error as VFDriverError {
            guard case .refusedByPF = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(error.description.contains("MTU 1500"))
        }
    }

    @Test func everyFamilyTableIsFoundByItsDeviceID() {
        let ids: [(UInt16, VFGeneration)] = [
            (0x10ED, .x82599), (0x1515, .x540), (0x1565, .x550), (0x15A8, .x550emX), (0x15C5, .x550emA),
            (0x10CA, .i82576), (0x1520, .i350),
        ]
        for (id, generation) in ids {
            #expect(VFFamilyTable.lookup(vendorID: 0x8086, deviceID: id)?.generation == generation)
        }
        #expect(VFFamilyTable.lookup(vendorID: 0x8086, deviceID: 0x10FB) == nil)
        #expect(VFFamilyTable.lookup(vendorID: 0x15B3, deviceID: 0x10ED) == nil)
    }
}
