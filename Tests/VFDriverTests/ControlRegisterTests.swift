import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// The driver's control path against registers with their silicon semantics (read-to-clear
/// mailbox bits, read-only bits, self-clearing reset, interrupt cause and mask set/clear).
struct ControlRegisterTests {
    /// Bring-up masks every interrupt and reads the causes away; the VF reset it asked for
    /// happened once and its RST bit cleared itself; every PF reply was read (no PFSTS or
    /// PFACK left) and the mailbox lock was given back.
    @Test(arguments: allFamilies)
    func bringUpLeavesInterruptsMaskedAndTheMailboxIdle(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let r = family.registers
        setup.vf.controlRegisters.write(r.eims, 0x7)
        setup.vf.controlRegisters.write(r.eics, 0x7)
        #expect(setup.vf.bar0.read(r.eims) == 0x7 && setup.vf.bar0.read(r.eicr) == 0x7)
        let port = try setup.open()
        #expect(setup.vf.bar0.read(r.eims) == 0)
        #expect(setup.vf.bar0.read(r.eicr) == 0)
        #expect(setup.vf.bar0.read(r.ctrl) == 0)
        #expect(setup.vf.counters.vfResets == 1)
        #expect(setup.vf.bar0.read(r.mailbox) == 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    /// A PF message (a ping without clear-to-send) whose PFSTS the driver's next mailbox lock
    /// read clears is still seen: the shadow keeps it, and the port re-initialises.
    @Test(arguments: allFamilies)
    func aPFMessageConsumedByALockReadIsNotLost(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        setup.vf.inject(.clearToSendLoss)
        setup.advance(10)
        #expect(setup.vf.bar0.read(family.registers.mailbox) & MailboxBits.pfsts != 0)
        // A request: its lock read takes PFSTS from the register; the ping is answered by
        // the reply wait, which notes the lost clear-to-send.
        _ = try? port.setMTU(1400)
        #expect(setup.vf.bar0.read(family.registers.mailbox) & MailboxBits.pfsts == 0)
        port.updateStats()
        #expect(port.stats.resets == 1)
        #expect(setup.vf.pfView.clearToSend)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    /// A PF reset that ends while the driver's reset waits for it: the driver reads RSTI until
    /// it drops, then RSTD once — the read clears it, so the wait ends and the recovery finishes
    /// at the first try. (A driver whose reads left RSTD set would wait until its tries ran out.)
    @Test(arguments: allFamilies)
    func recoveryReadsRSTDAwayAndFinishesAtOnce(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        // It ends after the VF reset took effect (which would clear RSTD) and inside the wait:
        // the recovery stops the queues twice (2 ms each) and on ixgbe lets the reset settle
        // (50 ms) before it waits, 10 000 × 5 µs on ixgbe, 200 × 5 µs on igb.
        setup.vf.inject(.pfReset(microseconds: family.isIxgbe ? 60_000 : 4600))
        setup.advance(10)
        port.updateStats()
        #expect(port.stats.resets == 1)
        #expect(setup.vf.counters.vfResets == 2)
        #expect(setup.vf.bar0.read(family.registers.mailbox) & (MailboxBits.rsti | MailboxBits.rstd) == 0)
        #expect(setup.vf.pfView.clearToSend)
        port.updateStats()
        #expect(port.link.isUp)
        setup.inject([udpFrame(to: assignedMAC, length: 80, sequence: 7)])
        #expect(setup.receive(port, count: 1).map(sequenceNumber) == [7])
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }
}
