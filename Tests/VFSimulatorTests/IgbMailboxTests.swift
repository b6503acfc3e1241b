import PMDCore
import Testing
@testable import VFSimulator

/// The igb PF's answers, as the Linux igb PF gives them: 3-word RESET, 1-word replies,
/// rate-limited NACKs while not clear to send.
struct IgbMailboxTests {
    typealias M = PFMailboxMessage

    @Test func resetRepliesThreeWordsWithoutCTS() {
        let rig = Rig(.igb82576)
        // Fill the mailbox memory to see which words the PF writes.
        for i in 0..<16 { rig.bar.write(rig.regs.mailboxMemory + 4 * i, 0xEEEE_EEEE) }
        let reply = rig.resetHandshake()
        #expect(Array(reply[0..<3]) == [0x8000_0001, 0x3322_1102, 0x0000_5544])
        #expect(reply[3] == 0xEEEE_EEEE)
        let noMAC = Rig(.igb82576, settings: PFSettings())
        #expect(Array(noMAC.resetHandshake()[0..<3]) == [0x4000_0001, 0, 0])
    }

    @Test func repliesAreOneWord() {
        let rig = Rig(.igb82576, settings: PFSettings())
        rig.resetHandshake()
        let r = rig.send([M.setMACAddress, 0x0403_0202, 0x0605])
        #expect(r[0] == M.setMACAddress | M.ack | M.cts && r[1] == 0x0403_0202)
        #expect(rig.vf.pfView.mac == MACAddress(0x02, 0x02, 0x03, 0x04, 0x05, 0x06))
        let lpe = rig.send([M.setLPE, 9022])
        #expect(lpe[0] == M.setLPE | M.ack | M.cts && rig.vf.pfView.maxFrame == 9022)
        #expect(rig.send([M.apiNegotiate, 4, 0])[0] == M.apiNegotiate | M.nack | M.cts)
    }

    @Test func adminMACCannotBeChangedEvenToItself() {
        let rig = Rig(.igb82576)
        rig.resetHandshake()
        let same = PFMailboxResponder.words(of: Rig.mac)
        #expect(rig.send([M.setMACAddress, same.0, same.1])[0] == M.setMACAddress | M.nack | M.cts)
    }

    @Test func promiscuousIsMulticastOnlyAndManyGroupsTurnItOn() {
        let rig = Rig(.igb82576)
        rig.resetHandshake()
        #expect(rig.send([M.igbSetPromisc | 0x01 << 16])[0] == M.igbSetPromisc | 0x01 << 16 | M.nack | M.cts)
        #expect(rig.send([M.igbSetPromisc | 0x02 << 16])[0] == M.igbSetPromisc | 0x02 << 16 | M.ack | M.cts)
        #expect(rig.vf.pfView.multicastPromiscuous)
        #expect(rig.send([M.igbSetPromisc])[0] & M.ack != 0 && !rig.vf.pfView.multicastPromiscuous)
        #expect(rig.send([M.setMulticast | 31 << 16] + Array(repeating: 0x0001_0002, count: 15))[0] & M.ack != 0)
        #expect(rig.vf.pfView.multicastPromiscuous && rig.vf.pfView.multicastHashes.count == 30)
    }

    @Test func notClearToSendGetsOneNACKPerTwoSecondsThenSilence() {
        let rig = Rig(.igb82576)
        // Power-on: no VF reset yet; the PF's last NACK time is 0, engine time 0.
        rig.engine.advance(microseconds: 2_100_000)
        #expect(rig.send([M.setLPE, 1522])[0] == M.setLPE | M.nack)
        let m = rig.bar.read(rig.regs.mailbox)
        #expect(m & MailboxBits.pfsts != 0)
        _ = rig.control.read(rig.regs.mailbox)  // the VF's read consumes PFSTS and PFACK
        rig.send([M.setLPE, 1522])
        // Silence: PFACK (the PF read it) but no message.
        let m2 = rig.bar.read(rig.regs.mailbox)
        #expect(m2 & MailboxBits.pfack != 0 && m2 & MailboxBits.pfsts == 0)
        #expect(rig.vf.mailboxLog.last?.reply == [])
        // After a VF reset only RESET gets an answer.
        rig.control.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        rig.engine.advance(microseconds: 2_100_000)
        rig.send([M.setLPE, 1522])
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
    }
}
