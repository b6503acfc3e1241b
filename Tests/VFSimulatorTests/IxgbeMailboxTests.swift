import PMDCore
import Testing
@testable import VFSimulator

/// The ixgbe PF's answers, word by word, as the Linux ixgbe PF gives them.
struct IxgbeMailboxTests {
    typealias M = PFMailboxMessage

    @Test func resetRepliesFourWordsWithMACAndFilterTypeWithoutCTS() {
        var settings = PFSettings(mac: Rig.mac)
        settings.multicastFilterType = 2
        let rig = Rig(.ixgbe82599, settings: settings)
        let reply = rig.resetHandshake()
        #expect(reply[0] == 0x8000_0001)
        #expect(reply[1] == 0x3322_1102 && reply[2] == 0x0000_5544)
        #expect(reply[3] == 2)
        #expect(reply[4...].allSatisfy { $0 == 0 })
        #expect(rig.vf.pfView.clearToSend && rig.vf.pfView.api == .v1_0)
    }

    @Test func resetWithoutAssignedMACIsNACKed() {
        let rig = Rig(.ixgbeX550, settings: PFSettings())
        let reply = rig.resetHandshake()
        #expect(reply[0] == 0x4000_0001 && reply[1] == 0 && reply[2] == 0)
    }

    @Test func requestsBeforeResetAreNACKedWithoutCTS() {
        let rig = Rig(.ixgbe82599)
        let reply = rig.send([M.apiNegotiate, PFMailboxAPI.v1_3.rawValue, 0])
        #expect(reply[0] == M.apiNegotiate | M.nack)
        #expect(rig.vf.pfView.api == .v1_0)
    }

    @Test func apiNegotiationAcceptsUpTo1_4() {
        let rig = Rig(.ixgbe82599)
        rig.resetHandshake()
        #expect(rig.send([M.apiNegotiate, PFMailboxAPI.v1_5.rawValue, 0])[0] == M.apiNegotiate | M.nack | M.cts)
        #expect(rig.send([M.apiNegotiate, PFMailboxAPI.v2_0.rawValue, 0])[0] == M.apiNegotiate | M.nack | M.cts)
        let ok = rig.send([M.apiNegotiate, PFMailboxAPI.v1_4.rawValue, 0])
        #expect(ok[0] == M.apiNegotiate | M.ack | M.cts && ok[1] == PFMailboxAPI.v1_4.rawValue)
        #expect(rig.vf.pfView.api == .v1_4)
    }

    @Test func getQueuesNeedsAPI1_1() {
        var settings = PFSettings(mac: Rig.mac)
        settings.queuesPerPool = 4
        let rig = Rig(.ixgbe82599, settings: settings)
        rig.resetHandshake()
        #expect(rig.send([M.getQueues, 0, 0, 0, 0])[0] == M.getQueues | M.nack | M.cts)
        rig.bringUp(api: .v1_1)
        let r = rig.send([M.getQueues, 0, 0, 0, 0])
        #expect(Array(r[0..<5]) == [M.getQueues | M.ack | M.cts, 4, 4, 0, 0])
    }

    @Test func setMACAddressIsNACKedWhenTheAdministratorSetIt() {
        let rig = Rig(.ixgbe82599)
        rig.resetHandshake()
        let other: [UInt32] = [M.setMACAddress, 0x0403_0202, 0x0605]
        #expect(rig.send(other)[0] == M.setMACAddress | M.nack | M.cts)
        let same = PFMailboxResponder.words(of: Rig.mac)
        #expect(rig.send([M.setMACAddress, same.0, same.1])[0] == M.setMACAddress | M.ack | M.cts)
        rig.vf.configurePF { $0.trusted = true }
        rig.engine.step()
        #expect(rig.send(other)[0] == M.setMACAddress | M.ack | M.cts)
        #expect(rig.vf.pfView.mac == MACAddress(0x02, 0x02, 0x03, 0x04, 0x05, 0x06))
    }

    @Test func setMACAddressWithoutAdministrativeMACIsAccepted() {
        let rig = Rig(.ixgbe82599, settings: PFSettings())
        rig.resetHandshake()
        #expect(rig.send([M.setMACAddress, 0x0403_0202, 0x0605])[0] == M.setMACAddress | M.ack | M.cts)
        #expect(rig.send([M.setMACAddress, 0x0403_0201, 0x0605])[0] == M.setMACAddress | M.nack | M.cts)  // multicast
    }

    @Test func xcastModeIsCappedForUntrustedVFs() {
        let rig = Rig(.ixgbeX550)
        rig.bringUp(api: .v1_3)
        let r = rig.send([M.updateXcastMode, PFXcastMode.promiscuous.rawValue])
        #expect(r[0] == M.updateXcastMode | M.ack | M.cts && r[1] == PFXcastMode.multi.rawValue)
        rig.vf.configurePF { $0.trusted = true }
        rig.engine.step()
        // Trusted, but the PF itself is not promiscuous.
        #expect(rig.send([M.updateXcastMode, 3])[0] == M.updateXcastMode | M.nack | M.cts)
        rig.vf.configurePF { $0.pfPromiscuous = true }
        rig.engine.step()
        let p = rig.send([M.updateXcastMode, 3])
        #expect(p[0] == M.updateXcastMode | M.ack | M.cts && p[1] == 3)
        let all = rig.send([M.updateXcastMode, 2])
        #expect(all[1] == 2 && rig.vf.pfView.xcastMode == .allMulti)
    }

