import PMDCore

// The hardware facts of each VF family and MAC generation, as data: register offsets, bits,
// field layouts, mailbox quirks and API levels. The engines (mailbox, lifecycle, rings, stats,
// filters) take every offset and bit from a `VFFamilyTable` or its shared constants; none is
// written inside them. Device IDs are PMDCore's `IntelDevice` table.
//
// Citations: "82599 datasheet" is the Intel 82599 10 GbE Controller Datasheet (its VF chapter
// §8.3 also describes the X540/X550 VFs, whose own datasheets add VFLINKS speeds and the VF RSS
// registers); "82576 datasheet" is the Intel 82576EB GbE Controller Datasheet (the I350 VF is
// the same block). Facts were cross-checked in the Linux, Intel out-of-tree and DPDK drivers.
//
// This file holds the generic types and the lookup; the families' tables are in
// IxgbevfTable.swift (82599/X540/X550/X550EM) and IgbvfTable.swift (82576/I350).

/// Offsets of one queue's registers from the queue's block (base + stride × queue): 82599
/// datasheet §8.3 (VFRDBAL…VFRXDCTL at 0x1000 + 0x40·n, VFTDBAL…VFTDWBAH at 0x2000 + 0x40·n);
/// 82576 datasheet §8.26 (RDBAL…RXDCTL at 0x2800 + 0x100·q, TDBAL…TDWBAH at 0x3800 + 0x100·q).
public struct QueueRegisterLayout: Sendable {
    /// First queue's block.
    public var base: Int
    /// Bytes between queue blocks.
    public var stride: Int
    /// Ring base IOVA, low and high word (RDBAL/RDBAH, TDBAL/TDBAH).
    public var baseLow = 0x00, baseHigh = 0x04
    /// Ring length in bytes (RDLEN/TDLEN: descriptors × 16, a multiple of 128).
    public var length = 0x08
    /// Head and tail (RDH/RDT, TDH/TDT).
    public var head = 0x10, tail = 0x18
    /// Queue control (RXDCTL / TXDCTL).
    public var control = 0x28
    /// Buffer size control (SRRCTL, RX only; 0 for TX).
    public var splitControl: Int
    /// DCA / relaxed-ordering control (DCA_RXCTRL / DCA_TXCTRL).
    public var dcaControl: Int
    /// Head write-back address (TDWBAL/TDWBAH, TX only; 0 keeps it off).
    public var writeBackLow = 0x38, writeBackHigh = 0x3C

    /// Absolute offset of register `offset` of queue `queue`.
    public func offset(_ offset: Int, queue: Int) -> Int { base + stride * queue + offset }
}

/// A device counter: where it is and how wide it is (82599 datasheet §8.3 VFGPRC…VFMPRC:
/// octet counters are 36 bits, LSB register plus bits 35:32 in the MSB register; 82576
/// datasheet §8.26 VFGPRC…VFMPRC: all 32 bits). Counters wrap and are not cleared on read.
public struct CounterRegister: Sendable {
    /// Offset of the (low) register.
    public var low: Int
    /// Offset of the register holding bits 35:32, for 36-bit counters.
    public var high: Int?
    /// Bits the counter has before it wraps.
    public var width: Int { high == nil ? 32 : 36 }
    /// The bits of the high register that belong to the counter (35:32).
    static let highBitsMask: UInt32 = 0xF
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

/// How a family's RX write-back descriptor reports status and errors (the extended
/// status/error dword: 82599 datasheet §7.1.6, 82576 datasheet §7.1.5).
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

    /// How the status a receive queue copies into a packet's metadata decodes into flags
    /// (Linux's receive checksum rules: an L4 error of a UDP frame is not reported under the
    /// 82599 zero-checksum erratum; igb's "ignore checksum" bit hides both indications).
    /// VP means the tag was stripped only where stripping is on (`stripsTags`: igb, where the
    /// PF strips, or an ixgbe queue with RXDCTL.VME); otherwise it only says the frame, tag
    /// included, is tagged.
    public func receiveFormat(stripsTags: Bool) -> ReceiveStatusFormat {
        ReceiveStatusFormat(
            vlanStripped: stripsTags ? RxStatus.vlanPacket : 0, ipChecked: RxStatus.ipChecksum, l4Checked: RxStatus.l4Checksum,
            ipError: ipChecksumError, l4Error: l4ChecksumError, checksumIgnored: ignoreChecksum,
            rssType: RxStatus.rssTypeMask, l4ErrorUnreliable: udpZeroChecksumErratum ? RxStatus.packetTypeUDP : 0)
    }
}

