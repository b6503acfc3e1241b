import PMDCore
@testable import VFSimulator

/// One stepped engine, one container and one VF, with helpers that speak to the model the way a
/// driver would: raw register accesses and mailbox words.
final class Rig {
    let container = SimulatedContainer()
    let engine = SimulationEngine(mode: .stepped)
    let vf: SimulatedVF
    var regs: RegisterMap { vf.family.registers }
    var bar: RegisterWindow { vf.bar0 }

    init(_ family: SimulatedFamily, settings: PFSettings = PFSettings(mac: Rig.mac)) {
        vf = SimulatedVF(family: family, container: container, engine: engine, settings: settings)
    }

    static let mac = MACAddress(0x02, 0x11, 0x22, 0x33, 0x44, 0x55)

    /// Writes `words` to the mailbox memory, raises REQ, runs one step; returns the 16 words the
    /// VF would read back.
    @discardableResult
    func send(_ words: [UInt32]) -> [UInt32] {
        bar.write(regs.mailbox, MailboxBits.vfu)
        for (i, w) in words.enumerated() { bar.write(regs.mailboxMemory + 4 * i, w) }
        bar.write(regs.mailbox, MailboxBits.req)
        engine.step()
        return mailboxWords()
    }

    func mailboxWords() -> [UInt32] { (0..<16).map { bar.read(regs.mailboxMemory + 4 * $0) } }

    /// VF reset through the control register, then RESET.
    @discardableResult
    func resetHandshake() -> [UInt32] {
        bar.write(regs.ctrl, RegisterMap.ctrlReset)
        engine.step()
        let reply = send([MailboxMessage.reset])
        bar.write(regs.mailbox, MailboxBits.ack)
        engine.step()
        return reply
    }

    /// Reset, then negotiate `api` (ixgbe).
    func bringUp(api: MailboxAPI = .v1_3) {
        resetHandshake()
        send([MailboxMessage.apiNegotiate, api.rawValue, 0])
        bar.write(regs.mailbox, MailboxBits.ack)
        engine.step()
    }
}
