import PMDCore

/// The PF end of one VF's mailbox, answering as the Linux PF drivers do: ixgbe
/// (`ixgbe_rcv_msg_from_vf`) for the ixgbevf families, igb (`igb_rcv_msg_from_vf`) for igbvf.
///
/// It sees whole requests (16 words read from the mailbox memory) and returns the words to
/// write back, or nil for "no reply" (igb's rate-limited NACK). The caller moves the words and
/// raises PFACK/PFSTS.
struct PFMailboxResponder {
    private typealias M = PFMailboxMessage

    let family: SimulatedFamily
    /// When the igb PF last NACKed (or reset the VF's state), in engine nanoseconds.
    var lastNack: UInt64 = 0

    /// igb rate limit between NACKs to a VF that is not clear to send (2 s, Linux igb PF).
    static let igbNackInterval: UInt64 = 2_000_000_000
    /// Largest frame the Linux ixgbe PF accepts in SET_LPE.
    static let ixgbeMaxFrame = 9728
    /// igb PF clamp of SET_LPE.
    static let igbMaxFrame = 16128
    /// Multicast hashes the PFs keep.
    static let maxMulticastHashes = 30
    /// Bytes a frame adds to the MTU: Ethernet header (14) and CRC (4).
    static let frameOverhead = EthernetHeader.length + EthernetFraming.crcLength
    /// The standard MTU, and the largest untagged frame without and with CRC at that MTU.
    static let standardMTU = 1500, standardFrame = 1514, standardFrameWithCRC = 1518
    /// The smallest SET_LPE the ixgbe PF accepts.
    static let ixgbeMinFrame = 68

    /// Answers `request`; `nacked` holds message types the test asked the PF to refuse.
    mutating func respond(
        to request: [UInt32], view: inout PFView, settings: PFSettings, nacked: Set<UInt32>, now: UInt64
    ) -> [UInt32]? {
        var msg = request
        let type = msg[0] & PFMailboxMessage.typeMask
        // A PF ignores words that already carry a reply flag.
        if msg[0] & (PFMailboxMessage.ack | PFMailboxMessage.nack) != 0 { return nil }
        view.requestsHandled += 1

        if type == PFMailboxMessage.reset {
            return resetReply(view: &view, settings: settings, nacked: nacked.contains(type), now: now)
        }
        guard view.clearToSend else {
            // Not clear to send: NACK without CTS and do nothing. igb rate-limits these NACKs
            // to one per 2 s and otherwise stays silent.
            if !family.isIxgbe {
                guard now &- lastNack > Self.igbNackInterval else { return nil }
                lastNack = now
            }
            return [msg[0] | PFMailboxMessage.nack]
        }
        let ok: Bool
        if nacked.contains(type) {
            ok = false
        } else if family.isIxgbe {
            ok = ixgbeHandle(&msg, type: type, view: &view, settings: settings)
        } else {
            ok = igbHandle(&msg, type: type, view: &view, settings: settings)
        }
        msg[0] |= (ok ? PFMailboxMessage.ack : PFMailboxMessage.nack) | PFMailboxMessage.cts
        // The Linux ixgbe PF writes the whole 16-word buffer back; the igb PF one word.
        return family.isIxgbe ? msg : [msg[0]]
    }

    /// The VF acknowledged a PF message: a VF that is not clear to send gets a bare NACK
    /// (igb: rate-limited as its NACKs to requests).
    mutating func respondToAck(view: PFView, now: UInt64) -> [UInt32]? {
        guard !view.clearToSend else { return nil }
        if !family.isIxgbe {
            guard now &- lastNack > Self.igbNackInterval else { return nil }
            lastNack = now
        }
        return [PFMailboxMessage.nack]
    }

    /// The PF reset its state for the VF (VF reset, FLR, PF reset): CTS off, API 1.0.
    mutating func vfStateReset(view: inout PFView, now: UInt64) {
        view.clearToSend = false
        view.api = .v1_0
        lastNack = now
    }

    // MARK: - RESET

