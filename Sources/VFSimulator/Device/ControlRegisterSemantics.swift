import PMDCore
import Synchronization

/// The control registers of a simulated VF as silicon treats the VF's accesses to them, applied
/// at the moment of each access (the rest of BAR0 is plain memory that the model polls):
///
/// - Mailbox control (VFMAILBOX / V2PMAILBOX): a read returns the register and clears PFSTS,
///   PFACK and RSTD (read-to-clear); a write acts only on the VF's bits: REQ and ACK are
///   commands that stay raised until the PF side took them, VFU is a level that a write sets
///   or drops; PFU, PFSTS, PFACK, RSTI and RSTD are read only to the VF and keep their values
///   (silicon sets VFU only while PFU is clear; this PF answers within one step of the model
///   and never holds PFU) (82599 datasheet §7.10 and §8.3 VFMailbox; 82576 datasheet §7.10
///   and §8.26 V2PMAILBOX; ixgbevf.md §4.1, igbvf.md §4.1).
/// - Control (VFCTRL / CTRL): only RST acts; it reads back until the reset took effect, then
///   clears itself (82599 datasheet §8.2.3.1.1, §8.3 VFCTRL; igbvf.md §3.1).
/// - Interrupt cause and mask (VTEICR/VTEICS/VTEIMS/VTEIMC on the 82599, EICR/EICS/EIMS/EIMC
///   on the 82576): the cause register clears on read and a written 1 clears its bit; EICS
///   sets cause bits; EIMS sets and EIMC clears mask bits and EIMS reads the mask; EICS and
///   EIMC are write only and read 0 (82599 datasheet §7.3.4 and §8.3 interrupt registers;
///   82576 datasheet §7.3 and §8.8; ixgbevf.md §3.2, igbvf.md §3.1). Causes are the three
///   MSI-X vectors, bits 2:0. An EICS write, and an EIMS write that unmasks a vector whose
///   cause is set, are cause events the model's MSI-X delivery takes (`interruptEvents`).
/// - Status, link and statistics (VFSTATUS, VFLINKS, VFGPRC…VFMPRC with the 36-bit
///   VFGORC/VFGOTC LSB/MSB pairs; igb STATUS and its 32-bit counters): read only, a write is
///   ignored; the counters wrap at their width (`StatisticsRegisters`) and are not cleared by
///   a read (82599 datasheet §8.3 VF statistics; 82576 datasheet §8.26; ixgbevf.md §3.6,
///   igbvf.md §3.4).
///
/// Every change is one compare-and-swap on the register's word, so an access of the VF and a
/// change the model makes in the engine's thread never lose each other. After a surprise
/// removal every read returns all ones and writes go nowhere.
final class ControlRegisterSemantics: ControlRegisterModel, @unchecked Sendable {
    // @unchecked: the register file is shared memory accessed only with atomic 32-bit
    // operations; `removed` is atomic.

    private let registers: RegisterFile
    private let map: RegisterMap
    /// Registers a VF write does not change.
    private let readOnly: Set<Int>
    /// The device is gone: reads return all ones.
    let removed = Atomic<Bool>(false)
    /// Vectors with a cause event (bit v: vector v) the engine has not taken yet: set by the
    /// model's causes and by the VF's EICS and EIMS writes, taken by `MSIXDelivery`.
    let interruptEvents = Atomic<UInt32>(0)

    /// Interrupt causes and mask bits: one per MSI-X vector, 0…2 (ixgbevf.md §2, igbvf.md §3.1).
    static let interruptVectorBits: UInt32 = 0x7
    /// Mailbox bits a VF write cannot change: PFU, PFSTS, PFACK, RSTI, RSTD.
    static let mailboxHardwareBits: UInt32 = MailboxBits.pfu | MailboxBits.readToClear | MailboxBits.rsti
    /// Mailbox commands: raised by a write, dropped by the PF side when it takes them.
    static let mailboxCommands: UInt32 = MailboxBits.req | MailboxBits.ack
    /// Mailbox bits a VF write sets: the commands and the VFU level.
    static let mailboxVFBits: UInt32 = mailboxCommands | MailboxBits.vfu

    init(registers: RegisterFile, map: RegisterMap) {
        self.registers = registers
        self.map = map
        readOnly = Set([map.status, map.links, map.gprc, map.gptc, map.gorc, map.gotc, map.gorcMSB, map.gotcMSB,
                        map.mprc].compactMap { $0 })
    }

    /// A VF read of the register at `offset`.
    func read(_ offset: Int) -> UInt32 {
        if removed.load(ordering: .acquiring) { return VFRegisterValues.removed }
        switch offset {
        case map.mailbox: return registers.update(offset) { $0 & ~MailboxBits.readToClear }
        case map.eicr: return registers.update(offset) { _ in 0 }
        case map.eics, map.eimc: return 0
        default: return registers.read(offset)
        }
    }

    /// A VF write of `value` to the register at `offset`.
    func write(_ offset: Int, _ value: UInt32) {
        if removed.load(ordering: .acquiring) || readOnly.contains(offset) { return }
        switch offset {
        case map.mailbox:
            registers.update(offset) { old in
                old & (Self.mailboxHardwareBits | Self.mailboxCommands) | value & Self.mailboxVFBits
            }
        case map.ctrl:
            if value & RegisterMap.ctrlReset != 0 { registers.setBits(offset, RegisterMap.ctrlReset) }
        case map.eicr: registers.clearBits(offset, value)
        case map.eics:
            registers.setBits(map.eicr, value & Self.interruptVectorBits)
            interruptEvents.bitwiseOr(value & Self.interruptVectorBits, ordering: .releasing)
        case map.eims:
            let bits = value & Self.interruptVectorBits
            let unmasked = bits & ~registers.update(offset) { $0 | bits }
            let pending = unmasked & registers.read(map.eicr)
            if pending != 0 { interruptEvents.bitwiseOr(pending, ordering: .releasing) }
        case map.eimc: registers.clearBits(map.eims, value & Self.interruptVectorBits)
        default: registers.write(offset, value)
        }
    }
}

/// Values a VF read returns regardless of the register.
enum VFRegisterValues {
    /// A removed device: every read completes with all ones (PCIe unsupported request).
    static let removed: UInt32 = 0xFFFF_FFFF
}
