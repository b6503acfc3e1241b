import PMDCore

/// What the VF asks of its PF: frame size, unicast/multicast modes, multicast list, VLAN
/// filters, MAC address (the PF–VF mailbox messages of Linux ixgbe_mbx.h IXGBE_VF_* and
/// e1000_mbx.h E1000_VF_*, word layouts in Mailbox.swift); and RSS (VFMRQC, VFRSSRK, VFRETA).
extension VFPort {
    /// UPDATE_XCAST_MODE values (Linux ixgbe_mbx.h `enum ixgbevf_xcast_modes`).
    enum XcastMode: UInt32 {
        /// Broadcast and the VF's own address only.
        case none = 0
        /// Plus the multicast hash list.
        case multicast = 1
        /// Plus every multicast frame.
        case allMulticast = 2
        /// Every frame the PF sees (API 1.3+).
        case promiscuous = 3

        var name: String {
            switch self {
            case .none: "broadcast-only receive"
            case .multicast: "multicast filtering"
            case .allMulticast: "all-multicast mode"
            case .promiscuous: "promiscuous mode"
            }
        }
    }

    /// The largest MTU without jumbo frames (Ethernet's 1500 bytes).
    static let standardMTU = 1500

    /// The largest frame the PF accepts: the largest MTU with the Ethernet header, a VLAN
    /// tag and the CRC.
    static let largestPFFrame: Int = {
        var largest = VFPortConfiguration()
        largest.mtu = VFPortConfiguration.mtuRange.upperBound
        return largest.maxFrameLength
    }()

    /// Sends every setting the PF keeps for the VF (after RESET the PF has forgotten them).
    func applyPFSettings() throws(VFDriverError) {
        try applyMaxFrame()
        try applyReceiveModes()
        try applyMulticastList()
        for id in configuration.vlanIDs { try requestVLAN(id, add: true) }
    }

    // MARK: - Frame size

    /// SET_LPE (word 1: the largest frame) with the largest frame; sent even at MTU 1500 (the
    /// 82599 PF re-enables a VF's receive only on an acceptable SET_LPE).
    func applyMaxFrame() throws(VFDriverError) {
        if table.generation == .x82599 && apiVersion < .v1_1 && configuration.mtu > Self.standardMTU {
            throw .refusedByPF(address: function.address, what: "MTU \(configuration.mtu)",
                               reason: .limitation("an 82599 VF speaking mailbox API 1.0 cannot use jumbo frames: update the PF driver"))
        }
        let frame = configuration.mtu + table.maxFrameOverhead
        let reply = try mailbox.request([MailboxMessage.setLPE.id, UInt32(frame)], .setLPE,
                                        replyWords: MailboxReply.statusOnlyWords)
        guard reply.acked else {
            let reason: PFRefusal = table.perVFJumbo
                ? .limitation("the PF accepts frames of \(VFPortConfiguration.mtuRange.lowerBound) to \(Self.largestPFFrame) bytes; use an MTU of at most \(VFPortConfiguration.mtuRange.upperBound)")
                : .sharedFrameLimit(mtu: configuration.mtu)
            throw .refusedByPF(address: function.address, what: "MTU \(configuration.mtu) (frames of \(frame) bytes)", reason: reason)
        }
    }

    /// Changes the MTU. It may not exceed what the RX buffers were sized for at open
    /// (unless scattered receive collects larger frames).
    public func setMTU(_ mtu: Int) throws {
        var wanted = configuration
        wanted.mtu = mtu
        try wanted.validate(for: table)
        guard wanted.maxReceivedFrame <= configuration.poolDataRoom else {
            throw VFDriverError.invalidConfiguration("MTU \(mtu) needs RX buffers of \(wanted.hardwareBufferSize) bytes but the port was opened with \(configuration.poolDataRoom): close and reopen it with the new MTU")
        }
        let old = configuration
        configuration.mtu = mtu
        configuration.rxBufferSize = old.hardwareBufferSize
        do {
            try withRecovery { () throws(VFDriverError) in
                try applyMaxFrame()
                if table.hasPerQueueMaxLength {
                    // RXDCTL.RLPML / RLPML_EN (VFRXDCTL, X540 and later).
                    for q in 0..<queueCount {
                        let control = table.rxQueue.offset(table.rxQueue.control, queue: q)
                        let value = window.read(control) & ~VFFamilyTable.rxControlMaxLengthMask
                            | VFFamilyTable.rxControlMaxLength(configuration.maxFrameLength)
                        window.write(control, value)
                    }
                }
            }
        } catch {
            configuration = old
            throw error
        }
    }