/// Where RSS is configured for the VF.
public enum RSSControl: Sendable {
    /// The VF owns its hash key and redirection table (X550 and later: VFMRQC, VFRSSRK,
    /// VFRETA; layout in `VFFamilyTable.RSSRegisters`).
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

/// The values a VF's queue registers are given back after a VF reset, which leaves them
/// undefined (82599 datasheet §7.10, VF reset; the power-on values of §8.3 VFSRRCTL,
/// VFDCA_RXCTRL, VFDCA_TXCTRL, as the Intel out-of-tree and DPDK drivers restore them).
public struct QueueResetValues: Sendable {
    /// SRRCTL: BSIZEPKT 2 KiB, BSIZEHDR 256 bytes.
    public var splitControl: UInt32
    /// DCA_RXCTRL: descriptor read, data write and header write relaxed ordering.
    public var rxDCAControl: UInt32
    /// DCA_TXCTRL: descriptor read, descriptor write-back and data read relaxed ordering.
    public var txDCAControl: UInt32
}

/// Everything the engines need to know about one MAC generation of VF.
public struct VFFamilyTable: Sendable {
    /// Family (driver) name.
    public var family: DeviceFamily { generation.family }
    /// MAC generation; its VF device IDs are PMDCore's `IntelDevice.virtualFunctions`.
    public var generation: VFGeneration

    // MARK: Global registers (82599 datasheet §8.3 VFCTRL, VFSTATUS, VFLINKS, VTEICR…VTEIAM;
    // 82576 datasheet §8.2 CTRL, STATUS and §8.8 EICR, EIMC)

    /// Control register with the VF reset bit (VFCTRL / CTRL).
    public var control = 0x0000
    /// VF reset bit in `control` (RST, bit 26).
    public var resetBit: UInt32 = 0x0400_0000
    /// Status register, read to flush posted writes (VFSTATUS / STATUS).
    public var status = 0x0008
    /// Register holding the link-up bit and speed (VFLINKS / STATUS).
    public var linkRegister: Int
    /// Link-up bit in `linkRegister` (VFLINKS bit 30 / STATUS.LU bit 1).
    public var linkUpBit: UInt32
    /// Lowest bit of the 2-bit speed field in `linkRegister` (VFLINKS 29:28 / STATUS 7:6).
    public var linkSpeedShift: UInt32
    /// VFLINKS bit 27 (X550 and later): with speed 11 2.5 Gb/s, with 01 on X550 5 Gb/s; 0 when absent.
    public var linkNonStandardSpeedBit: UInt32
    /// Interrupt cause (read to clear) and mask clear (VTEICR / VTEIMC; EICR / EIMC).
    public var interruptCause: Int, interruptMaskClear: Int
    /// Auto-clear and auto-mask enables, written 0 in poll mode where the VF has them (VTEIAC, VTEIAM).
    public var interruptAutoClear: Int?, interruptAutoMask: Int?
    /// Packet split / RSS queues-per-pool register (VFPSRTYPE), when the VF writes one.
    public var packetSplitType: Int?

    // MARK: Mailbox (82599 datasheet §8.3 VFMailbox, VFMBMEM; 82576 datasheet §8.26
    // V2PMAILBOX, VMBMEM; the protocol of §7.10)

    /// Mailbox control/status register.
    public var mailboxControl: Int
    /// First word of the mailbox memory (`mailboxWords` words, 4 bytes apart).
    public var mailboxMemory: Int
    /// Whether a posted message waits for the PF's acknowledgement before the reply.
    public var postWaitsForAck: Bool
    /// Words in the PF's RESET reply (4 with mc_filter_type, 3 without).
    public var resetReplyWords: Int
    /// Microseconds to wait after setting the reset bit before polling the mailbox.
    public var resetSettleMicroseconds: Int
    /// The queue registers' values rewritten after a VF reset, nil when the VF keeps them.
    public var queueResetValues: QueueResetValues?
    /// Whether the mailbox has API negotiation, GET_QUEUES and UPDATE_XCAST_MODE.
    public var negotiatesAPI: Bool
    /// Whether SET_LPE is honoured per VF (X540+, igb) or only with the PF's own MTU (82599).
    public var perVFJumbo: Bool
    /// Bytes SET_LPE adds to the MTU: header and CRC (ixgbevf), plus a VLAN tag (igbvf).
    public var maxFrameOverhead: Int
    /// Retries of the RSTI/RSTD wait after the reset bit, `Timing.resetDoneWaitInterval` apart.
    public var resetWaitTries: Int