    private mutating func resetReply(view: inout PFView, settings: PFSettings, nacked: Bool, now: UInt64) -> [UInt32] {
        view.clearToSend = true
        view.api = .v1_0
        view.multicastHashes = []
        view.multicastPromiscuous = false
        view.vlans = []
        view.xcastMode = .multi
        if view.mac == nil { view.mac = settings.administrativeMAC }
        if family == .ixgbe82599 { view.receiveEnabled = settings.pfMTU <= Self.standardMTU }
        view.maxFrame = max(view.maxFrame, settings.pfMTU + Self.frameOverhead)
        lastNack = now
        let mac = nacked ? nil : view.mac
        let (w1, w2) = mac.map(Self.words(of:)) ?? (0, 0)
        let word0 = PFMailboxMessage.reset | (mac != nil ? PFMailboxMessage.ack : PFMailboxMessage.nack)
        if family.isIxgbe {
            // ixgbe PF: 4 words (permanent MAC, multicast filter type), no CTS; the rest of the
            // VF's mailbox memory is cleared first.
            let reply = [word0, w1, w2, settings.multicastFilterType]
            return reply + Array(repeating: 0, count: MailboxBits.memoryWords - PFMailboxMessage.ixgbeResetReplyWords)
        }
        return [word0, w1, w2]
    }

    // MARK: - ixgbe PF

    private func ixgbeHandle(_ msg: inout [UInt32], type: UInt32, view: inout PFView, settings: PFSettings) -> Bool {
        let info = (msg[0] & PFMailboxMessage.infoMask) >> PFMailboxMessage.infoShift
        switch type {
        case PFMailboxMessage.setMACAddress:
            let mac = Self.mac(msg[1], msg[2])
            guard !mac.isMulticast, !mac.isZero else { return false }
            if let admin = settings.administrativeMAC, !settings.trusted, admin != mac { return false }
            view.mac = mac
            return true
        case PFMailboxMessage.setMulticast:
            view.multicastHashes = Self.hashes(msg, count: min(Int(info), Self.maxMulticastHashes))
            return true
        case PFMailboxMessage.setVLAN:
            return setVLAN(add: info & M.vlanAdd != 0, id: UInt16(msg[1] & M.vlanIDMask), view: &view, settings: settings)
        case PFMailboxMessage.setLPE:
            return ixgbeSetLPE(Int(msg[1]), view: &view, settings: settings)
        case PFMailboxMessage.setMACVLAN:
            // Extra unicast filters: accepted (the model filters on the primary MAC only).
            return info == 0 || !Self.mac(msg[1], msg[2]).isMulticast
        case PFMailboxMessage.apiNegotiate:
            guard let api = PFMailboxAPI(rawValue: msg[1]), api != .v2_0, api <= .v1_4 else { return false }
            view.api = api
            return true
        case PFMailboxMessage.getQueues:
            guard view.api >= .v1_1 else { return false }
            msg[1] = UInt32(settings.queuesPerPool)
            msg[2] = UInt32(settings.queuesPerPool)
            msg[3] = settings.portVLAN != nil ? 1 : 0
            msg[4] = 0
            return true
        case PFMailboxMessage.getRETA:
            guard rssQueryAllowed(view: view, settings: settings) else { return false }
            let mask = UInt8(max(1, min(4, settings.queuesPerPool)) - 1)
            let perWord = M.retaEntriesPerWord
            for i in 0..<M.retaWords {
                var w: UInt32 = 0
                for j in 0..<perWord { w |= UInt32(settings.pfRETA[perWord * i + j] & mask) << (M.retaEntryBits * UInt32(j)) }
                msg[1 + i] = w
            }
            return true
        case PFMailboxMessage.getRSSKey:
            guard rssQueryAllowed(view: view, settings: settings) else { return false }
            for i in 0..<M.rssKeyWords {
                let k = settings.pfRSSKey
                msg[1 + i] = UInt32(k[4 * i]) | UInt32(k[4 * i + 1]) << 8 | UInt32(k[4 * i + 2]) << 16 | UInt32(k[4 * i + 3]) << 24
            }
            return true
        case PFMailboxMessage.updateXcastMode:
            return updateXcast(&msg, view: &view, settings: settings)
        case PFMailboxMessage.getLinkState:
            guard view.api >= .v1_2, view.api <= .v1_4 else { return false }
            msg[1] = settings.administrativeLinkEnabled ? 1 : 0
            return true
        default:
            return false
        }
    }

    private func rssQueryAllowed(view: PFView, settings: PFSettings) -> Bool {
        family == .ixgbe82599 && view.api >= .v1_2 && view.api <= .v1_4 && settings.rssQueryEnabled
    }

