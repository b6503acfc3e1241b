import PMDCore

/// The hardware facts of each VF family and MAC generation, as data: register
/// offsets, bit masks, mailbox quirks and API levels. The engines (mailbox, lifecycle, rings,
/// stats, filters) read everything from a `VFFamilyTable`; no offset is written inside them.
///
/// Sources: 82599/X540/X550 VF datasheet topics as collected for ixgbevf (register map,
/// mailbox, descriptors, family differences) and 82576/I350 VF topics for igbvf.

/// Offsets of one queue's registers from the queue's block (base + stride × queue).
public struct QueueRegisterLayout: Sendable {
    /// First queue's block.
    public var base: Int
    /// Bytes between queue blocks.
    public var stride: Int
    /// Ring base IOVA, low and high word.
    public var baseLow = 0x00, baseHigh = 0x04
    /// Ring length in bytes.
    public var length = 0x08
    /// Head and tail.
    public var head = 0x10, tail = 0x18
    /// Queue control (RXDCTL / TXDCTL).
    public var control = 0x28
    /// Buffer size control (SRRCTL, RX only; 0 for TX).
    public var splitControl: Int
    /// DCA / relaxed-ordering control.
    public var dcaControl: Int
    /// Head write-back address (TX only).
    public var writeBackLow = 0x38, writeBackHigh = 0x3C

    /// Absolute offset of register `offset` of queue `queue`.
    public func offset(_ offset: Int, queue: Int) -> Int { base + stride * queue + offset }
}

/// A device counter: where it is and how wide it is.
public struct CounterRegister: Sendable {
    /// Offset of the (low) register.
    public var low: Int
    /// Offset of the register holding bits 35:32, for 36-bit counters.
    public var high: Int?
    /// Bits the counter has before it wraps.
    public var width: Int { high == nil ? 32 : 36 }
}

/// The VF's statistics registers (one set per VF).
public struct StatsRegisters: Sendable {
    /// Good packets received.
    public var rxPackets: CounterRegister
    /// Good octets received.
    public var rxOctets: CounterRegister
    /// Good packets transmitted.
    public var txPackets: CounterRegister
    /// Good octets transmitted.
    public var txOctets: CounterRegister
    /// Multicast packets received.
    public var rxMulticast: CounterRegister
}

/// How a family's RX write-back descriptor reports status and errors.
public struct RxDescriptorBits: Sendable {
    /// Errors that make the frame unusable (dropped and counted).
    public var frameErrors: UInt32
    /// IPv4 header checksum error.
    public var ipChecksumError: UInt32
    /// TCP/UDP checksum error.
    public var l4ChecksumError: UInt32
    /// "Ignore checksum indication" status bit (igb IXSM), 0 when the family has none.
    public var ignoreChecksum: UInt32
    /// 82599 erratum: a UDP frame with a zero checksum may be flagged with an L4 error.
    public var udpZeroChecksumErratum: Bool
    /// I350: the stripped tag of a loopback (VM-to-VM) frame is big endian.
    public var loopbackVLANByteSwapped: Bool
}

/// Where RSS is configured for the VF.
public enum RSSControl: Sendable {
    /// The VF owns its hash key and redirection table (X550 and later).
    case vfRegisters(mrqc: Int, key: Int, reta: Int)
    /// Shared with the PF; readable through GET_RETA / GET_RSS_KEY when the PF allows it.
    case sharedWithPF
    /// No RSS for the VF.
    case none
}

/// How promiscuous and all-multicast modes are requested from the PF.
public enum PromiscuousRequest: Sendable {
    /// UPDATE_XCAST_MODE (API 1.2+, promiscuous API 1.3+); `unicastAllowed` false where the
    /// PF always refuses promiscuous (82599).
    case xcastMode(unicastAllowed: Bool)
    /// igb SET_PROMISC with a multicast flag; the Linux igb PF refuses unicast.
    case igbSetPromisc
}

/// Everything the engines need to know about one MAC generation of VF.
public struct VFFamilyTable: Sendable {
    /// Family (driver) name.
    public var family: DeviceFamily { generation.family }
    /// MAC generation; its VF device IDs are PMDCore's `IntelDevice.virtualFunctions`.
    public var generation: VFGeneration

    // MARK: Global registers

