/// Offsets, bits and reset values of one family's VF register window (BAR0): the simulator's
/// register tables, from which the engines take every register fact they use.
///
/// Sources, per block (the VF registers carry the fields of the PF registers they are copies of):
/// - 82599 / X550 VF (ixgbevf.md §3): VFCTRL, VFSTATUS, VFLINKS as the PF's CTRL, STATUS and
///   LINKS (82599 datasheet §8.2.3.1.1, §8.2.3.1.2, §8.2.3.22.20; X550 datasheet, VFLINKS, for
///   the 2.5G/5G encodings); RX queue block as RDBAL, RDBAH, RDLEN, RDH, RDT, RXDCTL, SRRCTL
///   (82599 datasheet §8.2.3.8.1–§8.2.3.8.7) and DCA_RXCTRL (§8.2.3.11.1); TX queue block as
///   TDBAL, TDBAH, TDLEN, TDH, TDT, TXDCTL, TDWBAL/TDWBAH (§8.2.3.9.5–§8.2.3.9.11) and DCA_TXCTRL
///   (§8.2.3.11.2); ring layout in §7.1.9 (RX) and §7.2.3.3 (TX); the VF statistics, mailbox
///   (VFMAILBOX, VFMBMEM; the PF/VF mailbox of the virtualization chapter, §7.10), VFPSRTYPE
///   and, X550 only, VFMRQC / VFRSSRK / VFRETA (X550 datasheet, VF registers; RSS in 82599
///   datasheet §7.1.2.8).
/// - 82576 VF (igbvf.md §3): the same registers at the igb offsets (82576 datasheet, chapter 8
///   register descriptions; VF queues mapped onto PF queues, §8.26.1), V2PMAILBOX and VMBMEM (the
///   PF/VF mailbox, 82576 datasheet §7.10).
public struct RegisterMap: Sendable {
    /// Control register (reset bit 26).
    public let ctrl: Int
    /// Status register (flush reads; igb link).
    public let status: Int
    /// ixgbe VFLINKS; nil on igb (link is in STATUS).
    public let links: Int?
    /// Mailbox control (VFMAILBOX / V2PMAILBOX).
    public let mailbox: Int
    /// First of 16 mailbox memory words.
    public let mailboxMemory: Int
    /// Interrupt cause read (clear on read), cause set, mask set (reads the mask) and mask clear
    /// (VTEICR/VTEICS/VTEIMS/VTEIMC, EICR/EICS/EIMS/EIMC; ixgbevf.md §3.2, igbvf.md §3.1).
    public let eicr: Int, eics: Int, eims: Int, eimc: Int
    /// Auto-clear and auto-mask enables, one bit per vector (VTEIAC/VTEIAM, EIAC/EIAM;
    /// ixgbevf.md §3.2, igbvf.md §3.1).
    public let eiac: Int, eiam: Int
    /// First queue-to-vector map register (VTIVAR(0), IVAR0) and the mailbox cause's map
    /// (VTIVAR_MISC, IVAR_MISC) (ixgbevf.md §3.2 and §3.7, igbvf.md §3.1).
    public let ivar: Int, ivarMisc: Int
    /// First throttling register (VTEITR(0), EITR(0)), one per vector, 4 bytes apart.
    public let eitr: Int
    /// Where the throttling interval sits in EITR and its unit (ns per step): ixgbe bits 11:3
    /// in 2.048 µs at a 1 or 10 Gb/s link (82599 datasheet §7.3.2 and §8.2.3.5, EITR; the
    /// 20.48 µs unit of a 100 Mb/s link is not modelled), igb bits 14:2 in 1 µs (82576
    /// datasheet §7.3.2 and §8.8, EITR).
    public let itrShift: UInt32, itrMask: UInt32, itrUnitNanoseconds: UInt64
    /// First RX queue block and stride.
    public let rxBase: Int, rxStride: Int
    /// First TX queue block and stride.
    public let txBase: Int, txStride: Int
    /// Offset of SRRCTL and of the RX DCA control inside an RX block.
    public let srrctl: Int, rxDCA: Int
    /// Offset of the TX DCA control inside a TX block.
    public let txDCA: Int
    /// SRRCTL drop-enable bit.
    public let srrctlDropEnable: UInt32
    /// Queues the VF window has.
    public let maxQueues: Int
    /// Statistics: good packets received/transmitted, octets (LSB), octet MSB (36-bit families),
    /// multicast received.
    public let gprc: Int, gptc: Int, gorc: Int, gotc: Int, gorcMSB: Int?, gotcMSB: Int?, mprc: Int
    /// X550 RSS registers (VFMRQC, VFRSSRK(0), VFRETA(0)); present in the ixgbe window.
    public let mrqc: Int, rssKey: Int, reta: Int
    /// ixgbe VFPSRTYPE.
    public let psrtype: Int

    // MARK: Queue blocks (82599 datasheet §8.2.3.8, §8.2.3.9; 82576 datasheet, chapter 8)

