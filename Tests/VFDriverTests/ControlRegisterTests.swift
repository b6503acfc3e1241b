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
}