    /// Control register with the VF reset bit.
    public var control = 0x0000
    /// VF reset bit in `control`.
    public var resetBit: UInt32 = 0x0400_0000
    /// Status register, read to flush posted writes.
    public var status = 0x0008
    /// Register holding the link-up bit and speed.
    public var linkRegister: Int
    /// Link-up bit in `linkRegister`.
    public var linkUpBit: UInt32
    /// Interrupt cause (read to clear) and mask clear.
    public var interruptCause: Int, interruptMaskClear: Int
    /// Auto-clear and auto-mask enables, written 0 in poll mode where the VF has them (ixgbe).
    public var interruptAutoClear: Int?, interruptAutoMask: Int?
    /// Packet split / RSS queues-per-pool register, when the VF writes one.
    public var packetSplitType: Int?

    // MARK: Mailbox

    /// Mailbox control/status register.
    public var mailboxControl: Int
    /// First word of the 16-word mailbox memory.
    public var mailboxMemory: Int
    /// Whether a posted message waits for the PF's acknowledgement before the reply.
    public var postWaitsForAck: Bool
    /// Words in the PF's RESET reply (4 with mc_filter_type, 3 without).
    public var resetReplyWords: Int
    /// Microseconds to wait after setting the reset bit before polling the mailbox.
    public var resetSettleMicroseconds: Int
    /// Whether the VF rewrites its queue registers to their reset values after a reset.
    public var rewritesQueueDefaultsAfterReset: Bool
    /// Whether the mailbox has API negotiation, GET_QUEUES and UPDATE_XCAST_MODE.
    public var negotiatesAPI: Bool
    /// Whether SET_LPE is honoured per VF (X540+, igb) or only with the PF's own MTU (82599).
    public var perVFJumbo: Bool
    /// Bytes SET_LPE adds to the MTU: header and CRC (ixgbevf), plus a VLAN tag (igbvf).
    public var maxFrameOverhead: Int
    /// Retries of the RSTI/RSTD wait after the reset bit, 5 µs apart.
    public var resetWaitTries: Int

    // MARK: Queues

    /// Queue pairs the VF has without asking the PF (igb), or the most GET_QUEUES may grant.
    public var maxQueues: Int
    /// RX and TX register blocks.
    public var rxQueue: QueueRegisterLayout, txQueue: QueueRegisterLayout
    /// SRRCTL: one-buffer advanced descriptors.
    public var srrctlOneBuffer: UInt32 = 0x0200_0000
    /// SRRCTL: drop when no descriptor is free.
    public var srrctlDropEnable: UInt32
    /// SRRCTL: largest packet buffer, in KiB.
    public var maxBufferKiB: Int
    /// RXDCTL / TXDCTL enable bit.
    public var queueEnable: UInt32 = 0x0200_0000
    /// RXDCTL / TXDCTL flush bit (written alone to stop a TX queue).
    public var queueFlush: UInt32 = 0x0400_0000
    /// RXDCTL bits ORed in with ENABLE (thresholds).
    public var rxControlThresholds: UInt32
    /// TXDCTL bits ORed in with ENABLE (thresholds).
    public var txControlThresholds: UInt32
    /// RXDCTL VLAN strip bit when the VF controls stripping (ixgbe), nil when the PF does (igb).
    public var vlanStripBit: UInt32?
    /// Whether RXDCTL.RLPML (per-queue max length) works (X540 and later).
    public var hasPerQueueMaxLength: Bool
    /// Whether the enable bits must be polled back (ixgbe) or read back at once (igb).
    public var pollsQueueEnable: Bool
    /// DCA/relaxed-ordering values: RX descriptor read RO; TX descriptor and data read RO, write-back RO clear.
    public var rxDCAValue: UInt32, txDCAValue: UInt32

    // MARK: Descriptors

    /// RX write-back status and error bits.
    public var rxBits: RxDescriptorBits
    /// Check-context bit set in every TX data descriptor (ixgbe VFs), 0 when unused (igb).
    public var txCheckContext: UInt32
    /// Largest bytes in one TX data descriptor.
    public var maxTxBytesPerDescriptor: Int

    // MARK: Link, stats, RSS, filters

    /// Whether link-up is re-read several times before trusting it (82599 SFP+ settle time).
    public var linkDebounce: Bool
    /// Statistics registers.
    public var stats: StatsRegisters
    /// RSS control.
    public var rss: RSSControl
    /// Promiscuous / all-multicast requests.
    public var promiscuous: PromiscuousRequest

