import PMDCore
import Testing
@testable import VFSimulator

/// VF reset, PF reset and clear-to-send: what the driver's reset handshake and link check see.
struct ResetTests {
    typealias M = PFMailboxMessage

    @Test(arguments: SimulatedFamily.allCases)
    func vfResetClearsControlBitAndCTSAndQueues(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        #expect(rig.vf.pfView.clearToSend)
        rig.bar.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.ctrl) == 0)
        #expect(!rig.vf.pfView.clearToSend)
        #expect(rig.vf.counters.vfResets == 2)
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rsti == 0)
    }

    @Test func functionLevelResetActsAtOnce() throws {
        let rig = Rig(.ixgbeX550)
        rig.resetHandshake()
        try rig.vf.reset()
        #expect(!rig.vf.pfView.clearToSend && rig.vf.counters.vfResets == 2)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func pfResetRaisesRSTIThenRSTD(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        rig.vf.inject(.pfReset(microseconds: 100))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rsti != 0)
        #expect(!rig.vf.pfView.clearToSend)
        // While resetting, requests are NACKed without CTS (ixgbe) or left unanswered / NACKed (igb).
        rig.vf.delay(microseconds: 200)
        let m = rig.bar.read(rig.regs.mailbox)
        #expect(m & MailboxBits.rsti == 0 && m & MailboxBits.rstd != 0)
        // RSTD stays until the VF's next mailbox write.
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rstd != 0)
        rig.bar.write(rig.regs.mailbox, MailboxBits.vfu)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rstd == 0)
    }

    /// RSTI is a read-only level: a VF write of the control register (lock, ACK) does not clear
    /// it while the PF reset lasts.
    @Test(arguments: SimulatedFamily.allCases)
    func rstiStaysRaisedThroughVFWritesForTheWholePFReset(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        rig.vf.inject(.pfReset(microseconds: 1000))
        rig.engine.step()
        for value in [MailboxBits.vfu, MailboxBits.ack, 0] {
            rig.bar.write(rig.regs.mailbox, value)
            rig.vf.delay(microseconds: 100)
            #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rsti != 0, "RSTI lost after writing \(value)")
        }
        rig.vf.delay(microseconds: 1000)
        let m = rig.bar.read(rig.regs.mailbox)
        #expect(m & MailboxBits.rsti == 0 && m & MailboxBits.rstd != 0)
    }

    @Test func vfResetDuringPFResetSeesRSTIDropWithoutStickyRSTD() {
        let rig = Rig(.ixgbe82599)
        rig.resetHandshake()
        rig.vf.inject(.pfReset(microseconds: 100))
        rig.engine.step()
        rig.bar.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rsti != 0)
        // The driver's wait loop: 200 × 5 µs while RSTI or RSTD.
        var tries = 0
        while rig.bar.read(rig.regs.mailbox) & (MailboxBits.rsti | MailboxBits.rstd) != 0 && tries < 200 {
            rig.vf.delay(microseconds: 5)
            tries += 1
        }
        #expect(tries > 0 && tries < 200)
        #expect(rig.resetHandshake()[0] == 0x8000_0001)
    }

    @Test func clearToSendLossSendsControlMessageWithoutCTS() {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        rig.vf.inject(.clearToSendLoss)
        rig.engine.step()
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        #expect(rig.mailboxWords()[0] == M.pfControl)
        // The VF ACKs it while not clear to send: the PF answers with a bare NACK.
        rig.bar.write(rig.regs.mailbox, MailboxBits.ack)
        rig.engine.step()
        #expect(rig.mailboxWords()[0] == M.nack)
        #expect(rig.send([M.getQueues, 0, 0, 0, 0])[0] == M.getQueues | M.nack)
    }

    @Test func mailboxSilenceAndChosenNACKs() {
        let rig = Rig(.ixgbeX550)
        rig.bringUp()
        rig.vf.inject(.mailboxSilence(true))
        rig.engine.step()
        rig.send([M.getQueues, 0, 0, 0, 0])
        #expect(rig.bar.read(rig.regs.mailbox) & (MailboxBits.pfack | MailboxBits.pfsts) == 0)
        rig.vf.inject(.mailboxSilence(false))
        rig.vf.inject(.nackMessages([M.getQueues]))
        rig.engine.step()
        #expect(rig.send([M.getQueues, 0, 0, 0, 0])[0] == M.getQueues | M.nack | M.cts)
        #expect(rig.send([M.setLPE, 1518])[0] == M.setLPE | M.ack | M.cts)
        rig.vf.inject(.nackMessages([M.reset]))
        rig.engine.step()
        #expect(rig.resetHandshake()[0] == 0x4000_0001)
    }

    @Test func surpriseRemovalReadsAllOnes() throws {
        let rig = Rig(.igb82576)
        rig.resetHandshake()
        rig.vf.inject(.surpriseRemoval)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.status) == 0xFFFF_FFFF)
        #expect(rig.bar.read(rig.regs.mailbox) == 0xFFFF_FFFF)
        rig.bar.write(rig.regs.ctrl, 0)
        rig.vf.delay(microseconds: 10)
        #expect(rig.bar.read(rig.regs.ctrl) == 0xFFFF_FFFF)
        #expect(try rig.vf.readConfig32(at: 0) == 0xFFFF_FFFF)
    }
}
