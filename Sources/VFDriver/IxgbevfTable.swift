import PMDCore

// The ixgbe VF family's hardware table: 82599, X540, X550 and X550EM_x/X550EM_a VFs (82599 datasheet §8.3
// VF registers, §7.1.6 and §7.2.3 descriptors, §7.10 mailbox). The generic table types and the
// lookup are in FamilyTable.swift.

extension VFFamilyTable {
    /// Bits of the 82599/X540/X550 VF's registers and descriptors named in its table.
    private enum Ixgbe {
        /// VFLINKS (82599 datasheet §8.3): LINK_UP bit 30, SPEED 29:28, SPEED_NON_STD bit 27.
        static let linkUp: UInt32 = 1 << 30
        static let linkSpeedShift: UInt32 = 28
        static let linkNonStandardSpeed: UInt32 = 1 << 27
        /// VFSRRCTL.DROP_EN (bit 28).
        static let srrctlDropEnable: UInt32 = 1 << 28
        /// VFRXDCTL.VME (bit 30): strip the VLAN tag into the descriptor.
        static let vlanStrip: UInt32 = 1 << 30
        /// RX write-back extended errors (82599 datasheet §7.1.6): CE 24, LE 25, PE 27,
        /// OSE 28, USE 29, TCPE 30, IPE 31.
        static let crcError: UInt32 = 1 << 24
        static let lengthError: UInt32 = 1 << 25
        static let packetError: UInt32 = 1 << 27
        static let oversize: UInt32 = 1 << 28
        static let undersize: UInt32 = 1 << 29
        static let l4ChecksumError: UInt32 = 1 << 30
        static let ipChecksumError: UInt32 = 1 << 31
        /// TX data olinfo_status.CC (bit 7, 82599 datasheet §7.2.3.2.4): check the context
        /// at IDX; a VF must set it (Tx switching; X550 MDD stops a queue without it).
        static let checkContext: UInt32 = 1 << 7
    }

    /// 82599 / X540 / X550 VF register map, mailbox and descriptor facts.
    static func ixgbe(_ generation: VFGeneration) -> VFFamilyTable {
        VFFamilyTable(
            generation: generation,
            linkRegister: 0x0010, linkUpBit: Ixgbe.linkUp, linkSpeedShift: Ixgbe.linkSpeedShift,
            linkNonStandardSpeedBit: generation >= .x550 ? Ixgbe.linkNonStandardSpeed : 0,
            // VTEICR / VTEIMC / VTEIAC / VTEIAM.
            interruptCause: 0x0100, interruptMaskClear: 0x010C, interruptAutoClear: 0x0110, interruptAutoMask: 0x0114,
            // VFPSRTYPE.
            packetSplitType: 0x0300,
            // VFMAILBOX and VFMBMEM; legacy transaction (no PFACK wait), 4-word RESET reply, 50 ms settle.
            mailboxControl: 0x02FC, mailboxMemory: 0x0200, postWaitsForAck: false, resetReplyWords: 4,
            resetSettleMicroseconds: 50_000,
            queueResetValues: QueueResetValues(
                splitControl: 2 | 256 << UInt32(srrctlHeaderBufferShift),
                rxDCAControl: RelaxedOrdering.rxDescriptorRead | RelaxedOrdering.rxDataWrite | RelaxedOrdering.rxHeaderWrite,
                txDCAControl: RelaxedOrdering.txDescriptorRead | RelaxedOrdering.txDescriptorWriteBack | RelaxedOrdering.txDataRead),
            negotiatesAPI: true,
            perVFJumbo: generation >= .x540, maxFrameOverhead: 18, resetWaitTries: 10_000,
            maxQueues: 8,
            // VFRDBAL..VFRXDCTL at 0x1000 + 0x40·n; VFSRRCTL +0x14, VFDCA_RXCTRL +0x0C.
            rxQueue: QueueRegisterLayout(base: 0x1000, stride: 0x40, splitControl: 0x14, dcaControl: 0x0C),
            // VFTDBAL..VFTXDCTL at 0x2000 + 0x40·n; VFDCA_TXCTRL +0x0C.
            txQueue: QueueRegisterLayout(base: 0x2000, stride: 0x40, splitControl: 0, dcaControl: 0x0C),
            srrctlDropEnable: Ixgbe.srrctlDropEnable, maxBufferKiB: 16,
            rxControlThresholds: 0,
            // VFTXDCTL: PTHRESH 32, HTHRESH 1, WTHRESH 0 (poll mode).
            txControlThresholds: queueThresholds(prefetch: 32, host: 1, writeBack: 0),
            vlanStripBit: Ixgbe.vlanStrip, hasPerQueueMaxLength: generation >= .x540, pollsQueueEnable: true,
            rxDCAValue: RelaxedOrdering.rxDescriptorRead,
            txDCAValue: RelaxedOrdering.txDescriptorRead | RelaxedOrdering.txDataRead,
            rxBits: RxDescriptorBits(
                frameErrors: Ixgbe.crcError | Ixgbe.lengthError | Ixgbe.packetError | Ixgbe.oversize | Ixgbe.undersize,
                ipChecksumError: Ixgbe.ipChecksumError, l4ChecksumError: Ixgbe.l4ChecksumError,
                ignoreChecksum: 0, udpZeroChecksumErratum: generation == .x82599, loopbackVLANByteSwapped: false),
            // One data descriptor carries at most 16 KiB (Linux IXGBE_MAX_DATA_PER_TXD).
            txCheckContext: Ixgbe.checkContext, maxTxBytesPerDescriptor: 16 * 1024,
            linkDebounce: generation == .x82599,
            // VFGPRC, VFGORC_LSB/MSB, VFGPTC, VFGOTC_LSB/MSB, VFMPRC.
            stats: StatsRegisters(
                rxPackets: CounterRegister(low: 0x101C), rxOctets: CounterRegister(low: 0x1020, high: 0x1024),
                txPackets: CounterRegister(low: 0x201C), txOctets: CounterRegister(low: 0x2020, high: 0x2024),
                rxMulticast: CounterRegister(low: 0x1034)),
            // VFMRQC, VFRSSRK(0), VFRETA(0).
            rss: generation >= .x550 ? .vfRegisters(mrqc: 0x3000, key: 0x3100, reta: 0x3200) : .sharedWithPF,
            promiscuous: .xcastMode(unicastAllowed: generation >= .x540))
    }
}
