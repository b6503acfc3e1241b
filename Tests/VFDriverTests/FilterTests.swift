import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// Modes and filters requested from the PF: promiscuous, all-multicast, multicast list, VLAN, MTU.
struct FilterTests {
    @Test func promiscuousIsRefusedWithoutTrustAndNamesTheRemedy() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        let port = try setup.open()
        do {
            try port.setPromiscuous(true)
            Issue.record("an untrusted VF got promiscuous mode")
        } catch let error as VFDriverError {
            guard case .refusedByPF(let address, _, .untrusted(promiscuous: true)) = error else {
                Issue.record("not refused for want of trust: \(error)")
                return
            }
            #expect(address == setup.vf.address)
        }
        #expect(port.configuration.promiscuous == false)
        #expect(setup.vf.pfView.xcastMode == .multi)
        // Traffic still flows.
        #expect(setup.deliver([udpFrame(to: assignedMAC, length: 80, sequence: 1)], to: port).count == 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func aTrustedVFGetsPromiscuousModeAndSeesOtherUnicast() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        setup.vf.configurePF {
            $0.trusted = true
            $0.pfPromiscuous = true
        }
        let port = try setup.open()
        let other = MACAddress(0x02, 0x99, 0, 0, 0, 1)
        #expect(setup.deliver([udpFrame(to: other, length: 80, sequence: 1)], to: port).isEmpty)
        try port.setPromiscuous(true)
        #expect(setup.vf.pfView.xcastMode == .promiscuous)
        let got = setup.deliver([udpFrame(to: other, length: 80, sequence: 2)], to: port)
        #expect(got.map(sequenceNumber) == [2])
        try port.setPromiscuous(false)
        #expect(setup.vf.pfView.xcastMode == .multi)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func the82599PFNeverGrantsPromiscuousMode() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        setup.vf.configurePF {
            $0.trusted = true
            $0.pfPromiscuous = true
        }
        let port = try setup.open()
        #expect(throws: VFDriverError.self) { try port.setPromiscuous(true) }
        try port.setAllMulticast(true)
        #expect(setup.vf.pfView.xcastMode == .allMulti)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func igbAllMulticastUsesSetPromiscAndUnicastIsRefused() throws {
        let setup = SimulatedSetup(.igb82576)
        let port = try setup.open()
        try port.setAllMulticast(true)
        #expect(setup.vf.pfView.multicastPromiscuous)
        #expect(throws: VFDriverError.self) { try port.setPromiscuous(true) }
        #expect(port.configuration.allMulticast && !port.configuration.promiscuous)
        try port.setAllMulticast(false)
        #expect(!setup.vf.pfView.multicastPromiscuous)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func multicastListReachesThePFAsHashes(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let group = MACAddress(0x01, 0x00, 0x5E, 0x01, 0x02, 0x03)
        try port.setMulticastList([group])
        // Type-0 hash: bits 47:36 of the address.
        #expect(setup.vf.pfView.multicastHashes == [UInt16((0x0302 >> 4) & 0xFFF)])
        let got = setup.deliver([udpFrame(to: group, length: 80, sequence: 4)], to: port)
        #expect(got.map(sequenceNumber) == [4])
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test(arguments: allFamilies)
    func vlanFiltersAreAddedAndRemoved(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        try port.addVLAN(10)
        try port.addVLAN(20)
        #expect(setup.vf.pfView.vlans == [10, 20])
        try port.removeVLAN(10)
        #expect(setup.vf.pfView.vlans == [20])
        #expect(port.configuration.vlanIDs == [20])
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func aPortVLANMakesVLANFiltersRefused() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        setup.vf.configurePF { $0.portVLAN = 5 }
        let port = try setup.open()
        do {
            try port.addVLAN(10)
            Issue.record("VLAN filter accepted under a port VLAN")
        } catch let error as VFDriverError {
            #expect(error == .refusedByPF(address: setup.vf.address, what: "VLAN 10", reason: .portVLAN))
        }
        #expect(port.configuration.vlanIDs.isEmpty)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func mtuChangesWithinTheBuffersAndRefusesBeyond() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var config = VFPortConfiguration.small(pool: 256)
        config.mtu = 9000
        let port = try setup.open(config)
        #expect(setup.vf.pfView.maxFrame == 9018)
        func lastLPE() -> UInt32? { setup.vf.mailboxLog.last { $0.request[0] & 0xFFFF == 0x05 }?.request[1] }
        try port.setMTU(1500)
        #expect(lastLPE() == 1518)
        #expect(port.configuration.mtu == 1500)
        try port.setMTU(9000)
        #expect(lastLPE() == 9018)
        #expect(throws: VFDriverError.self) { try port.setMTU(9600) }
        #expect(port.configuration.mtu == 9000)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func the82599PFRefusesJumboWhileItsOwnMTUIsSmall() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        var config = VFPortConfiguration.small(pool: 256)
        config.mtu = 9000
        do {
            _ = try setup.open(config)
            Issue.record("82599 VF got jumbo frames from a PF at MTU 1500")
        } catch let error as VFDriverError {
            guard case .refusedByPF(_, _, .sharedFrameLimit(mtu: 9000)) = error else {
                Issue.record("not refused for the PF's frame limit: \(error)")
                return
            }
        }
        #expect(setup.container.mappedRegionCount == 0)
    }
}
