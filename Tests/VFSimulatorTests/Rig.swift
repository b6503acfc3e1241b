import PMDCore
@testable import VFSimulator

/// One stepped engine, one container and one VF, with functions that speak to the model the way a
/// driver would: control registers through the VF's `controlRegisters` (their silicon semantics
/// apply), the rest of BAR0 and mailbox words as raw accesses. `bar.read` of a control register
/// looks at it without the side effects of a VF read.
final class Rig {
    let container: SimulatedContainer
    let engine: SimulationEngine
    let vf: SimulatedVF
    var regs: RegisterMap { vf.family.registers }
    var bar: RegisterWindow { vf.bar0 }
    var control: ControlRegisters { vf.controlRegisters }

    init(_ family: SimulatedFamily, settings: PFSettings = PFSettings(mac: Rig.mac)) {
        container = SimulatedContainer()
        engine = SimulationEngine(mode: .stepped)
        vf = SimulatedVF(family: family, container: container, engine: engine, settings: settings)
    }

    /// A VF of `family` on a threaded engine of its own (not started yet).
    convenience init(threaded family: SimulatedFamily) {
        self.init(wrapping: SimulatedVF(family: family, container: SimulatedContainer(),
                                        engine: SimulationEngine(mode: .threaded), settings: PFSettings(mac: Rig.mac)))
    }

    /// The same functions for a VF made elsewhere.
    init(wrapping vf: SimulatedVF) {
        self.vf = vf
        container = vf.container
        engine = vf.engine
    }

    /// Lets the device act: one step (stepped engine), or (threaded engine) waits as a driver
    /// does, up to 1 s, until `done` holds.
    func settle(until done: () -> Bool = { true }) {
        if engine.mode == .stepped {
            engine.step()
            return
        }
        for _ in 0..<2000 {
            vf.delay(microseconds: 500)
            if done() { return }
        }
    }

    static let mac = MACAddress(0x02, 0x11, 0x22, 0x33, 0x44, 0x55)

    /// Takes the buffer (VFU, then a read of the control register, which also clears stale
    /// PF bits), writes `words` to the mailbox memory, raises REQ, runs one step; returns the 16
    /// words the VF would read back. The PF's PFACK/PFSTS stay for the caller to read.
    @discardableResult
    func send(_ words: [UInt32]) -> [UInt32] {
        control.write(regs.mailbox, MailboxBits.vfu)
        _ = control.read(regs.mailbox)
        for (i, w) in words.enumerated() { bar.write(regs.mailboxMemory + 4 * i, w) }
        control.write(regs.mailbox, MailboxBits.req)
        settle { bar.read(regs.mailbox) & MailboxBits.pfack != 0 }
        return mailboxWords()
    }

    func mailboxWords() -> [UInt32] { (0..<16).map { bar.read(regs.mailboxMemory + 4 * $0) } }

    /// VF reset through the control register, then RESET.
    @discardableResult
    func resetHandshake() -> [UInt32] {
        control.write(regs.ctrl, RegisterMap.ctrlReset)
        settle { bar.read(regs.ctrl) == 0 }
        let reply = send([PFMailboxMessage.reset])
        control.write(regs.mailbox, MailboxBits.ack)
        settle()
        return reply
    }

    /// Reset, then negotiate `api` (ixgbe).
    func bringUp(api: PFMailboxAPI = .v1_3) {
        resetHandshake()
        send([PFMailboxMessage.apiNegotiate, api.rawValue, 0])
        control.write(regs.mailbox, MailboxBits.ack)
        settle()
    }
}