    // MARK: - Receive modes

    /// Promiscuous / all-multicast / multicast filtering as configured.
    func applyReceiveModes() throws(VFDriverError) {
        switch table.promiscuous {
        case .xcastMode:
            guard apiVersion >= .v1_2 else {
                if configuration.promiscuous || configuration.allMulticast {
                    throw .refusedByPF(address: function.address,
                                       what: configuration.promiscuous ? XcastMode.promiscuous.name : XcastMode.allMulticast.name,
                                       reason: .limitation("the PF speaks mailbox API \(apiVersion), which has no such request: update the PF driver"))
                }
                return
            }
            var mode = XcastMode.multicast
            if configuration.allMulticast || configuration.multicast.count > MulticastRequest.maxHashes { mode = .allMulticast }
            if configuration.promiscuous { mode = .promiscuous }
            if mode == .promiscuous && apiVersion < .v1_3 {
                throw .refusedByPF(address: function.address, what: mode.name,
                                   reason: .limitation("the PF speaks mailbox API \(apiVersion); promiscuous mode needs 1.3: update the PF driver"))
            }
            // UPDATE_XCAST_MODE: word 1 the mode asked; the reply's word 1 the mode applied.
            let reply = try mailbox.request([MailboxMessage.updateXcastMode.id, mode.rawValue],
                                            .updateXcastMode, replyWords: XcastModeReply.words)
            // An untrusted VF is capped by the Linux PF, which still ACKs: check the mode applied.
            guard reply.acked && reply.words[XcastModeReply.appliedModeWord] >= mode.rawValue else {
                throw .refusedByPF(address: function.address, what: mode.name, reason: refusal(of: mode))
            }
        case .igbSetPromisc:
            // SET_PROMISC: the unicast and multicast flags in MSGINFO. Sent only when a mode is
            // or was on (a PF without the message NACKs it).
            var flags: UInt32 = 0
            if configuration.allMulticast { flags |= IgbPromiscuousFlags.multicast }
            if configuration.promiscuous { flags |= IgbPromiscuousFlags.unicast | IgbPromiscuousFlags.multicast }
            guard flags != 0 || igbPromiscuousRequested else { return }
            let reply = try mailbox.request([MailboxMessage.setPromisc.id | flags << MessageWord.infoShift],
                                            .setPromisc, replyWords: MailboxReply.statusOnlyWords)
            guard reply.acked else {
                let what = configuration.promiscuous ? XcastMode.promiscuous.name : XcastMode.allMulticast.name
                throw .refusedByPF(address: function.address, what: what,
                                   reason: .limitation(configuration.promiscuous
                                       ? "the igb PF offers VFs multicast promiscuous mode only; use all-multicast, or set the VF's MAC on the sender"
                                       : "the PF does not support SET_PROMISC (a DPDK igb PF?): use a Linux igb PF"))
            }
            igbPromiscuousRequested = flags != 0
        }
    }

    /// Why the PF capped or refused `mode`: an 82599 PF never grants promiscuous mode; any
    /// other refusal is the PF not trusting the VF.
    func refusal(of mode: XcastMode) -> PFRefusal {
        if mode == .promiscuous && table.generation == .x82599 {
            return .limitation("the 82599 PF never grants promiscuous mode to a VF; use all-multicast, or an X540/X550 NIC")
        }
        return .untrusted(promiscuous: mode == .promiscuous)
    }