    private func ixgbeSetLPE(_ maxFrame: Int, view: inout PFView, settings: PFSettings) -> Bool {
        if family == .ixgbe82599 {
            // 82599: PF and VFs share one max frame; a VF may use jumbo only with API >= 1.1 and
            // a jumbo PF; otherwise its receive path is turned off.
            let pfMaxFrame = settings.pfMTU + EthernetHeader.length
            var bad = false
            if !(view.api >= .v1_1 && pfMaxFrame > Self.standardFrame) {
                bad = pfMaxFrame > Self.standardFrame || maxFrame > Self.standardFrameWithCRC
            }
            view.receiveEnabled = !bad
            if bad { return false }
        }
        guard maxFrame >= Self.ixgbeMinFrame, maxFrame <= Self.ixgbeMaxFrame else { return false }
        view.maxFrame = max(view.maxFrame, maxFrame)
        return true
    }

    private func updateXcast(_ msg: inout [UInt32], view: inout PFView, settings: PFSettings) -> Bool {
        guard let requested = PFXcastMode(rawValue: msg[1]) else { return false }
        switch view.api {
        case .v1_2: if requested == .promiscuous { return false }
        case .v1_3, .v1_4: break
        default: return false
        }
        var mode = requested
        // Untrusted VFs are capped at MULTI and still ACKed: reply word 1 says what applies.
        if mode > .multi && !settings.trusted { mode = .multi }
        if mode == .promiscuous {
            if family == .ixgbe82599 { return false }
            if !settings.pfPromiscuous { return false }
        }
        view.xcastMode = mode
        msg[1] = mode.rawValue
        return true
    }

    // MARK: - igb PF

    private func igbHandle(_ msg: inout [UInt32], type: UInt32, view: inout PFView, settings: PFSettings) -> Bool {
        let info = (msg[0] & PFMailboxMessage.infoMask) >> PFMailboxMessage.infoShift
        switch type {
        case PFMailboxMessage.setMACAddress:
            // The primary MAC (MSGINFO 0) or an extra filter (1 clear, 2 add): both refused when
            // the administrator set the MAC of an untrusted VF, or for an invalid address.
            if settings.administrativeMAC != nil && !settings.trusted { return false }
            let mac = Self.mac(msg[1], msg[2])
            guard !mac.isMulticast, !mac.isZero else { return false }
            if info == 0 { view.mac = mac }  // extra filters are accepted, not filtered on
            return true
        case PFMailboxMessage.setMulticast:
            let count = Int(info & M.igbMulticastCountMask)
            view.multicastHashes = Self.hashes(msg, count: min(count, Self.maxMulticastHashes))
            view.multicastPromiscuous = count > Self.maxMulticastHashes || info & M.igbMulticastOverflow != 0
            return true
        case PFMailboxMessage.setVLAN:
            return setVLAN(add: info & M.vlanAdd != 0, id: UInt16(msg[1] & M.vlanIDMask), view: &view, settings: settings)
        case PFMailboxMessage.setLPE:
            view.maxFrame = min(Int(msg[1]), Self.igbMaxFrame)
            return true
        case PFMailboxMessage.igbSetPromisc:
            // Multicast promiscuous only; the unicast flag is refused.
            guard info & ~M.igbPromiscMulticast == 0 else { return false }
            view.multicastPromiscuous = info & M.igbPromiscMulticast != 0
            return true
        default:
            return false
        }
    }

    // MARK: - Shared

    private func setVLAN(add: Bool, id: UInt16, view: inout PFView, settings: PFSettings) -> Bool {
        guard settings.portVLAN == nil else { return false }
        if add { view.vlans.insert(id) } else if id != 0 { view.vlans.remove(id) }
        return true
    }

    /// The hash vectors of a SET_MULTICAST message: 16-bit values, two per word, low half first.
    static func hashes(_ msg: [UInt32], count: Int) -> [UInt16] {
        (0..<count).map { i in UInt16(truncatingIfNeeded: msg[1 + i / 2] >> (16 * UInt32(i % 2))) }
    }

    /// The MAC in words 1–2 of a message (wire order from byte 0 of word 1).
    static func mac(_ w1: UInt32, _ w2: UInt32) -> MACAddress {
        MACAddress(UInt8(truncatingIfNeeded: w1), UInt8(truncatingIfNeeded: w1 >> 8), UInt8(truncatingIfNeeded: w1 >> 16),
                   UInt8(truncatingIfNeeded: w1 >> 24), UInt8(truncatingIfNeeded: w2), UInt8(truncatingIfNeeded: w2 >> 8))
    }

    /// Words 1–2 of a message carrying `mac`.
    static func words(of mac: MACAddress) -> (UInt32, UInt32) {
        let b = mac.array
        return (UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24, UInt32(b[4]) | UInt32(b[5]) << 8)
    }
}
