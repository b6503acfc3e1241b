import CShims
import PMDCore
#if canImport(Glibc)
import Glibc
#endif

/// What one receive burst works with, copied out of the VF once per burst.
struct ReceiveBurst {
    let table: IOMMUTableRef
    let generation: UInt64
    let filter: ReceiveFilter
    let rss: RSSConfig
    let hasher: RSSHash
    let errorBits: ReceiveErrorBits
    var stats: StatisticsRegisters
    /// Bit q set: queue q received in this burst (its head register is written at the end).
    var touched: UInt32 = 0
}

/// The write-back's error bits for the parse's verdicts, in the family's positions.
struct ReceiveErrorBits {
    /// IPE and TCPE as the family places them.
    let ipe: UInt32, tcpe: UInt32
    /// The verdicts that set TCPE: a bad L4 checksum and, on the 82599 (its erratum), a UDP
    /// frame without checksum (0).
    let l4Errors: UInt32

    init(family: SimulatedFamily) {
        typealias F = ParsedFrame.Flag
        ipe = family.isIxgbe ? AdvancedRxWriteBack.ixgbeIPE : AdvancedRxWriteBack.igbIPE
        tcpe = family.isIxgbe ? AdvancedRxWriteBack.ixgbeTCPE : AdvancedRxWriteBack.igbTCPE
        l4Errors = family == .ixgbe82599 ? F.l4Bad | F.udpZeroChecksum : F.l4Bad
    }

    /// The error bits of a frame with the parse's `flags`.
    @inline(__always) func errors(_ flags: UInt32) -> UInt32 {
        typealias F = ParsedFrame.Flag
        guard flags & (F.ipBad | F.l4Bad | F.udpZeroChecksum) != 0 else { return 0 }
        return (flags & F.ipBad != 0 ? ipe : 0) | (flags & l4Errors != 0 ? tcpe : 0)
    }
}

/// The receive path: frames from the wire, through the PF's filters and RSS, into the buffers
/// the driver posted, then written back (`AdvancedRxWriteBack`: 82599 datasheet §7.1.6.2) and
/// the head moved; the ring is the one of 82599 datasheet §7.1.9 (the device owns the
/// descriptors from head up to, not including, tail). One call per engine step.
extension SimulatedVF {
    func receive(now: UInt64) -> Bool {
        guard let source = rxSourceRef else { return false }
        let batch = rxBatch
        batch.removeAll()
        let n = source._withUnsafeGuaranteedRef { $0.source.pull(into: batch, limit: batch.capacity, now: now) }
        guard n > 0 else { return false }
        let c = counterStorage
        guard link.isUp, filter.receiveEnabled, busMaster else {
            c.pointee.rxNotReady &+= UInt64(n)
            if link.isUp && !filter.receiveEnabled { filterDropCounters.count(.receiveDisabled, frames: UInt64(n)) }
            return true
        }
        // The model's state in locals for the burst: no exclusivity check per frame.
        var burst = ReceiveBurst(table: container.table, generation: container.generation,
                                 filter: filter, rss: rssConfig, hasher: rss, errorBits: rxErrorBits, stats: stats)
        // The common case takes what it can; a frame it leaves goes the general way.
        var i = commonCasePaths ? deliverCommonCase(batch, from: 0, count: n, &burst) : 0
        while i < n {
            deliver(batch[i], &burst)
            i &+= 1
            if commonCasePaths && i < n { i = deliverCommonCase(batch, from: i, count: n, &burst) }
        }
        stats = burst.stats
        if burst.touched != 0 { raiseQueueCauses(burst.touched, tx: false) }
        var touched = burst.touched
        var q = 0
        while touched != 0 {
            if touched & 1 != 0 { registers.write(map.rx(q, RegisterMap.head), UInt32(rxQueues[q].head)) }
            touched >>= 1
            q &+= 1
        }
        registers.write(map.gprc, UInt32(truncatingIfNeeded: stats.rxPackets))
        registers.write(map.gorc, UInt32(truncatingIfNeeded: stats.rxOctets))
        if let msb = map.gorcMSB { registers.write(msb, StatisticsRegisters.octetMSB(stats.rxOctets)) }
        registers.write(map.mprc, UInt32(truncatingIfNeeded: stats.rxMulticast))
        return true
    }

