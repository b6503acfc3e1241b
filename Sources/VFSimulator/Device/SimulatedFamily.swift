/// The VF models the simulator offers, and for each the hardware facts that differ:
/// identity, register offsets and bits. Written from the datasheet-derived references
/// (82599/X550 VF register map; 82576 VF register map), independently of any driver.
public enum SimulatedFamily: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 82599 VF (8086:10ED), ixgbevf class, answered by an ixgbe PF.
    case ixgbe82599 = "82599 VF"
    /// X550 VF (8086:1565), ixgbevf class with VF-owned RSS registers and MDD on TX.
    case ixgbeX550 = "X550 VF"
    /// 82576 VF (8086:10CA), igbvf class, answered by an igb PF.
    case igb82576 = "82576 VF"

    /// PCI vendor ID (Intel).
    public var vendorID: UInt16 { 0x8086 }

    /// PCI device ID.
    public var deviceID: UInt16 {
        switch self {
        case .ixgbe82599: 0x10ED
        case .ixgbeX550: 0x1565
        case .igb82576: 0x10CA
        }
    }

    /// Whether the ixgbe PF/VF rules apply (else igb).
    public var isIxgbe: Bool { self != .igb82576 }

    /// The register layout of this family.
    public var registers: RegisterMap { isIxgbe ? .ixgbe : .igb }

    public var description: String { rawValue }
}

/// Offsets and bits of one family's VF register window (BAR0).
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
    /// Interrupt cause read (clear on read on hardware).
    public let eicr: Int
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

    /// Offsets inside a queue block, identical in both families.
    public static let ringBaseLow = 0x00, ringBaseHigh = 0x04, ringLength = 0x08
    /// Head, tail and queue control.
    public static let head = 0x10, tail = 0x18, queueControl = 0x28
    /// TX head write-back address (low, high).
    public static let txHeadWriteBackLow = 0x38, txHeadWriteBackHigh = 0x3C
    /// Bytes per descriptor, RX and TX, both families: ring length = count × 16.
    public static let descriptorSize = 16

    /// CTRL/VFCTRL reset bit.
    public static let ctrlReset: UInt32 = 0x0400_0000
    /// RXDCTL/TXDCTL enable and flush bits.
    public static let queueEnable: UInt32 = 0x0200_0000, queueFlush: UInt32 = 0x0400_0000
    /// ixgbe RXDCTL: VLAN strip, RLPML enable, RLPML mask.
    public static let rxVLANStrip: UInt32 = 0x4000_0000, rlpmlEnable: UInt32 = 0x8000, rlpmlMask: UInt32 = 0x3FFF
    /// SRRCTL buffer size field (1 KiB units) and descriptor type field.
    public static let srrctlBufferSizeMask: UInt32 = 0x7F, srrctlDescriptorTypeMask: UInt32 = 0x0E00_0000

    /// 82599 / X540 / X550 VF window.
    public static let ixgbe = RegisterMap(
        ctrl: 0x0000, status: 0x0008, links: 0x0010, mailbox: 0x02FC, mailboxMemory: 0x0200, eicr: 0x0100,
        rxBase: 0x1000, rxStride: 0x40, txBase: 0x2000, txStride: 0x40,
        srrctl: 0x14, rxDCA: 0x0C, txDCA: 0x0C, srrctlDropEnable: 0x1000_0000, maxQueues: 8,
        gprc: 0x101C, gptc: 0x201C, gorc: 0x1020, gotc: 0x2020, gorcMSB: 0x1024, gotcMSB: 0x2024, mprc: 0x1034,
        mrqc: 0x3000, rssKey: 0x3100, reta: 0x3200, psrtype: 0x0300)

    /// 82576 VF window.
    public static let igb = RegisterMap(
        ctrl: 0x0000, status: 0x0008, links: nil, mailbox: 0x0C40, mailboxMemory: 0x0800, eicr: 0x1580,
        rxBase: 0x2800, rxStride: 0x100, txBase: 0x3800, txStride: 0x100,
        srrctl: 0x0C, rxDCA: 0x14, txDCA: 0x14, srrctlDropEnable: 0x8000_0000, maxQueues: 2,
        gprc: 0x0F10, gptc: 0x0F14, gorc: 0x0F18, gotc: 0x0F34, gorcMSB: nil, gotcMSB: nil, mprc: 0x0F3C,
        mrqc: 0x3000, rssKey: 0x3100, reta: 0x3200, psrtype: 0x0F0C)

    /// Offset of register `offset` of RX queue `q`.
    public func rx(_ q: Int, _ offset: Int) -> Int { rxBase + q * rxStride + offset }
    /// Offset of register `offset` of TX queue `q`.
    public func tx(_ q: Int, _ offset: Int) -> Int { txBase + q * txStride + offset }
}

/// Mailbox control bits (VFMAILBOX / V2PMAILBOX), identical in both families.
public enum MailboxBits {
    /// VF: message ready for the PF.
    public static let req: UInt32 = 0x01
    /// VF: PF message read.
    public static let ack: UInt32 = 0x02
    /// VF owns the buffer.
    public static let vfu: UInt32 = 0x04
    /// PF owns the buffer.
    public static let pfu: UInt32 = 0x08
    /// PF wrote a message (clear on read on hardware).
    public static let pfsts: UInt32 = 0x10
    /// PF acknowledged the VF's message (clear on read on hardware).
    public static let pfack: UInt32 = 0x20
    /// PF reset in progress (level).
    public static let rsti: UInt32 = 0x40
    /// PF reset done (clear on read on hardware).
    public static let rstd: UInt32 = 0x80
    /// The clear-on-read set.
    public static let readToClear: UInt32 = 0xB0
}