    /// Decodes the link register into a speed in Mb/s (link assumed up).
    public func speedMbps(linkRegister value: UInt32) -> Int {
        switch family {
        case .igbvf:
            // 82576 STATUS bits 7:6: 00 10M, 01 100M, 10/11 1000M.
            switch (value >> 6) & 0x3 {
            case 0: return 10
            case 1: return 100
            default: return 1000
            }
        case .ixgbevf:
            // VFLINKS bits 29:28, with bit 27 (non-standard) on X550 and later.
            let code = (value >> 28) & 0x3
            let nonStandard = generation >= .x550 && value & 0x0800_0000 != 0
            switch code {
            case 3: return nonStandard ? 2500 : 10_000
            case 2: return 1000
            case 1: return nonStandard && generation == .x550 ? 5000 : 100
            default: return generation >= .x550 ? 10 : 0
            }
        }
    }
}

extension VFFamilyTable {
    /// Every known VF table, in the order of PMDCore's `IntelDevice.virtualFunctions`.
    public static let all: [VFFamilyTable] = IntelDevice.virtualFunctions.map { table(for: $0.generation) }

    /// The table for a PCI vendor and device ID, or nil when the device is not a supported VF.
    public static func lookup(vendorID: UInt16, deviceID: UInt16) -> VFFamilyTable? {
        guard let device = IntelDevice.lookup(vendorID: vendorID, deviceID: deviceID), device.role == .vf else {
            return nil
        }
        return all.first { $0.generation == device.generation }
    }

    /// The table of one generation.
    static func table(for generation: VFGeneration) -> VFFamilyTable {
        switch generation.family {
        case .ixgbevf: ixgbe(generation)
        case .igbvf: igb(generation)
        }
    }

    /// 82599 / X540 / X550 VF register map, mailbox and descriptor facts.
    static func ixgbe(_ generation: VFGeneration) -> VFFamilyTable {
        VFFamilyTable(
            generation: generation,
            // VFLINKS: bit 30 link up.
            linkRegister: 0x0010, linkUpBit: 0x4000_0000,
            // VTEICR / VTEIMC / VTEIAC / VTEIAM.
            interruptCause: 0x0100, interruptMaskClear: 0x010C, interruptAutoClear: 0x0110, interruptAutoMask: 0x0114,
            packetSplitType: 0x0300,
            // VFMAILBOX and VFMBMEM; legacy transaction (no PFACK wait), 4-word RESET reply, 50 ms settle.
            mailboxControl: 0x02FC, mailboxMemory: 0x0200, postWaitsForAck: false, resetReplyWords: 4,
            resetSettleMicroseconds: 50_000, rewritesQueueDefaultsAfterReset: true, negotiatesAPI: true,
            perVFJumbo: generation >= .x540, maxFrameOverhead: 18, resetWaitTries: 10_000,
            maxQueues: 8,
            // VFRDBAL..VFRXDCTL at 0x1000 + 0x40·n; SRRCTL +0x14, DCA_RXCTRL +0x0C.
            rxQueue: QueueRegisterLayout(base: 0x1000, stride: 0x40, splitControl: 0x14, dcaControl: 0x0C),
            // VFTDBAL..VFTXDCTL at 0x2000 + 0x40·n; DCA_TXCTRL +0x0C.
            txQueue: QueueRegisterLayout(base: 0x2000, stride: 0x40, splitControl: 0, dcaControl: 0x0C),
            srrctlDropEnable: 0x1000_0000, maxBufferKiB: 16,
            rxControlThresholds: 0,
            // TXDCTL: PTHRESH 32, HTHRESH 1, WTHRESH 0 (poll mode).
            txControlThresholds: 32 | 1 << 8,
            vlanStripBit: 0x4000_0000, hasPerQueueMaxLength: generation >= .x540, pollsQueueEnable: true,
            // DCA_RXCTRL bit 9; DCA_TXCTRL bits 9 | 13 (bit 11, write-back RO, clear).
            rxDCAValue: 1 << 9, txDCAValue: 1 << 9 | 1 << 13,
            // CE | LE | PE | OSE | USE; IPE bit 31, TCPE bit 30.
            rxBits: RxDescriptorBits(
                frameErrors: 0x3B00_0000, ipChecksumError: 0x8000_0000, l4ChecksumError: 0x4000_0000,
                ignoreChecksum: 0, udpZeroChecksumErratum: generation == .x82599, loopbackVLANByteSwapped: false),
            txCheckContext: 0x80, maxTxBytesPerDescriptor: 16 * 1024,
            linkDebounce: generation == .x82599,
            stats: StatsRegisters(
                rxPackets: CounterRegister(low: 0x101C), rxOctets: CounterRegister(low: 0x1020, high: 0x1024),
                txPackets: CounterRegister(low: 0x201C), txOctets: CounterRegister(low: 0x2020, high: 0x2024),
                rxMulticast: CounterRegister(low: 0x1034)),
            rss: generation >= .x550 ? .vfRegisters(mrqc: 0x3000, key: 0x3100, reta: 0x3200) : .sharedWithPF,
            promiscuous: .xcastMode(unicastAllowed: generation >= .x540))
    }