    // MARK: Queues (82599 datasheet §8.3 VFSRRCTL, VFRXDCTL, VFTXDCTL, VFDCA_*; 82576
    // datasheet §8.26 SRRCTL, RXDCTL, TXDCTL, DCA_*)

    /// Queue pairs the VF has without asking the PF (igb), or the most GET_QUEUES may grant.
    public var maxQueues: Int
    /// RX and TX register blocks.
    public var rxQueue: QueueRegisterLayout, txQueue: QueueRegisterLayout
    /// SRRCTL.DESCTYPE 001 (bits 27:25): advanced descriptors, one buffer.
    public var srrctlOneBuffer: UInt32 = 0x0200_0000
    /// SRRCTL.DROP_EN: drop when no descriptor is free (bit 28 ixgbe, bit 31 igb).
    public var srrctlDropEnable: UInt32
    /// SRRCTL.BSIZEPKT's largest packet buffer, in KiB.
    public var maxBufferKiB: Int
    /// RXDCTL / TXDCTL.ENABLE (bit 25).
    public var queueEnable: UInt32 = 0x0200_0000
    /// RXDCTL / TXDCTL.SWFLSH (bit 26; written alone to stop a TX queue).
    public var queueFlush: UInt32 = 0x0400_0000
    /// RXDCTL bits ORed in with ENABLE (thresholds, `queueThresholds`).
    public var rxControlThresholds: UInt32
    /// TXDCTL bits ORed in with ENABLE (thresholds, `queueThresholds`).
    public var txControlThresholds: UInt32
    /// RXDCTL.VME (bit 30) when the VF controls VLAN stripping (ixgbe), nil when the PF does (igb).
    public var vlanStripBit: UInt32?
    /// Whether RXDCTL.RLPML (per-queue max length) works (X540 and later).
    public var hasPerQueueMaxLength: Bool
    /// Whether the enable bits must be polled back (ixgbe) or read back at once (igb).
    public var pollsQueueEnable: Bool
    /// DCA_RXCTRL / DCA_TXCTRL values: RX descriptor read relaxed ordering; TX descriptor and
    /// data read relaxed ordering with write-back relaxed ordering clear (write-backs in order).
    public var rxDCAValue: UInt32, txDCAValue: UInt32

    // MARK: Descriptors (82599 datasheet §7.1.6, §7.2.3.2.4; 82576 datasheet §7.1.5, §7.2.2)

    /// RX write-back status and error bits.
    public var rxBits: RxDescriptorBits
    /// Check-context bit (olinfo CC, bit 7) set in every TX data descriptor (ixgbe VFs), 0 for igb.
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
        let code = (value >> linkSpeedShift) & Self.linkSpeedMask
        switch family {
        case .igbvf:
            // STATUS.SPEED: 00 10M, 01 100M, 10/11 1000M.
            switch code {
            case 0: return 10
            case 1: return 100
            default: return 1000
            }
        case .ixgbevf:
            // VFLINKS.SPEED: 11 10G (2.5G non-standard), 10 1G, 01 100M (5G non-standard on
            // X550), 00 10M on X550 and later (reserved before).
            let nonStandard = value & linkNonStandardSpeedBit != 0
            switch code {
            case 3: return nonStandard ? 2500 : 10_000
            case 2: return 1000
            case 1: return nonStandard && generation == .x550 ? 5000 : 100
            default: return generation >= .x550 ? 10 : 0
            }
        }
    }
}

// MARK: - Constants both families share

extension VFFamilyTable {
    /// What every register reads once the device is gone: a PCIe read that no function
    /// completes returns all ones (surprise removal, a VF disabled under the driver).
    static let removedDeviceRead: UInt32 = 0xFFFF_FFFF
    /// Written to the interrupt mask-clear register: masks every cause (poll mode).
    static let interruptMaskAll: UInt32 = 0xFFFF_FFFF
    /// Words of the mailbox memory (VFMBMEM / VMBMEM: 16 × 32 bits).
    static let mailboxWords = 16
    /// The mask of the 2-bit link speed field.
    static let linkSpeedMask: UInt32 = 0x3