    /// Turns unicast promiscuous mode on or off (a trusted VF on X540/X550; refused otherwise).
    public func setPromiscuous(_ on: Bool) throws {
        try changeSetting({ $0.promiscuous = on }) { () throws(VFDriverError) in try applyReceiveModes() }
    }

    /// Turns all-multicast mode on or off.
    public func setAllMulticast(_ on: Bool) throws {
        try changeSetting({ $0.allMulticast = on }) { () throws(VFDriverError) in try applyReceiveModes() }
    }

    // MARK: - Multicast list

    /// The 12-bit multicast hash of `mac` for the PF's hash type (bits 47:36, 46:35, 45:34, 43:32):
    /// the address's last two bytes, little endian, shifted by the filter type.
    static func multicastHash(_ mac: MACAddress, filterType: Int) -> UInt32 {
        let b = mac.array
        let value = UInt32(b[4]) | UInt32(b[5]) << 8
        let shift = VFFamilyTable.multicastHashShifts[filterType & Int(ResetReply.filterTypeMask)]
        return (value >> shift) & VFFamilyTable.multicastHashMask
    }

    /// SET_MULTICAST with up to 30 hashes, two per word from word 1; MSGINFO carries the count
    /// (an igb PF given more than 30 turns on multicast promiscuous; an ixgbe VF uses
    /// all-multicast instead).
    func applyMulticastList() throws(VFDriverError) {
        let groups = configuration.multicast
        if groups.isEmpty && table.family == .igbvf { return }
        var words = [UInt32](repeating: 0, count: VFFamilyTable.mailboxWords)
        let count = min(groups.count, MulticastRequest.maxHashes)
        for (i, group) in groups.prefix(MulticastRequest.maxHashes).enumerated() {
            let hash = Self.multicastHash(group, filterType: multicastFilterType)
            words[1 + i / MulticastRequest.hashesPerWord] |=
                hash << (MulticastRequest.hashBits * UInt32(i % MulticastRequest.hashesPerWord))
        }
        let info = table.family == .igbvf ? UInt32(min(groups.count, Int(MessageWord.infoMask))) : UInt32(count)
        words[0] = MailboxMessage.setMulticast.id | info << MessageWord.infoShift
        let reply = try mailbox.request(words, .setMulticast, replyWords: MailboxReply.statusOnlyWords)
        guard reply.acked else {
            throw .refusedByPF(address: function.address, what: "the multicast list (\(groups.count) groups)",
                               reason: .limitation("use all-multicast mode instead"))
        }
    }

    /// Replaces the multicast groups received.
    public func setMulticastList(_ groups: [MACAddress]) throws {
        try changeSetting({ $0.multicast = groups }) { () throws(VFDriverError) in
            try applyMulticastList()
            try applyReceiveModes()
        }
    }

    // MARK: - VLAN filters

    /// SET_VLAN add or remove (MSGINFO add or remove, word 1 the VLAN ID).
    func requestVLAN(_ id: UInt16, add: Bool) throws(VFDriverError) {
        let info = add ? VLANRequest.add : VLANRequest.remove
        let reply = try mailbox.request([MailboxMessage.setVLAN.id | info << MessageWord.infoShift, UInt32(id)],
                                        .setVLAN, replyWords: MailboxReply.statusOnlyWords)
        guard reply.acked else {
            throw .refusedByPF(address: function.address, what: "VLAN \(id)",
                               reason: .portVLAN)
        }
    }

    /// Receives frames of VLAN `id` too.
    public func addVLAN(_ id: UInt16) throws {
        guard !configuration.vlanIDs.contains(id) else { return }
        try changeSetting({ $0.vlanIDs.append(id) }) { () throws(VFDriverError) in try requestVLAN(id, add: true) }
    }

