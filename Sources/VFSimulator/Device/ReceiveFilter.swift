import PMDCore

/// The PF's receive filter for one VF, copied from its mailbox state into a form the receive
/// path reads without locks: exact MAC, multicast hash bitmap, VLAN bitmap, modes, max frame.
/// It stands for the PF's pool filters (82599 datasheet §7.10.3.2 pool selection, §7.10.3.10
/// MTA; 82576 datasheet §7.10.3) as the PF programs them for the VF's requests.
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
    var hashShift: UInt16 = ReceiveFilter.multicastHashShifts[0]

    /// The multicast hash: 12 bits of destination address bits 47:32 (bytes 4 and 5, little
    /// endian), shifted right by 4, 3, 2 or 0 for filter types 0...3 (the MTA of 82599 datasheet
    /// §7.10.3.10 and the 82576's; ixgbevf.md §5.5). igb uses type 0.
    static let multicastHashShifts: [UInt16] = [4, 3, 2, 0]
    static let multicastVectorMask: UInt16 = 0xFFF

    @inline(__always) func multicastListed(_ vector: UInt16) -> Bool {
        bitmaps[Int(vector >> 6)] & (1 << UInt64(vector & 63)) != 0
    }

    @inline(__always) func vlanJoined(_ id: UInt16) -> Bool {
        bitmaps[64 + Int(id >> 6)] & (1 << UInt64(id & 63)) != 0
    }

    /// Why the PF does not deliver a frame with this destination and tag to the VF; nil when
    /// it does.
    @inline(__always)
    func dropReason(_ frame: UnsafeRawPointer, _ parsed: ParsedFrame) -> FilterDropReason? {
        if parsed.hasVLAN {
            let id = parsed.vlanTCI & EthernetFraming.vlanIDMask
            if id != 0 && !vlanJoined(id) && xcast != .promiscuous { return .vlan }
        }
        if xcast == .promiscuous { return nil }
        if parsed.isMulticast {
            // Xcast NONE turns broadcast acceptance (VMOLR.BAM) off too, as the Linux ixgbe PF does.
            if parsed.isBroadcast { return xcast == .none ? .broadcast : nil }
            if xcast == .allMulti || multicastPromiscuous { return nil }
            guard xcast == .multi else { return .multicastGroup }
            let v = UInt16(frame.load(fromByteOffset: 4, as: UInt8.self)) | UInt16(frame.load(fromByteOffset: 5, as: UInt8.self)) << 8
            return multicastListed((v >> hashShift) & Self.multicastVectorMask) ? nil : .multicastGroup
        }
        guard let mac, Self.destination(frame) == mac else { return .unicastAddress }
        return nil
    }

    /// The frame's destination MAC, packed as `pack` packs a MAC.
    @inline(__always)
    static func destination(_ frame: UnsafeRawPointer) -> UInt64 {
        UInt64(frame.loadUnaligned(as: UInt32.self)) | UInt64(frame.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) << 32
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
        hashShift = family.isIxgbe ? Self.multicastHashShifts[Int(settings.multicastFilterType & 3)] : Self.multicastHashShifts[0]
    }

    /// A MAC packed as the receive path compares it.
    static func pack(_ mac: MACAddress) -> UInt64 {
        let b = mac.array
        var v: UInt64 = 0
        for i in 0..<6 { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }

    /// The MAC `pack` packed into `bits`.
    static func unpack(_ bits: UInt64) -> MACAddress {
        let b = (0..<6).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }
        return MACAddress(b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

extension SimulatedVF {
    /// Copies the PF's view into the receive filter and publishes the VF's MAC.
    func refreshFilter() {
        let (view, settings) = shared.withLock { ($0.view, $0.settings) }
        filter.load(view, family: family, settings: settings)
        macBits.store(filter.mac.map { $0 | 1 << 63 } ?? 0, ordering: .releasing)
        if !family.isIxgbe { for q in 0..<map.maxQueues { rxQueues[q].vlanStrip = filter.igbStrip } }
    }
}