    /// SRRCTL.BSIZEPKT counts the packet buffer in 1 KiB units: bytes >> 10.
    static let srrctlPacketBufferShift = 10
    /// SRRCTL.BSIZEHDR counts the header buffer in 64-byte units at bits 13:8 (11:8 on igb):
    /// bytes << 2.
    static let srrctlHeaderBufferShift = 2

    /// RXDCTL.RLPML: the largest frame this queue accepts (bits 13:0, X540 and later).
    static let rxControlMaxLengthMask: UInt32 = 0x3FFF
    /// RXDCTL.RLPML_EN (bit 15): RLPML is in force.
    static let rxControlMaxLengthEnable: UInt32 = 0x8000

    /// RXDCTL's RLPML and RLPML_EN for frames of at most `frameLength` bytes; ORed into an
    /// RXDCTL value whose RLPML bits are clear.
    static func rxControlMaxLength(_ frameLength: Int) -> UInt32 {
        UInt32(frameLength) & rxControlMaxLengthMask | rxControlMaxLengthEnable
    }

    /// RXDCTL / TXDCTL threshold fields: PTHRESH bits 6:0, HTHRESH 14:8, WTHRESH 22:16 (the
    /// 82599 datasheet §7.2.3.4, §7.2.3.5 describe their use; igb's fields are 5 bits wide
    /// at the same positions).
    static func queueThresholds(prefetch: UInt32, host: UInt32, writeBack: UInt32) -> UInt32 {
        prefetch | host << 8 | writeBack << 16
    }

    /// VFPSRTYPE.RQPL (bits 31:29): RSS queues per pool, 0 = 1, 1 = 2, 2 = 4 or more.
    static func rssQueuesPerPool(_ queues: Int) -> UInt32 {
        let code: UInt32 = queues >= 4 ? 2 : queues == 2 ? 1 : 0
        return code << 29
    }

    /// The PF's multicast hash of a destination address: its last two bytes (little endian)
    /// shifted right by 4, 3, 2 or 0 by the filter type of the RESET reply, 12 bits kept
    /// (82599 datasheet §8.2.3.7 MCSTCTRL.MO: address bits 47:36, 46:35, 45:34, 43:32).
    static let multicastHashShifts: [UInt32] = [4, 3, 2, 0]
    /// The 12 bits of the multicast hash.
    static let multicastHashMask: UInt32 = 0xFFF

    /// Relaxed-ordering bits of DCA_RXCTRL / DCA_TXCTRL, at the same positions in both
    /// families (82599 datasheet §8.3 VFDCA_RXCTRL, VFDCA_TXCTRL; 82576 datasheet §8.26).
    enum RelaxedOrdering {
        /// RX descriptor read.
        static let rxDescriptorRead: UInt32 = 1 << 9
        /// RX data write.
        static let rxDataWrite: UInt32 = 1 << 13
        /// RX header write.
        static let rxHeaderWrite: UInt32 = 1 << 15
        /// TX descriptor read.
        static let txDescriptorRead: UInt32 = 1 << 9
        /// TX descriptor write-back: must stay clear (write-backs in order, or DD is seen
        /// before the descriptors before it are written).
        static let txDescriptorWriteBack: UInt32 = 1 << 11
        /// TX data read.
        static let txDataRead: UInt32 = 1 << 13
    }

    /// The VF's own RSS registers, X550 and later (X550 datasheet, VF registers VFMRQC,
    /// VFRSSRK, VFRETA; the hash as in 82599 datasheet §7.1.2.8).
    enum RSSRegisters {
        /// VFMRQC.RSSEN (bit 0).
        static let enable: UInt32 = 1 << 0
        /// VFMRQC hash fields: IPv4/TCP (bit 16), IPv4 (17), IPv6 (20), IPv6/TCP (21).
        static let hashIPv4TCP: UInt32 = 1 << 16
        static let hashIPv4: UInt32 = 1 << 17
        static let hashIPv6: UInt32 = 1 << 20
        static let hashIPv6TCP: UInt32 = 1 << 21
        /// VFRSSRK: the 40-byte key in 10 registers, byte 0 in bits 7:0 of the first.
        static let keyRegisters = 10
        /// VFRETA: 64 entries in 16 registers, 4 of 8 bits each, entry 4·r + e at bits 8·e.
        static let redirectionRegisters = 16
        static let entriesPerRedirectionRegister = 4
        static let redirectionEntryBits: UInt32 = 8
        /// Bytes between consecutive key and redirection registers.
        static let registerStride = 4
    }