    /// Offsets inside a queue block, identical in both families.
    public static let ringBaseLow = 0x00, ringBaseHigh = 0x04, ringLength = 0x08
    /// Head, tail and queue control.
    public static let head = 0x10, tail = 0x18, queueControl = 0x28
    /// TX head write-back address (low, high).
    public static let txHeadWriteBackLow = 0x38, txHeadWriteBackHigh = 0x3C
    /// Bytes per descriptor, RX and TX, both families: ring length = count × 16.
    public static let descriptorSize = 16
    /// Ring base and ring length granularity: RDLEN/TDLEN must be a non-zero multiple of 128
    /// bytes (82599 datasheet §7.1.9, §7.2.3.3); the model wants the base aligned alike.
    public static let ringAlignment: UInt32 = 128
    /// The most queues any family's window has (ixgbe: 8; igb: 2).
    public static let maxQueuesOfAnyFamily = 8

    /// RXDCTL/TXDCTL enable and flush bits.
    public static let queueEnable: UInt32 = 0x0200_0000, queueFlush: UInt32 = 0x0400_0000
    /// ixgbe RXDCTL: VLAN strip, RLPML enable, RLPML mask.
    public static let rxVLANStrip: UInt32 = 0x4000_0000, rlpmlEnable: UInt32 = 0x8000, rlpmlMask: UInt32 = 0x3FFF
    /// SRRCTL buffer size field (1 KiB units) and descriptor type field.
    public static let srrctlBufferSizeMask: UInt32 = 0x7F, srrctlDescriptorTypeMask: UInt32 = 0x0E00_0000
    /// Bytes per unit of SRRCTL.BSIZEPACKET.
    public static let srrctlBufferSizeUnit = 1024
    /// igb: SRRCTL.BSIZEPACKET 0 means the PF's RCTL.BSIZE, 2 KiB (igbvf.md §3.5).
    public static let igbDefaultBufferKiB = 2
    /// SRRCTL after reset: BSIZEPACKET 2 KiB, BSIZEHEADER 256 bytes (4 × 64 at bits 13:8).
    public static let srrctlResetValue: UInt32 = 2 | 4 << 8
    /// DCA_RXCTRL after reset: descriptor read (9), data write (13) and header write (15)
    /// relaxed ordering (82599 datasheet §8.2.3.11.1).
    public static let rxDCAResetValue: UInt32 = 1 << 9 | 1 << 13 | 1 << 15
    /// DCA_TXCTRL after reset: descriptor read (9), descriptor write-back (11) and data read (13)
    /// relaxed ordering (82599 datasheet §8.2.3.11.2).
    public static let txDCAResetValue: UInt32 = 1 << 9 | 1 << 11 | 1 << 13

    // MARK: Global registers

    /// CTRL/VFCTRL reset bit (82599 datasheet §8.2.3.1.1, RST).
    public static let ctrlReset: UInt32 = 0x0400_0000

    /// VFLINKS: link up, bit 30 (82599 datasheet §8.2.3.22.20).
    public static let linksUp: UInt32 = 1 << 30
    /// VFLINKS speed field, bits 29:28: 11 10G, 10 1G, 01 100M.
    public static let linksSpeed10G: UInt32 = 0x3000_0000, linksSpeed1G: UInt32 = 0x2000_0000
    public static let linksSpeed100M: UInt32 = 0x1000_0000
    /// VFLINKS bit 27 (X550 datasheet, VFLINKS): with speed 11 the link runs at 2.5G, with
    /// speed 01 at 5G.
    public static let linksNonStandardSpeed: UInt32 = 0x0800_0000

    /// igb STATUS: full duplex (bit 0), link up (bit 1), speed bits 7:6 (10 = 1000, 01 = 100)
    /// (82576 datasheet, Device Status register; igbvf.md §3.5).
    public static let statusFullDuplex: UInt32 = 0x1, statusLinkUp: UInt32 = 0x2
    public static let statusSpeed1000: UInt32 = 0x80, statusSpeed100: UInt32 = 0x40

    // MARK: RSS (X550 VFMRQC / VFRSSRK / VFRETA; 82599 VFPSRTYPE)

    /// VFMRQC bit 0: RSS enable.
    public static let mrqcRSSEnable: UInt32 = 1
    /// VFMRQC bits 31:16: the hash fields (the `RSSHash.field…` bits).
    public static let mrqcFieldMask: UInt32 = 0xFFFF_0000
    /// Registers of the RSS key (40 bytes) and of the X550 VF redirection table (64 entries, four
    /// 8-bit entries per register).
    public static let rssKeyRegisters = 10, x550RETARegisters = 16, retaEntriesPerRegister = 4
    /// Redirection table entries: X550 VF (its own VFRETA), 82599 (the PF's table).
    public static let x550RETAEntries = 64, pfRETAEntries = 128
    /// VFPSRTYPE RQPL, bits 31:29: RSS queues per pool, as a power of two.
    public static let psrtypeRQPLShift: UInt32 = 29, psrtypeRQPLMask: UInt32 = 0x3

