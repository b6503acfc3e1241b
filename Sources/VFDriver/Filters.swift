import PMDCore

/// What the VF asks of its PF: frame size, unicast/multicast modes, multicast list, VLAN
/// filters, MAC address; and RSS (82599 VF mailbox messages; 82576 VF mailbox messages).
extension VFPort {
    /// UPDATE_XCAST_MODE values.
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

    /// Sends every setting the PF keeps for the VF (after RESET the PF has forgotten them).
    func applyPFSettings() throws(VFDriverError) {
        try applyMaxFrame()
        try applyReceiveModes()
        try applyMulticastList()
        for id in configuration.vlanIDs { try requestVLAN(id, add: true) }
    }

    // MARK: - Frame size

    /// SET_LPE with the largest frame; sent even at MTU 1500 (the 82599 PF re-enables a VF's
    /// receive only on an acceptable SET_LPE).
    func applyMaxFrame() throws(VFDriverError) {
        if table.generation == .x82599 && apiVersion < .v1_1 && configuration.mtu > 1500 {
            throw .refusedByPF(address: function.address, what: "MTU \(configuration.mtu)",
                               reason: .limitation("an 82599 VF speaking mailbox API 1.0 cannot use jumbo frames: update the PF driver"))
        }
        let frame = configuration.mtu + table.maxFrameOverhead
        let reply = try mailbox.request([MailboxMessage.setLPE.id, UInt32(frame)], .setLPE, replyWords: 1)
        guard reply.acked else {
            let reason: PFRefusal = table.perVFJumbo
                ? .limitation("the PF accepts frames of 68 to 9728 bytes; use an MTU of at most 9706")
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
                    for q in 0..<queueCount {
                        let control = table.rxQueue.offset(table.rxQueue.control, queue: q)
                        let value = window.read(control) & ~0x3FFF | UInt32(configuration.maxFrameLength) & 0x3FFF | 0x8000
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
            if configuration.allMulticast || configuration.multicast.count > 30 { mode = .allMulticast }
            if configuration.promiscuous { mode = .promiscuous }
            if mode == .promiscuous && apiVersion < .v1_3 {
                throw .refusedByPF(address: function.address, what: mode.name,
                                   reason: .limitation("the PF speaks mailbox API \(apiVersion); promiscuous mode needs 1.3: update the PF driver"))
            }
            let reply = try mailbox.request([MailboxMessage.updateXcastMode.id, mode.rawValue],
                                            .updateXcastMode, replyWords: 2)
            // An untrusted VF is capped by the Linux PF, which still ACKs: check the mode applied.
            guard reply.acked && reply.words[1] >= mode.rawValue else {
                throw .refusedByPF(address: function.address, what: mode.name, reason: refusal(of: mode))
            }
        case .igbSetPromisc:
            // SET_PROMISC: 0x01 unicast, 0x02 multicast. Sent only when a mode is or was on
            // (a PF without the message NACKs it).
            var flags: UInt32 = 0
            if configuration.allMulticast { flags |= 0x02 }
            if configuration.promiscuous { flags |= 0x01 | 0x02 }
            guard flags != 0 || igbPromiscuousRequested else { return }
            let reply = try mailbox.request([MailboxMessage.setPromisc.id | flags << MessageWord.infoShift],
                                            .setPromisc, replyWords: 1)
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

    /// The 12-bit multicast hash of `mac` for the PF's hash type (bits 47:36, 46:35, 45:34, 43:32).
    static func multicastHash(_ mac: MACAddress, filterType: Int) -> UInt32 {
        let b = mac.array
        let value = UInt32(b[4]) | UInt32(b[5]) << 8
        let shift: UInt32 = [4, 3, 2, 0][filterType & 3]
        return (value >> shift) & 0xFFF
    }

    /// SET_MULTICAST with up to 30 hashes, two per word; MSGINFO carries the count (an igb PF
    /// given more than 30 turns on multicast promiscuous; an ixgbe VF uses all-multicast instead).
    func applyMulticastList() throws(VFDriverError) {
        let groups = configuration.multicast
        if groups.isEmpty && table.family == .igbvf { return }
        var words = [UInt32](repeating: 0, count: 16)
        let count = min(groups.count, 30)
        for (i, group) in groups.prefix(30).enumerated() {
            words[1 + i / 2] |= Self.multicastHash(group, filterType: multicastFilterType) << (16 * UInt32(i % 2))
        }
        let info = table.family == .igbvf ? UInt32(min(groups.count, 255)) : UInt32(count)
        words[0] = MailboxMessage.setMulticast.id | info << MessageWord.infoShift
        let reply = try mailbox.request(words, .setMulticast, replyWords: 1)
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

    /// SET_VLAN add or remove.
    func requestVLAN(_ id: UInt16, add: Bool) throws(VFDriverError) {
        let reply = try mailbox.request(
            [MailboxMessage.setVLAN.id | (add ? 1 : 0) << MessageWord.infoShift, UInt32(id)], .setVLAN, replyWords: 1)
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
                                            .setMACAddress, replyWords: 1)
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

    /// Programs the VF's RSS registers where it owns them (X550 and later): hash on IPv4,
    /// IPv4/TCP, IPv6, IPv6/TCP; the 64-entry table spreads over the queues.
    func configureRSS() {
        guard case let .vfRegisters(mrqc, keyOffset, retaOffset) = table.rss else { return }
        guard queueCount > 1 else {
            window.write(mrqc, 0)
            return
        }
        let key = configuration.rssKey ?? Self.defaultRSSKey
        for i in 0..<10 {
            let word = UInt32(key[4 * i]) | UInt32(key[4 * i + 1]) << 8 | UInt32(key[4 * i + 2]) << 16 | UInt32(key[4 * i + 3]) << 24
            window.write(keyOffset + 4 * i, word)
        }
        for r in 0..<16 {
            var word: UInt32 = 0
            for e in 0..<4 { word |= UInt32((r * 4 + e) % queueCount) << (8 * UInt32(e)) }
            window.write(retaOffset + 4 * r, word)
        }
        // RSSEN | IPv4/TCP | IPv4 | IPv6 | IPv6/TCP.
        window.write(mrqc, 1 | 1 << 16 | 1 << 17 | 1 << 20 | 1 << 21)
    }

    /// The well-known default Toeplitz key.
    static let defaultRSSKey: [UInt8] = [
        0x6D, 0x5A, 0x56, 0xDA, 0x25, 0x5B, 0x0E, 0xC2, 0x41, 0x67, 0x25, 0x3D, 0x43, 0xA3, 0x8F, 0xB0,
        0xD0, 0xCA, 0x2B, 0xCB, 0xAE, 0x7B, 0x30, 0xB4, 0x77, 0xCB, 0x2D, 0xA3, 0x80, 0x30, 0xF2, 0x0C,
        0x6A, 0x42, 0xB7, 0x3B, 0xBE, 0xAC, 0x01, 0xFA,
    ]

    /// The RSS key and redirection table in effect: the VF's own (X550+), or the PF's read
    /// through GET_RSS_KEY / GET_RETA (82599/X540, API 1.2+, when the administrator allows it).
    public func rssConfiguration() throws -> (key: [UInt8], redirection: [UInt8]) {
        switch table.rss {
        case let .vfRegisters(_, keyOffset, retaOffset):
            var key: [UInt8] = []
            for i in 0..<10 {
                let w = window.read(keyOffset + 4 * i)
                key += [UInt8(truncatingIfNeeded: w), UInt8(truncatingIfNeeded: w >> 8),
                        UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 24)]
            }
            var table: [UInt8] = []
            for r in 0..<16 {
                let w = window.read(retaOffset + 4 * r)
                for e in 0..<4 { table.append(UInt8(truncatingIfNeeded: w >> (8 * UInt32(e)))) }
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
                let keyReply = try mailbox.request([MailboxMessage.getRSSKey.id], .getRSSKey, replyWords: 11)
                guard keyReply.acked else {
                    throw .refusedByPF(address: function.address, what: "reading the RSS key", reason: .rssQueryDisabled)
                }
                for w in keyReply.words[1...10] {
                    key += [UInt8(truncatingIfNeeded: w), UInt8(truncatingIfNeeded: w >> 8),
                            UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 24)]
                }
                let retaReply = try mailbox.request([MailboxMessage.getRETA.id], .getRETA, replyWords: 9)
                guard retaReply.acked else {
                    throw .refusedByPF(address: function.address, what: "reading the RSS redirection table", reason: .rssQueryDisabled)
                }
                // 128 entries of 2 bits, 16 per word.
                for w in retaReply.words[1...8] {
                    for j in 0..<16 { table.append(UInt8((w >> (2 * UInt32(j))) & 0x3)) }
                }
            }
            return (key, table)
        case .none:
            throw VFDriverError.refusedByPF(address: function.address, what: "RSS",
                                            reason: .limitation("a \(table.generation) has no RSS of its own; use one queue"))
        }
    }
}