    @Test func xcastModeRules82599AndAPI() {
        var settings = PFSettings(mac: Rig.mac)
        settings.trusted = true
        settings.pfPromiscuous = true
        let rig = Rig(.ixgbe82599, settings: settings)
        rig.bringUp(api: .v1_1)
        #expect(rig.send([M.updateXcastMode, 1])[0] == M.updateXcastMode | M.nack | M.cts)
        rig.bringUp(api: .v1_2)
        #expect(rig.send([M.updateXcastMode, 3])[0] == M.updateXcastMode | M.nack | M.cts)
        rig.bringUp(api: .v1_3)
        #expect(rig.send([M.updateXcastMode, 3])[0] == M.updateXcastMode | M.nack | M.cts)  // 82599 refuses
        #expect(rig.send([M.updateXcastMode, 2])[0] == M.updateXcastMode | M.ack | M.cts)
    }

    @Test func retaAndKeyOn82599WhenAllowed() {
        var settings = PFSettings(mac: Rig.mac)
        settings.pfRETA = (0..<128).map { UInt8($0 % 3) }
        settings.queuesPerPool = 4
        let rig = Rig(.ixgbe82599, settings: settings)
        rig.bringUp(api: .v1_2)
        #expect(rig.send([M.getRETA])[0] == M.getRETA | M.nack | M.cts)
        rig.vf.configurePF { $0.rssQueryEnabled = true }
        rig.engine.step()
        let r = rig.send([M.getRETA])
        #expect(r[0] == M.getRETA | M.ack | M.cts)
        // Entries 0,1,2,0,1,2,... two bits each, entry j of word i at bits 2j.
        var expected: UInt32 = 0
        for j in 0..<16 { expected |= UInt32(j % 3) << (2 * UInt32(j)) }
        #expect(r[1] == expected)
        let k = rig.send([M.getRSSKey])
        #expect(k[0] == M.getRSSKey | M.ack | M.cts && k[1] == 0xDA56_5A6D && k[10] == 0xFA01_ACBE)
        // X550 has its own registers: the PF refuses.
        let x = Rig(.ixgbeX550, settings: settings)
        x.vf.configurePF { $0.rssQueryEnabled = true }
        x.bringUp(api: .v1_2)
        #expect(x.send([M.getRETA])[0] == M.getRETA | M.nack | M.cts)
    }

    @Test func linkStateMulticastVLANAndLPE() {
        let rig = Rig(.ixgbeX550)
        rig.bringUp(api: .v1_2)
        #expect(Array(rig.send([M.getLinkState, 0])[0...1]) == [M.getLinkState | M.ack | M.cts, 1])
        rig.vf.configurePF { $0.administrativeLinkEnabled = false }
        rig.engine.step()
        #expect(rig.send([M.getLinkState, 0])[1] == 0)
        #expect(rig.send([M.setMulticast | 2 << 16, 0x0123_0456])[0] == M.setMulticast | 2 << 16 | M.ack | M.cts)
        #expect(rig.vf.pfView.multicastHashes == [0x456, 0x123])
        #expect(rig.send([M.setVLAN | 1 << 16, 100])[0] & M.ack != 0)
        #expect(rig.vf.pfView.vlans == [100])
        #expect(rig.send([M.setLPE, 9018])[0] == M.setLPE | M.ack | M.cts)
        #expect(rig.send([M.setLPE, 9729])[0] == M.setLPE | M.nack | M.cts)
        #expect(rig.vf.pfView.maxFrame == 9018)
        rig.vf.configurePF { $0.portVLAN = 5 }
        rig.engine.step()
        #expect(rig.send([M.setVLAN | 1 << 16, 7])[0] == M.setVLAN | 1 << 16 | M.nack | M.cts)
        #expect(rig.send([0x0007])[0] == 0x0007 | M.nack | M.cts)  // unknown message
    }

    @Test func lpeJumboRulesOn82599() {
        let rig = Rig(.ixgbe82599)
        rig.bringUp(api: .v1_1)
        #expect(rig.send([M.setLPE, 1518])[0] == M.setLPE | M.ack | M.cts)
        #expect(rig.send([M.setLPE, 9018])[0] == M.setLPE | M.nack | M.cts)
        #expect(!rig.vf.pfView.receiveEnabled)
        rig.vf.configurePF { $0.pfMTU = 9000 }
        rig.engine.step()
        #expect(rig.send([M.setLPE, 9018])[0] == M.setLPE | M.ack | M.cts)
        #expect(rig.vf.pfView.receiveEnabled)
        rig.bringUp(api: .v1_0)
        #expect(!rig.vf.pfView.receiveEnabled)  // PF jumbo: RX off at RESET until an acceptable SET_LPE
        #expect(rig.send([M.setLPE, 1518])[0] == M.setLPE | M.nack | M.cts)
    }

    @Test func repliesEchoTheWholeBufferAndWordsWithFlagsAreIgnored() {
        let rig = Rig(.ixgbeX550)
        rig.resetHandshake()
        var words: [UInt32] = [M.setVLAN | 1 << 16, 10]
        words += (2..<16).map { UInt32($0) * 0x111 }
        let reply = rig.send(words)
        #expect(reply[0] == words[0] | M.ack | M.cts && Array(reply[1...]) == Array(words[1...]))
        let before = rig.vf.pfView.requestsHandled
        rig.send([M.setVLAN | M.ack, 11])
        #expect(rig.vf.pfView.requestsHandled == before && !rig.vf.pfView.vlans.contains(11))
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfsts == 0)
    }
}