    /// Layout of the 16-byte advanced RX and TX descriptors both families use (82599
    /// datasheet §7.1.6 RX read and write-back formats, §7.2.3.2.3 TX context, §7.2.3.2.4 TX
    /// data and write-back; 82576 datasheet §7.1.5, §7.2.2: the same layout).
    @usableFromInline
    enum DescriptorLayout {
        /// Bytes per descriptor; rings are arrays of them (82599 datasheet §7.1.9).
        @inlinable static var size: Int { 16 }
        /// log2 of `size`: slot i is at byte i << 4.
        @inlinable static var sizeShift: Int { 4 }
        /// RX read format: packet buffer address (bytes 0–7) and header buffer address (8–15,
        /// 0: no header split; writing it clears DD).
        @inlinable static var rxPacketAddressOffset: Int { 0 }
        @inlinable static var rxHeaderAddressOffset: Int { 8 }
        /// RX write-back: pkt_info/hdr_info (bytes 0–3), RSS hash (4–7), extended status and
        /// errors (8–11), length (bits 15:0) and VLAN tag (31:16) of bytes 12–15.
        @inlinable static var rxInfoOffset: Int { 0 }
        @inlinable static var rxRSSOffset: Int { 4 }
        @inlinable static var rxStatusOffset: Int { 8 }
        @inlinable static var rxLengthAndVLANOffset: Int { 12 }
        @inlinable static var rxLengthMask: UInt32 { 0xFFFF }
        /// In the 64-bit word at `rxStatusOffset` (status and errors, then length and tag), the
        /// length's first bit.
        @inlinable static var rxLengthShift: UInt64 { 32 }
        /// TX data read format: buffer address (bytes 0–7), cmd_type_len (8–11),
        /// olinfo_status (12–15); the write-back puts DD in bytes 12–15.
        @inlinable static var txAddressOffset: Int { 0 }
        @inlinable static var txCommandOffset: Int { 8 }
        @inlinable static var txOptionsOffset: Int { 12 }
        @inlinable static var txStatusOffset: Int { 12 }
        /// TX context: vlan_macip_lens (bytes 0–3: IPLEN 8:0, MACLEN 15:9, VLAN 31:16),
        /// seqnum_seed (4–7), type_tucmd_mlhl (8–11), mss_l4len_idx (12–15).
        @inlinable static var contextLengthsOffset: Int { 0 }
        @inlinable static var contextSeedOffset: Int { 4 }
        @inlinable static var contextTypeOffset: Int { 8 }
        @inlinable static var contextIndexOffset: Int { 12 }
        /// vlan_macip_lens: the VLAN tag's shift and the field's mask.
        @inlinable static var contextVLANShift: UInt32 { 16 }
        @inlinable static var contextVLANMask: UInt32 { 0xFFFF_0000 }
    }

    /// Delays and bounded polls of the bring-up, stop and link sequences, as the Linux and
    /// DPDK VF drivers wait (82599 datasheet §4.6.7.1, §4.6.8.1: queues change state only
    /// after their outstanding work is done).
    enum Timing {
        /// After stopping every queue, and after a VF reset at close (µs).
        static let queueStopSettle = 2000
        /// Polls of the reset bit clearing itself, and their interval (µs).
        static let resetBitPolls = 200, resetBitPollInterval = 5
        /// Interval of the wait for RSTI/RSTD to clear after a VF reset (µs; tries per family).
        static let resetDoneWaitInterval = 5
        /// Between posting RESET and reading its reply (µs).
        static let resetReplyDelay = 10_000
        /// Polls of a queue's ENABLE bit reading back set, and their interval (µs).
        static let queueEnablePolls = 10, queueEnablePollInterval = 1000
        /// Polls of an RX queue's ENABLE bit reading back clear, and their interval (µs).
        static let queueDisablePolls = 10, queueDisablePollInterval = 10
        /// 82599: reads of a link-up VFLINKS that must all say up, and their interval (µs).
        static let linkDebounceReads = 5, linkDebounceInterval = 100
    }
}

// MARK: - The tables (each family's in IxgbevfTable.swift and IgbvfTable.swift)

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
}