    /// Stops receiving frames of VLAN `id`.
    public func removeVLAN(_ id: UInt16) throws {
        guard configuration.vlanIDs.contains(id) else { return }
        try changeSetting({ $0.vlanIDs.removeAll { $0 == id } }) { () throws(VFDriverError) in try requestVLAN(id, add: false) }
    }

    // MARK: - MAC address

    /// Uses `mac` as the port's address (the PF refuses when the administrator fixed the MAC).
    public func setMACAddress(_ mac: MACAddress) throws {
        guard !mac.isMulticast && !mac.isZero else {
            throw VFDriverError.invalidConfiguration("\(mac) is not a unicast address")
        }
        try changeSetting({ $0.mac = mac }) { () throws(VFDriverError) in
            let reply = try mailbox.request([MailboxMessage.setMACAddress.id] + Mailbox.words(for: mac),
                                            .setMACAddress, replyWords: MailboxReply.statusOnlyWords)
            guard reply.acked else {
                throw .refusedByPF(address: function.address, what: "the MAC address \(mac)",
                                   reason: .macFixed(wanted: mac))
            }
            macAddress = mac
        }
    }

    /// Applies a configuration change through the PF; on refusal the old configuration stays.
    func changeSetting(_ change: (inout VFPortConfiguration) -> Void,
                       _ apply: () throws(VFDriverError) -> Void) throws {
        let old = configuration
        change(&configuration)
        do {
            try configuration.validate(for: table)
            try withRecovery(apply)
        } catch {
            configuration = old
            if needsRecovery {
                // A recovery with the new setting failed: recover with the old one.
                recover(reason: "restoring the previous settings")
            } else if case VFDriverError.refusedByPF = error {
                // The PF may have applied a capped mode: put back what the port had.
                try? withRecovery { () throws(VFDriverError) in try applyReceiveModes() }
            }
            throw error
        }
    }

    // MARK: - RSS

    /// Programs the VF's RSS registers where it owns them (X550 and later: VFMRQC, VFRSSRK,
    /// VFRETA, layout in `VFFamilyTable.RSSRegisters`; the hash of 82599 datasheet §7.1.2.8):
    /// hash on IPv4, IPv4/TCP, IPv6, IPv6/TCP; the 64-entry table spreads over the queues.
    func configureRSS() {
        typealias RSS = VFFamilyTable.RSSRegisters
        guard case let .vfRegisters(mrqc, keyOffset, retaOffset) = table.rss else { return }
        guard queueCount > 1 else {
            // RSSEN and every hash field clear: RSS off.
            window.write(mrqc, 0)
            return
        }
        let key = configuration.rssKey ?? Self.defaultRSSKey
        for (i, word) in Self.rssKeyWords(key).enumerated() {
            window.write(keyOffset + RSS.registerStride * i, word)
        }
        for r in 0..<RSS.redirectionRegisters {
            var word: UInt32 = 0
            for e in 0..<RSS.entriesPerRedirectionRegister {
                let queue = (r * RSS.entriesPerRedirectionRegister + e) % queueCount
                word |= UInt32(queue) << (RSS.redirectionEntryBits * UInt32(e))
            }
            window.write(retaOffset + RSS.registerStride * r, word)
        }
        window.write(mrqc, RSS.enable | RSS.hashIPv4TCP | RSS.hashIPv4 | RSS.hashIPv6 | RSS.hashIPv6TCP)
    }

    /// The well-known default Toeplitz key (82599 datasheet §7.1.2.8.3).
    static let defaultRSSKey: [UInt8] = [
        0x6D, 0x5A, 0x56, 0xDA, 0x25, 0x5B, 0x0E, 0xC2, 0x41, 0x67, 0x25, 0x3D, 0x43, 0xA3, 0x8F, 0xB0,
        0xD0, 0xCA, 0x2B, 0xCB, 0xAE, 0x7B, 0x30, 0xB4, 0x77, 0xCB, 0x2D, 0xA3, 0x80, 0x30, 0xF2, 0x0C,
        0x6A, 0x42, 0xB7, 0x3B, 0xBE, 0xAC, 0x01, 0xFA,
    ]