    /// 82599 / X540 / X550 VF window.
    public static let ixgbe = RegisterMap(
        ctrl: 0x0000, status: 0x0008, links: 0x0010, mailbox: 0x02FC, mailboxMemory: 0x0200,
        eicr: 0x0100, eics: 0x0104, eims: 0x0108, eimc: 0x010C, eiac: 0x0110, eiam: 0x0114,
        ivar: 0x0120, ivarMisc: 0x0140, eitr: 0x0820, itrShift: 3, itrMask: 0x1FF, itrUnitNanoseconds: 2048,
        rxBase: 0x1000, rxStride: 0x40, txBase: 0x2000, txStride: 0x40,
        srrctl: 0x14, rxDCA: 0x0C, txDCA: 0x0C, srrctlDropEnable: 0x1000_0000, maxQueues: 8,
        gprc: 0x101C, gptc: 0x201C, gorc: 0x1020, gotc: 0x2020, gorcMSB: 0x1024, gotcMSB: 0x2024, mprc: 0x1034,
        mrqc: 0x3000, rssKey: 0x3100, reta: 0x3200, psrtype: 0x0300)

    /// 82576 VF window.
    public static let igb = RegisterMap(
        ctrl: 0x0000, status: 0x0008, links: nil, mailbox: 0x0C40, mailboxMemory: 0x0800,
        eicr: 0x1580, eics: 0x1520, eims: 0x1524, eimc: 0x1528, eiac: 0x152C, eiam: 0x1530,
        ivar: 0x1700, ivarMisc: 0x1740, eitr: 0x1680, itrShift: 2, itrMask: 0x1FFF, itrUnitNanoseconds: 1000,
        rxBase: 0x2800, rxStride: 0x100, txBase: 0x3800, txStride: 0x100,
        srrctl: 0x0C, rxDCA: 0x14, txDCA: 0x14, srrctlDropEnable: 0x8000_0000, maxQueues: 2,
        gprc: 0x0F10, gptc: 0x0F14, gorc: 0x0F18, gotc: 0x0F34, gorcMSB: nil, gotcMSB: nil, mprc: 0x0F3C,
        mrqc: 0x3000, rssKey: 0x3100, reta: 0x3200, psrtype: 0x0F0C)

    /// Offset of register `offset` of RX queue `q`.
    public func rx(_ q: Int, _ offset: Int) -> Int { rxBase + q * rxStride + offset }
    /// Offset of register `offset` of TX queue `q`.
    public func tx(_ q: Int, _ offset: Int) -> Int { txBase + q * txStride + offset }
    /// Offset of the throttling register of vector `v`.
    public func eitr(_ v: Int) -> Int { eitr + 4 * v }
    /// The map register and bit position of queue `q`'s RX or TX cause entry: two queues per
    /// register, 8-bit entries at 16 × (q & 1) + 8 × (TX ? 1 : 0) (VTIVAR(i), ixgbevf.md §3.7;
    /// IVAR0's RX0/TX0/RX1/TX1 bytes, igbvf.md §3.1).
    public func ivarEntry(queue q: Int, tx: Bool) -> (offset: Int, shift: UInt32) {
        (ivar + 4 * (q / 2), UInt32(16 * (q & 1) + (tx ? 8 : 0)))
    }
    /// Offset of mailbox memory word `i` (0..<16).
    public func mailboxWord(_ i: Int) -> Int { mailboxMemory + 4 * i }
    /// Offset of RSS key register `i` (VFRSSRK(i)).
    public func rssKeyWord(_ i: Int) -> Int { rssKey + 4 * i }
    /// Offset of redirection table register `i` (VFRETA(i)).
    public func retaWord(_ i: Int) -> Int { reta + 4 * i }
}

/// Fields of a cause-to-vector map entry (VTIVAR, VTIVAR_MISC, IVAR0, IVAR_MISC): the vector
/// number in the low bits, bit 7 valid (ixgbevf.md §3.2 and §3.7, igbvf.md §3.1).
public enum IVARBits {
    /// The entry maps its cause.
    public static let valid: UInt32 = 0x80
    /// The vector number.
    public static let vector: UInt32 = 0x7F
    /// One 8-bit entry.
    public static let entry: UInt32 = 0xFF
}

/// Mailbox control bits (VFMAILBOX / V2PMAILBOX), identical in both families (ixgbevf.md §4.1,
/// igbvf.md §4.1; the PF/VF mailbox, 82599 datasheet §7.10 and 82576 datasheet §7.10).
public enum MailboxBits {
    /// VF: message ready for the PF (a command the PF side takes).
    public static let req: UInt32 = 0x01
    /// VF: PF message read.
    public static let ack: UInt32 = 0x02
    /// VF owns the buffer.
    public static let vfu: UInt32 = 0x04
    /// PF owns the buffer.
    public static let pfu: UInt32 = 0x08
    /// PF wrote a message (clear on read).
    public static let pfsts: UInt32 = 0x10
    /// PF acknowledged the VF's message (clear on read).
    public static let pfack: UInt32 = 0x20
    /// PF reset in progress (level).
    public static let rsti: UInt32 = 0x40
    /// PF reset done (clear on read).
    public static let rstd: UInt32 = 0x80
    /// The clear-on-read set.
    public static let readToClear: UInt32 = 0xB0
    /// 32-bit words of mailbox memory (VFMBMEM / VMBMEM).
    public static let memoryWords = 16
}