    /// 82576 / I350 VF register map, mailbox and descriptor facts.
    static func igb(_ generation: VFGeneration) -> VFFamilyTable {
        VFFamilyTable(
            generation: generation,
            // STATUS: bit 1 link up, bits 7:6 speed.
            linkRegister: 0x0008, linkUpBit: 0x2,
            // EICR / EIMC (poll mode masks everything and reads EICR only).
            interruptCause: 0x1580, interruptMaskClear: 0x1528, interruptAutoClear: nil, interruptAutoMask: nil,
            packetSplitType: nil,
            // V2PMAILBOX and VMBMEM; posted messages wait for PFACK; 3-word RESET reply.
            mailboxControl: 0x0C40, mailboxMemory: 0x0800, postWaitsForAck: true, resetReplyWords: 3,
            resetSettleMicroseconds: 0, rewritesQueueDefaultsAfterReset: false, negotiatesAPI: false,
            perVFJumbo: true, maxFrameOverhead: 22, resetWaitTries: 200,
            // 82576 VF: 2 queue pairs; I350 VF: 1.
            maxQueues: generation == .i82576 ? 2 : 1,
            // RDBAL..RXDCTL at 0x2800 + 0x100·q; SRRCTL +0x0C, DCA_RXCTRL +0x14.
            rxQueue: QueueRegisterLayout(base: 0x2800, stride: 0x100, splitControl: 0x0C, dcaControl: 0x14),
            // TDBAL..TXDCTL at 0x3800 + 0x100·q; DCA_TXCTRL +0x14.
            txQueue: QueueRegisterLayout(base: 0x3800, stride: 0x100, splitControl: 0, dcaControl: 0x14),
            srrctlDropEnable: 0x8000_0000, maxBufferKiB: 127,
            // RXDCTL: PTHRESH 16, HTHRESH 8, WTHRESH 1 (82576 VF write-back erratum).
            rxControlThresholds: 16 | 8 << 8 | 1 << 16,
            txControlThresholds: 0,
            vlanStripBit: nil, hasPerQueueMaxLength: false, pollsQueueEnable: false,
            // RX descriptor read RO; TX: descriptor/data read RO, write-back RO (bit 11) clear.
            rxDCAValue: 1 << 9, txDCAValue: 1 << 9 | 1 << 13,
            // CE | SE | SEQ | CXE | RXE; IPE bit 30, TCPE bit 29; IXSM status bit 2.
            rxBits: RxDescriptorBits(
                frameErrors: 0x9700_0000, ipChecksumError: 0x4000_0000, l4ChecksumError: 0x2000_0000,
                ignoreChecksum: 0x4, udpZeroChecksumErratum: false, loopbackVLANByteSwapped: generation == .i350),
            txCheckContext: 0, maxTxBytesPerDescriptor: 64 * 1024 - 1,
            linkDebounce: false,
            stats: StatsRegisters(
                rxPackets: CounterRegister(low: 0x0F10), rxOctets: CounterRegister(low: 0x0F18),
                txPackets: CounterRegister(low: 0x0F14), txOctets: CounterRegister(low: 0x0F34),
                rxMulticast: CounterRegister(low: 0x0F3C)),
            rss: .none,
            promiscuous: .igbSetPromisc)
    }
}