    /// Delivers one frame into its queue's ring.
    @inline(__always)
    private func deliver(_ frame: FrameRef, _ burst: inout ReceiveBurst) {
        let c = counterStorage
        let data = frame.data
        let length = frame.length
        // The MAC drops runts: frames under 64 bytes on the wire (60 without CRC).
        guard length >= EthernetFraming.minimumLength else { c.pointee.rxUndersize &+= 1; return }
        let parsed = parseFrame(data, length: length)
        if let reason = burst.filter.dropReason(data, parsed) { filtered(data, parsed, reason); return }
        // Max frame counts the CRC; a tagged frame may be 4 bytes longer.
        let wireLength = length &+ EthernetFraming.crcLength
        guard wireLength <= burst.filter.maxFrame &+ (parsed.hasVLAN ? EthernetFraming.vlanTagLength : 0) else { oversized(length, parsed); return }

        var hash: UInt32 = 0
        var rssType: UInt32 = 0
        var q = 0
        if burst.rss.enabled {
            (hash, rssType) = Self.rssHash(data, parsed, fields: burst.rss.fields, hasher: burst.hasher)
            if rssType != 0 {
                q = Int(burst.rss.reta[Int(hash) & (burst.rss.retaSize &- 1)]) % max(1, burst.rss.queues)
            }
        }
        let st = rxQueues + q
        guard st.pointee.enabled, !st.pointee.halted else { c.pointee.rxNotReady &+= 1; return }
        if st.pointee.maxLength > 0 && wireLength > st.pointee.maxLength { oversized(length, parsed); return }
        if st.pointee.generation != burst.generation && translateRing(rx: true, q) == nil { return }
        guard let ring = st.pointee.ring else { c.pointee.rxNotReady &+= 1; return }
        let count = st.pointee.count
        // The tail is read once per burst and queue, at the queue's first frame: what the
        // device fetched of the descriptors the driver posted until then.
        if burst.touched & (1 << UInt32(q)) == 0 {
            burst.touched |= 1 << UInt32(q)
            let tail = Int(registers.read(map.rx(q, RegisterMap.tail)))
            if tail >= count {
                st.pointee.halted = true
                record(.tailOutOfRange, queue: q, "RX tail \(tail) of a \(count)-descriptor ring; queue stopped")
                return
            }
            st.pointee.burstTail = tail
        }
        let tail = st.pointee.burstTail
        let strip = parsed.hasVLAN && st.pointee.vlanStrip
        let outLength = strip ? length &- EthernetFraming.vlanTagLength : length
        let bufferSize = st.pointee.bufferSize
        // Descriptors the frame takes, and those the driver posted (head and tail are below
        // `count`): no division for the usual frame that fits one buffer.
        let needed = outLength <= bufferSize ? 1 : (outLength &+ bufferSize &- 1) / bufferSize
        var head = st.pointee.head
        let free = tail >= head ? tail &- head : tail &- head &+ count
        guard free >= needed else { c.pointee.rxMissed &+= 1; return }

        // Fields common to every descriptor of the frame: the status and packet type bits are
        // the parse's flags (`ParsedFrame.Flag`).
        let flags = parsed.flags
        let status = AdvancedRxWriteBack.dd | flags & ParsedFrame.Flag.statusMask
        let errors = burst.errorBits.errors(flags)
        let qword0 = UInt64(rssType | parsed.ptype) | UInt64(hash) << AdvancedRxWriteBack.rssHashShift
        let vlanField = strip ? UInt64(parsed.vlanTCI) << AdvancedRxWriteBack.vlanShift : 0

        var copied = 0
        var k = 0
        while k < needed {
            let d = ring + head &* RegisterMap.descriptorSize
            let address = d.load(as: UInt64.self)
            let chunk = min(bufferSize, outLength &- copied)
            guard let host = burst.table.translate(address, length: chunk, hint: &st.pointee.hint) else {
                dmaFault(iova: address, length: chunk, queue: q, access: .rxBuffer)
                st.pointee.head = head
                return
            }
            copyOut(data, strip: strip, from: copied, count: chunk, to: host)
            copied &+= chunk
            let last = k == needed &- 1
            var s = status
            var reportedLength = UInt64(chunk)
            if last {
                s |= AdvancedRxWriteBack.eop | errors
                if st.pointee.nextMissingEOP { s &= ~AdvancedRxWriteBack.eop; st.pointee.nextMissingEOP = false }
                if st.pointee.nextLengthOverflow {
                    reportedLength = UInt64(min(AdvancedRxWriteBack.maxLength, bufferSize &+ Self.lengthOverflowExcess))
                    st.pointee.nextLengthOverflow = false
                }
            }
            d.storeBytes(of: qword0, as: UInt64.self)
            vfpmd_store_release64(d + AdvancedRxWriteBack.statusOffset,
                                  UInt64(s) | reportedLength << AdvancedRxWriteBack.lengthShift | vlanField)
            head = head &+ 1 == count ? 0 : head &+ 1
            k &+= 1
        }
        st.pointee.head = head
        c.pointee.rxFrames &+= 1
        c.pointee.rxBytes &+= UInt64(outLength)
        burst.stats.countRX(bytes: length, multicast: parsed.isMulticast && !parsed.isBroadcast)
    }

