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
        rig.control.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        // RST reads back until the model took the reset, then clears itself.
        #expect(rig.control.read(rig.regs.ctrl) == RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.control.read(rig.regs.ctrl) == 0)
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
        // RSTD stays through steps and VF writes (read only to the VF) until a VF read.
        rig.engine.step()
        rig.control.write(rig.regs.mailbox, MailboxBits.vfu)
        rig.control.write(rig.regs.mailbox, 0)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rstd != 0)
        #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.rstd != 0)
        #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.rstd == 0)
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rstd == 0)
    }

    /// RSTI is a read-only level: neither a VF write of the control register (lock, ACK, a
    /// whole word of 0) nor a VF read clears it while the PF reset lasts.
    @Test(arguments: SimulatedFamily.allCases)
    func rstiStaysRaisedThroughVFWritesForTheWholePFReset(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        rig.vf.inject(.pfReset(microseconds: 1000))
        rig.engine.step()
        for value in [MailboxBits.vfu, MailboxBits.ack, 0] {
            rig.control.write(rig.regs.mailbox, value)
            rig.vf.delay(microseconds: 100)
            #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.rsti != 0, "RSTI lost after writing \(value)")
        }
        rig.vf.delay(microseconds: 1000)
        let m = rig.bar.read(rig.regs.mailbox)
        #expect(m & MailboxBits.rsti == 0 && m & MailboxBits.rstd != 0)
    }

    /// A VF reset while the PF resets: the driver's wait loop reads RSTI until it drops, then
    /// reads RSTD once (which clears it) and goes on.
    @Test func vfResetDuringPFResetWaitsForRSTIThenConsumesRSTD() {
        let rig = Rig(.ixgbe82599)
        rig.resetHandshake()
        rig.vf.inject(.pfReset(microseconds: 100))
        rig.engine.step()
        rig.control.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.rsti != 0)
        // The driver's wait loop: 200 × 5 µs while RSTI or RSTD.
        var tries = 0, sawRSTD = false
        while tries < 200 {
            let m = rig.control.read(rig.regs.mailbox)
            if m & MailboxBits.rstd != 0 { sawRSTD = true }
            if m & (MailboxBits.rsti | MailboxBits.rstd) == 0 { break }
            rig.vf.delay(microseconds: 5)
            tries += 1
        }
        #expect(sawRSTD && tries > 0 && tries < 200)
        #expect(rig.resetHandshake()[0] == 0x8000_0001)
    }

    @Test func clearToSendLossSendsControlMessageWithoutCTS() {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        // The VF read the last reply's status (the PF sends no message over an unread one).
        _ = rig.control.read(rig.regs.mailbox)
        rig.vf.inject(.clearToSendLoss)
        rig.engine.step()
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        #expect(rig.mailboxWords()[0] == M.pfControl)
        // The VF ACKs it while not clear to send: the PF answers with a bare NACK.
        rig.control.write(rig.regs.mailbox, MailboxBits.ack)
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
        // Control accesses go nowhere: the mailbox keeps reading all ones.
        rig.control.write(rig.regs.mailbox, MailboxBits.vfu)
        #expect(rig.control.read(rig.regs.mailbox) == 0xFFFF_FFFF)
        #expect(rig.control.read(rig.regs.mailbox) == 0xFFFF_FFFF)
        #expect(try rig.vf.readConfig32(at: 0) == 0xFFFF_FFFF)
    }
}
