import PMDCore
@testable import VFSimulator

/// One stepped engine, one container and one VF, with functions that speak to the model the way a
/// driver would: raw register accesses and mailbox words.
final class Rig {
    let container: SimulatedContainer
    let engine: SimulationEngine
    let vf: SimulatedVF
    var regs: RegisterMap { vf.family.registers }
    var bar: RegisterWindow { vf.bar0 }

    init(_ family: SimulatedFamily, settings: PFSettings = PFSettings(mac: Rig.mac)) {
        container = SimulatedContainer()
        engine = SimulationEngine(mode: .stepped)
        vf = SimulatedVF(family: family, container: container, engine: engine, settings: settings)
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

    /// Writes `words` to the mailbox memory, raises REQ, runs one step; returns the 16 words the
    /// VF would read back.
    @discardableResult
    func send(_ words: [UInt32]) -> [UInt32] {
        bar.write(regs.mailbox, MailboxBits.vfu)
        for (i, w) in words.enumerated() { bar.write(regs.mailboxMemory + 4 * i, w) }
        bar.write(regs.mailbox, MailboxBits.req)
        settle { bar.read(regs.mailbox) & MailboxBits.pfack != 0 }
        return mailboxWords()
    }

    func mailboxWords() -> [UInt32] { (0..<16).map { bar.read(regs.mailboxMemory + 4 * $0) } }

    /// VF reset through the control register, then RESET.
    @discardableResult
    func resetHandshake() -> [UInt32] {
        bar.write(regs.ctrl, RegisterMap.ctrlReset)
        settle { bar.read(regs.ctrl) == 0 }
        let reply = send([PFMailboxMessage.reset])
        bar.write(regs.mailbox, MailboxBits.ack)
        settle()
        return reply
    }

    /// Reset, then negotiate `api` (ixgbe).
    func bringUp(api: PFMailboxAPI = .v1_3) {
        resetHandshake()
        send([PFMailboxMessage.apiNegotiate, api.rawValue, 0])
        bar.write(regs.mailbox, MailboxBits.ack)
        settle()
    }
}
