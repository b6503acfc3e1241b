import PMDCore

/// The PF's receive filter for one VF, copied from its mailbox state into a form the receive
/// path reads without locks: exact MAC, multicast hash bitmap, VLAN bitmap, modes, max frame.
struct ReceiveFilter {
    /// The VF's MAC as 48 bits in wire order packed little-endian; nil before any.
    var mac: UInt64?
    /// One bit per 12-bit multicast hash vector, and per VLAN id (64 words each).
    let bitmaps: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 128)
        p.initialize(repeating: 0, count: 128)
        return p
    }()
    var xcast: PFXcastMode = .multi
    var multicastPromiscuous = false
    var anyVLAN = false
    var maxFrame = 1518
    var receiveEnabled = true
    var igbStrip = false
    /// Right shift of bits 47:32 for the multicast hash (ixgbe mc_filter_type 0..3 → 4,3,2,0).
    var hashShift: UInt16 = 4

    @inline(__always) func multicastListed(_ vector: UInt16) -> Bool {
        bitmaps[Int(vector >> 6)] & (1 << UInt64(vector & 63)) != 0
    }

    @inline(__always) func vlanJoined(_ id: UInt16) -> Bool {
        bitmaps[64 + Int(id >> 6)] & (1 << UInt64(id & 63)) != 0
    }

    /// Whether a frame with this destination and tag is for the VF.
    @inline(__always)
    func accepts(_ frame: UnsafeRawPointer, _ parsed: ParsedFrame) -> Bool {
        if parsed.hasVLAN {
            let id = parsed.vlanTCI & 0xFFF
            if id != 0 && !vlanJoined(id) && xcast != .promiscuous { return false }
        }
        if xcast == .promiscuous { return true }
        if parsed.isMulticast {
            // Xcast NONE turns broadcast acceptance (VMOLR.BAM) off too, as the Linux ixgbe PF does.
            if parsed.isBroadcast { return xcast != .none }
            if xcast == .allMulti || multicastPromiscuous { return true }
            guard xcast == .multi else { return false }
            let v = UInt16(frame.load(fromByteOffset: 4, as: UInt8.self)) | UInt16(frame.load(fromByteOffset: 5, as: UInt8.self)) << 8
            return multicastListed((v >> hashShift) & 0xFFF)
        }
        guard let mac else { return false }
        let d = UInt64(frame.loadUnaligned(as: UInt32.self)) | UInt64(frame.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) << 32
        return d == mac
    }

    /// Loads the PF's view.
    mutating func load(_ view: PFView, family: SimulatedFamily, settings: PFSettings) {
        mac = view.mac.map(Self.pack)
        bitmaps.update(repeating: 0, count: 128)
        for h in view.multicastHashes { bitmaps[Int(h >> 6) & 63] |= 1 << UInt64(h & 63) }
        for id in view.vlans { bitmaps[64 + Int(id >> 6) & 63] |= 1 << UInt64(id & 63) }
        anyVLAN = !view.vlans.isEmpty
        xcast = view.xcastMode
        multicastPromiscuous = view.multicastPromiscuous
        maxFrame = view.maxFrame
        receiveEnabled = view.receiveEnabled
        igbStrip = settings.igbStripVLAN || anyVLAN
        hashShift = family.isIxgbe ? [4, 3, 2, 0][Int(settings.multicastFilterType & 3)] : 4
    }

    /// A MAC packed as the receive path compares it.
    static func pack(_ mac: MACAddress) -> UInt64 {
        let b = mac.array
        var v: UInt64 = 0
        for i in 0..<6 { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }
}

/// The RSS configuration the receive path uses: X550 from its own VFMRQC/VFRSSRK/VFRETA
/// registers; 82599 from the PF's key and table, for the queues the VF's PSRTYPE asks for.
struct RSSConfig {
    var enabled = false
    var fields: UInt32 = 0
    /// Redirection table entries (64 on X550, 128 on 82599) and the queues they may select.
    let reta: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
        p.initialize(repeating: 0, count: 128)
        return p
    }()
    var retaSize = 64
    var queues = 1
    /// The key words last read from the registers (X550).
    var keyWords = [UInt32](repeating: 0, count: 10)
}

extension SimulatedVF {
    /// Copies the PF's view into the receive filter and publishes the VF's MAC.
    func refreshFilter() {
        let (view, settings) = shared.withLock { ($0.view, $0.settings) }
        filter.load(view, family: family, settings: settings)
        macBits.store(filter.mac.map { $0 | 1 << 63 } ?? 0, ordering: .releasing)
        if !family.isIxgbe { for q in 0..<map.maxQueues { rxQueues[q].vlanStrip = filter.igbStrip } }
    }

    /// 82599: the PF's key and table (after settings change).
    func refreshPFRSS() {
        guard family == .ixgbe82599 else { return }
        rss.rebuild(key: settings.pfRSSKey)
        rssConfig.fields = settings.pfRSSFields
        rssConfig.retaSize = 128
        for i in 0..<128 { rssConfig.reta[i] = settings.pfRETA[i % max(1, settings.pfRETA.count)] }
    }

    /// Reads the RSS registers (X550) or PSRTYPE (82599) at every control pass.
    func refreshRSS() {
        switch family {
        case .ixgbeX550:
            let mrqc = registers.read(map.mrqc)
            rssConfig.enabled = mrqc & 1 != 0
            rssConfig.fields = mrqc & 0xFFFF_0000
            rssConfig.retaSize = 64
            rssConfig.queues = settings.queuesPerPool
            var changed = false
            for i in 0..<10 {
                let w = registers.read(map.rssKey + 4 * i)
                if rssConfig.keyWords[i] != w { rssConfig.keyWords[i] = w; changed = true }
            }
            if changed {
                var key = [UInt8](repeating: 0, count: 40)
                for i in 0..<40 { key[i] = UInt8(truncatingIfNeeded: rssConfig.keyWords[i / 4] >> (8 * UInt32(i % 4))) }
                rss.rebuild(key: key)
            }
            for i in 0..<16 {
                let w = registers.read(map.reta + 4 * i)
                for j in 0..<4 { rssConfig.reta[4 * i + j] = UInt8(truncatingIfNeeded: w >> (8 * UInt32(j))) }
            }
        case .ixgbe82599:
            let rqpl = Int(registers.read(map.psrtype) >> 29) & 3
            rssConfig.enabled = rqpl > 0
            rssConfig.queues = min(1 << rqpl, settings.queuesPerPool)
        case .igb82576:
            rssConfig.enabled = false
        }
    }
}