    /// Counts a frame the PF's address or VLAN filters turned away, with what it was sent to.
    @inline(never)
    func filtered(_ data: UnsafeRawPointer, _ parsed: ParsedFrame, _ reason: FilterDropReason) {
        counterStorage.pointee.rxFiltered &+= 1
        filterDropCounters.count(reason)
        switch reason {
        case .unicastAddress: filterDropCounters.destinations.vote(ReceiveFilter.destination(data))
        case .vlan: filterDropCounters.vlans.vote(UInt64(parsed.vlanTCI & EthernetFraming.vlanIDMask))
        default: break
        }
    }

    /// Counts a frame longer than the VF's max frame size (SET_LPE, RLPML) with its length.
    @inline(never)
    func oversized(_ length: Int, _ parsed: ParsedFrame) {
        counterStorage.pointee.rxOversize &+= 1
        filterDropCounters.count(.frameSize)
        filterDropCounters.noteOversize(untaggedLength: length &- (parsed.hasVLAN ? EthernetFraming.vlanTagLength : 0))
    }

    /// Copies bytes [from, from+count) of the delivered frame (the wire frame without its
    /// 802.1Q tag when stripping) to `destination`.
    @inline(__always)
    private func copyOut(_ data: UnsafeRawPointer, strip: Bool, from: Int, count: Int, to destination: UnsafeMutableRawPointer) {
        guard strip else {
            memcpy(destination, data + from, count)
            return
        }
        var out = 0
        let addresses = EthernetFraming.addressesLength
        if from < addresses {
            let n = min(addresses &- from, count)
            memcpy(destination, data + from, n)
            out = n
        }
        if out < count { memcpy(destination + out, data + (from &+ out &+ EthernetFraming.vlanTagLength), count &- out) }
    }

    /// Bytes past the buffer the `rxLengthExceedsBuffer` fault reports.
    static let lengthOverflowExcess = 512

    /// The Toeplitz hash and RSS type of a frame for the enabled hash fields: over the source and
    /// destination addresses (IPv4 from byte 12 of the header, IPv6 from byte 8) and, for TCP and
    /// UDP, the two ports (82599 datasheet §7.1.2.8).
    @inline(__always)
    private static func rssHash(_ data: UnsafeRawPointer, _ p: ParsedFrame, fields f: UInt32, hasher rss: RSSHash) -> (UInt32, UInt32) {
        typealias W = AdvancedRxWriteBack
        let ports = Self.portsLength
        if p.isIPv4 {
            let ip = data + (p.l3Offset &+ Self.ipv4AddressesOffset)
            let n = Self.ipv4AddressesLength
            if p.l4Protocol == IPProtocolNumber.tcp && f & RSSHash.fieldIPv4TCP != 0 {
                return (rss.hash(ip, count: n) ^ rss.hash(data + p.l4Offset, count: ports, position: n), W.rssTypeIPv4TCP)
            }
            if p.l4Protocol == IPProtocolNumber.udp && f & RSSHash.fieldIPv4UDP != 0 {
                return (rss.hash(ip, count: n) ^ rss.hash(data + p.l4Offset, count: ports, position: n), W.rssTypeIPv4UDP)
            }
            if f & RSSHash.fieldIPv4 != 0 { return (rss.hash(ip, count: n), W.rssTypeIPv4) }
        } else if p.isIPv6 {
            let ip = data + (p.l3Offset &+ Self.ipv6AddressesOffset)
            let n = Self.ipv6AddressesLength
            if p.l4Protocol == IPProtocolNumber.tcp && f & RSSHash.fieldIPv6TCP != 0 {
                return (rss.hash(ip, count: n) ^ rss.hash(data + p.l4Offset, count: ports, position: n), W.rssTypeIPv6TCP)
            }
            if p.l4Protocol == IPProtocolNumber.udp && f & RSSHash.fieldIPv6UDP != 0 {
                return (rss.hash(ip, count: n) ^ rss.hash(data + p.l4Offset, count: ports, position: n), W.rssTypeIPv6UDP)
            }
            if f & RSSHash.fieldIPv6 != 0 { return (rss.hash(ip, count: n), W.rssTypeIPv6) }
        }
        return (0, 0)
    }

    /// Where the source and destination addresses sit in the IP headers, and their length.
    static let ipv4AddressesOffset = 12, ipv4AddressesLength = 8
    static let ipv6AddressesOffset = 8, ipv6AddressesLength = 32
    /// Bytes of the TCP/UDP source and destination ports, at the start of the L4 header.
    static let portsLength = 4
}
