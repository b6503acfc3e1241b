import PMDCore
import Testing
@testable import VFSimulator

/// The control registers as silicon treats the VF's accesses: each semantic, and the old
/// whole-word mailbox write that the model now ignores as the hardware does.
struct ControlRegisterSemanticsTests {
    typealias M = PFMailboxMessage

    /// PFSTS and PFACK survive steps and VF writes; the VF's first read returns them and clears
    /// them; a driver that looked once (its lock check) and then waits for PFSTS never sees it.
    @Test(arguments: SimulatedFamily.allCases)
    func mailboxStatusBitsClearOnTheVFsReadAndOnlyThere(family: SimulatedFamily) {
        let rig = Rig(family)
        let reply = rig.send([M.reset])
        #expect(reply[0] & M.typeMask == M.reset && reply[0] & M.ack != 0)
        let answered = MailboxBits.pfack | MailboxBits.pfsts
        #expect(rig.bar.read(rig.regs.mailbox) == answered)
        rig.engine.step()
        rig.control.write(rig.regs.mailbox, 0)
        rig.control.write(rig.regs.mailbox, MailboxBits.vfu)
        #expect(rig.bar.read(rig.regs.mailbox) == answered | MailboxBits.vfu)
        #expect(rig.control.read(rig.regs.mailbox) == answered | MailboxBits.vfu)
        #expect(rig.control.read(rig.regs.mailbox) == MailboxBits.vfu)
        // ACK alone: a command the PF side takes at its next step; it drops VFU.
        rig.control.write(rig.regs.mailbox, MailboxBits.ack)
        #expect(rig.bar.read(rig.regs.mailbox) == MailboxBits.ack)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.mailbox) & MailboxBits.ack == 0)
        // The next request's reply, looked at once, is gone for a second look.
        rig.send([M.setLPE, 1518])
        #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        for _ in 0..<5 {
            rig.vf.delay(microseconds: 500)
            #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.pfsts == 0)
        }
    }

    /// The old driver dropped stale PF status with a whole-word write of the control register
    /// (VFU alone, to lock) and looked for PFSTS without reading it away first. Silicon ignores
    /// the write to the read-only bits, and so does the model now: the stale PFSTS of the last
    /// reply answers at once and the words taken as the reply are the request itself, with
    /// neither ACK nor NACK. Reading the register (what the driver does) clears them first.
    @Test(arguments: SimulatedFamily.allCases)
    func wholeWordWriteNoLongerClearsStalePFStatus(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        let stale = MailboxBits.pfack | MailboxBits.pfsts
        #expect(rig.bar.read(rig.regs.mailbox) & stale == stale)
        rig.control.write(rig.regs.mailbox, MailboxBits.vfu)
        #expect(rig.bar.read(rig.regs.mailbox) == stale | MailboxBits.vfu)
        rig.bar.write(rig.regs.mailboxMemory, M.setLPE)
        rig.bar.write(rig.regs.mailboxMemory + 4, 1518)
        rig.control.write(rig.regs.mailbox, MailboxBits.req)
        // Before the PF ran: the stale status says "replied", and the reply is the request.
        #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        let taken = rig.mailboxWords()[0]
        #expect(taken == M.setLPE && taken & (M.ack | M.nack) == 0)
        // The PF's real reply comes at its step, for a read to see.
        rig.engine.step()
        #expect(rig.control.read(rig.regs.mailbox) & MailboxBits.pfsts != 0)
        #expect(rig.mailboxWords()[0] == M.setLPE | M.ack | M.cts)
    }

    /// CTRL/VFCTRL: only RST acts; it reads back until the reset is done, then clears itself.
    @Test(arguments: SimulatedFamily.allCases)
    func controlRegisterActsOnlyOnResetWhichClearsItself(family: SimulatedFamily) {
        let rig = Rig(family)
        rig.resetHandshake()
        let resets = rig.vf.counters.vfResets
        rig.control.write(rig.regs.ctrl, ~RegisterMap.ctrlReset)
        #expect(rig.control.read(rig.regs.ctrl) == 0)
        rig.engine.step()
        #expect(rig.vf.counters.vfResets == resets && rig.vf.pfView.clearToSend)
        rig.control.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        #expect(rig.control.read(rig.regs.ctrl) == RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.control.read(rig.regs.ctrl) == 0)
        #expect(rig.vf.counters.vfResets == resets + 1 && !rig.vf.pfView.clearToSend)
    }

    /// Cause, cause set, mask set and mask clear, on the three vectors.
    @Test(arguments: SimulatedFamily.allCases)
    func interruptCauseAndMaskRegisters(family: SimulatedFamily) {
        let rig = Rig(family)
        let r = rig.regs, c = rig.control
        #expect(c.read(r.eicr) == 0)
        c.write(r.eics, 0xFFFF_FFFF)
        #expect(rig.bar.read(r.eicr) == 0x7)
        c.write(r.eicr, 0x2)  // a written 1 clears its cause
        #expect(c.read(r.eicr) == 0x5)
        #expect(c.read(r.eicr) == 0)  // the read cleared the rest
        c.write(r.eims, 0x5)
        c.write(r.eims, 0x2)
        #expect(c.read(r.eims) == 0x7)
        c.write(r.eimc, 0x1)
        #expect(c.read(r.eims) == 0x6)
        #expect(c.read(r.eimc) == 0 && c.read(r.eics) == 0)  // write only
        c.write(r.eimc, 0xFFFF_FFFF)
        #expect(c.read(r.eims) == 0)
    }

    /// Status, link and statistics are read only to the VF, and a read does not clear a counter.
    @Test(arguments: SimulatedFamily.allCases)
    func statusLinkAndStatisticsIgnoreVFWrites(family: SimulatedFamily) {
        let rig = Rig(family)
        let r = rig.regs
        let octetWidth: UInt64 = family.isIxgbe ? 36 : 32
        rig.vf.presetStatistic(.rxPackets, to: 7)
        rig.vf.presetStatistic(.rxOctets, to: (1 << octetWidth) - 1)
        rig.engine.step()
        let offsets = [r.status, r.links, r.gprc, r.gptc, r.gorc, r.gotc, r.gorcMSB, r.gotcMSB, r.mprc].compactMap { $0 }
        let before = offsets.map { rig.control.read($0) }
        for offset in offsets { rig.control.write(offset, 0x5A5A_5A5A) }
        #expect(offsets.map { rig.bar.read($0) } == before)
        #expect(offsets.map { rig.control.read($0) } == before)
        #expect(rig.control.read(r.gprc) == 7 && rig.control.read(r.gorc) == 0xFFFF_FFFF)
        if let msb = r.gorcMSB { #expect(rig.control.read(msb) == 0xF) }
    }
}