    /// Bytes of the RSS key in one VFRSSRK register or GET_RSS_KEY reply word.
    static let rssKeyBytesPerWord = MemoryLayout<UInt32>.size

    /// The RSS key as its `RSSRegisters.keyRegisters` words, byte 0 in bits 7:0 of the first.
    static func rssKeyWords(_ key: [UInt8]) -> [UInt32] {
        (0..<VFFamilyTable.RSSRegisters.keyRegisters).map { i in
            (0..<rssKeyBytesPerWord).reduce(0) { word, b in
                word | UInt32(key[rssKeyBytesPerWord * i + b]) << (UInt32(UInt8.bitWidth) * UInt32(b))
            }
        }
    }

    /// The RSS key bytes held in `words`, byte 0 in bits 7:0 of the first.
    static func rssKeyBytes(_ words: some Sequence<UInt32>) -> [UInt8] {
        words.flatMap { w in
            (0..<rssKeyBytesPerWord).map { b in UInt8(truncatingIfNeeded: w >> (UInt32(UInt8.bitWidth) * UInt32(b))) }
        }
    }

    /// The RSS key and redirection table in effect: the VF's own (X550+), or the PF's read
    /// through GET_RSS_KEY / GET_RETA (82599/X540, API 1.2+, when the administrator allows it).
    public func rssConfiguration() throws -> (key: [UInt8], redirection: [UInt8]) {
        switch table.rss {
        case let .vfRegisters(_, keyOffset, retaOffset):
            typealias RSS = VFFamilyTable.RSSRegisters
            let key = Self.rssKeyBytes((0..<RSS.keyRegisters).map { window.read(keyOffset + RSS.registerStride * $0) })
            var table: [UInt8] = []
            for r in 0..<RSS.redirectionRegisters {
                let w = window.read(retaOffset + RSS.registerStride * r)
                for e in 0..<RSS.entriesPerRedirectionRegister {
                    table.append(UInt8(truncatingIfNeeded: w >> (RSS.redirectionEntryBits * UInt32(e))))
                }
            }
            return (key, table)
        case .sharedWithPF:
            guard apiVersion >= .v1_2 else {
                throw VFDriverError.refusedByPF(address: function.address, what: "reading the RSS configuration",
                                                reason: .limitation("the PF speaks mailbox API \(apiVersion); GET_RETA needs 1.2"))
            }
            var key: [UInt8] = []
            var table: [UInt8] = []
            try withRecovery { () throws(VFDriverError) in
                let keyReply = try mailbox.request([MailboxMessage.getRSSKey.id], .getRSSKey,
                                                   replyWords: SharedRSSReply.keyReplyWords)
                guard keyReply.acked else {
                    throw .refusedByPF(address: function.address, what: "reading the RSS key", reason: .rssQueryDisabled)
                }
                key = Self.rssKeyBytes(keyReply.words[1..<SharedRSSReply.keyReplyWords])
                let retaReply = try mailbox.request([MailboxMessage.getRETA.id], .getRETA,
                                                    replyWords: SharedRSSReply.redirectionReplyWords)
                guard retaReply.acked else {
                    throw .refusedByPF(address: function.address, what: "reading the RSS redirection table", reason: .rssQueryDisabled)
                }
                for w in retaReply.words[1..<SharedRSSReply.redirectionReplyWords] {
                    for j in 0..<SharedRSSReply.redirectionEntriesPerWord {
                        let entry = (w >> (SharedRSSReply.redirectionEntryBits * UInt32(j))) & SharedRSSReply.redirectionEntryMask
                        table.append(UInt8(entry))
                    }
                }
            }
            return (key, table)
        case .none:
            throw VFDriverError.refusedByPF(address: function.address, what: "RSS",
                                            reason: .limitation("a \(table.generation) has no RSS of its own; use one queue"))
        }
    }
}
