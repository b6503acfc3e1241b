import PMDCore

// The igb VF family's hardware table: 82576 and I350 VFs (82576 datasheet §8.26 VF registers,
// §7.1.5 and §7.2.2 descriptors, §7.10 mailbox). The generic table types and the lookup are in
// FamilyTable.swift.

extension VFFamilyTable {
    /// Bits of the 82576/I350 VF's registers and descriptors named in its table.
    private enum Igb {
        /// STATUS (82576 datasheet §8.2): LU bit 1, SPEED 7:6.
        static let linkUp: UInt32 = 1 << 1
        static let linkSpeedShift: UInt32 = 6
        /// SRRCTL.DROP_EN (bit 31).
        static let srrctlDropEnable: UInt32 = 1 << 31
        /// RX write-back extended errors (82576 datasheet §7.1.5): CE 24, SE 25, SEQ 26,
        /// CXE 28, TCPE 29, IPE 30, RXE 31.
        static let crcError: UInt32 = 1 << 24
        static let symbolError: UInt32 = 1 << 25
        static let sequenceError: UInt32 = 1 << 26
        static let carrierExtensionError: UInt32 = 1 << 28
        static let l4ChecksumError: UInt32 = 1 << 29
        static let ipChecksumError: UInt32 = 1 << 30
        static let rxDataError: UInt32 = 1 << 31
        /// RX write-back status IXSM (bit 2): ignore the checksum indications.
        static let ignoreChecksum: UInt32 = 1 << 2
    }

    /// 82576 / I350 VF register map, mailbox and descriptor facts.
    static func igb(_ generation: VFGeneration) -> VFFamilyTable {
        VFFamilyTable(
            generation: generation,
            linkRegister: 0x0008, linkUpBit: Igb.linkUp, linkSpeedShift: Igb.linkSpeedShift,
            linkNonStandardSpeedBit: 0,
            // EICR / EIMC (poll mode masks everything and reads EICR only).
            interruptCause: 0x1580, interruptMaskClear: 0x1528, interruptAutoClear: nil, interruptAutoMask: nil,
            packetSplitType: nil,
            // V2PMAILBOX and VMBMEM; posted messages wait for PFACK; 3-word RESET reply.
            mailboxControl: 0x0C40, mailboxMemory: 0x0800, postWaitsForAck: true, resetReplyWords: 3,
            resetSettleMicroseconds: 0, queueResetValues: nil, negotiatesAPI: false,
            perVFJumbo: true, maxFrameOverhead: 22, resetWaitTries: 200,
            // 82576 VF: 2 queue pairs; I350 VF: 1.
            maxQueues: generation == .i82576 ? 2 : 1,
            // RDBAL..RXDCTL at 0x2800 + 0x100·q; SRRCTL +0x0C, DCA_RXCTRL +0x14.
            rxQueue: QueueRegisterLayout(base: 0x2800, stride: 0x100, splitControl: 0x0C, dcaControl: 0x14),
            // TDBAL..TXDCTL at 0x3800 + 0x100·q; DCA_TXCTRL +0x14.
            txQueue: QueueRegisterLayout(base: 0x3800, stride: 0x100, splitControl: 0, dcaControl: 0x14),
            srrctlDropEnable: Igb.srrctlDropEnable, maxBufferKiB: 127,
            // RXDCTL: PTHRESH 16, HTHRESH 8, WTHRESH 1 (82576 VF write-back erratum).
            rxControlThresholds: queueThresholds(prefetch: 16, host: 8, writeBack: 1),
            txControlThresholds: 0,
            vlanStripBit: nil, hasPerQueueMaxLength: false, pollsQueueEnable: false,
            rxDCAValue: RelaxedOrdering.rxDescriptorRead,
            txDCAValue: RelaxedOrdering.txDescriptorRead | RelaxedOrdering.txDataRead,
            rxBits: RxDescriptorBits(
                frameErrors: Igb.crcError | Igb.symbolError | Igb.sequenceError | Igb.carrierExtensionError | Igb.rxDataError,
                ipChecksumError: Igb.ipChecksumError, l4ChecksumError: Igb.l4ChecksumError,
                ignoreChecksum: Igb.ignoreChecksum, udpZeroChecksumErratum: false, loopbackVLANByteSwapped: generation == .i350),
            // DTALEN is 16 bits wide (82576 datasheet §7.2.2).
            txCheckContext: 0, maxTxBytesPerDescriptor: 64 * 1024 - 1,
            linkDebounce: false,
            // VFGPRC, VFGORC, VFGPTC, VFGOTC, VFMPRC.
            stats: StatsRegisters(
                rxPackets: CounterRegister(low: 0x0F10), rxOctets: CounterRegister(low: 0x0F18),
                txPackets: CounterRegister(low: 0x0F14), txOctets: CounterRegister(low: 0x0F34),
                rxMulticast: CounterRegister(low: 0x0F3C)),
            rss: .none,
            promiscuous: .igbSetPromisc)
    }
}
