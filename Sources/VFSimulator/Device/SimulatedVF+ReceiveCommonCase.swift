import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The receive path's common case, decided once per burst: RSS off (every frame goes to queue
/// 0), queue 0 running with its ring translated for the current IOMMU table, no fault armed for
/// the next write-back. Ring, head, tail, buffer size and the buffers' IOMMU mapping stay in
/// locals for the burst; counters are added once at its end.
///
/// Per frame it does what `deliver` does for such a queue, with the same checks in the same
/// order and the same descriptor, buffer, register, counter and statistics results (the tests
/// compare the two): runts, the PF's filters and max frame, the queue's max length, the free
/// descriptors, the write-back of 82599 datasheet §7.1.6.2. A frame that needs more (a tag to
/// strip, more than one buffer, a buffer outside the IOMMU's mappings) ends the common case
/// before it is touched: `deliver` takes it.
extension SimulatedVF {
    /// Delivers frames `start...` of `batch` (of `n`) while the common case holds; returns the
    /// index of the first frame it left (`start` when the burst is not a common one, `n` when it
    /// took all).
    @inline(never)
    func deliverCommonCase(_ batch: FrameBatch, from start: Int, count n: Int, _ burst: inout ReceiveBurst) -> Int {
        let st = rxQueues
        guard !burst.rss.enabled, st.pointee.enabled, !st.pointee.halted, st.pointee.generation == burst.generation,
              !st.pointee.nextMissingEOP, !st.pointee.nextLengthOverflow, let ring = st.pointee.ring else { return start }
        let count = st.pointee.count
        var tail = st.pointee.burstTail
        if burst.touched & 1 == 0 {
            // Read at the burst's start rather than at its first delivered frame (a device
            // fetches posted descriptors when it likes); a tail out of range is the general
            // path's to report.
            tail = Int(registers.read(map.rx(0, RegisterMap.tail)))
            guard tail < count else { return start }
        }
        let c = counterStorage
        let filter = burst.filter
        let bufferSize = st.pointee.bufferSize
        let queueLimit = st.pointee.maxLength > 0 ? st.pointee.maxLength : Int.max
        let strip = st.pointee.vlanStrip
        let table = burst.table
        var hint = st.pointee.hint
        var window = TranslationWindow()
        var head = st.pointee.head
        var free = tail >= head ? tail &- head : tail &- head &+ count
        var frames: UInt64 = 0, bytes: UInt64 = 0
        var stats = burst.stats

        var i = start
        while i < n {
            let frame = batch[i]
            let data = frame.data, length = frame.length
            // The MAC drops runts: frames under 64 bytes on the wire (60 without CRC).
            guard length >= EthernetFraming.minimumLength else { c.pointee.rxUndersize &+= 1; i &+= 1; continue }
            let parsed = parseFrame(data, length: length)
            if let reason = filter.dropReason(data, parsed) { filtered(data, parsed, reason); i &+= 1; continue }
            // Max frame counts the CRC; a tagged frame may be 4 bytes longer.
            let wireLength = length &+ EthernetFraming.crcLength
            let tagged = parsed.hasVLAN
            guard wireLength <= filter.maxFrame &+ (tagged ? EthernetFraming.vlanTagLength : 0), wireLength <= queueLimit else {
                oversized(length, parsed)
                i &+= 1
                continue
            }
            if tagged && strip || length > bufferSize { break }
            if burst.touched & 1 == 0 {
                burst.touched |= 1
                st.pointee.burstTail = tail
            }
            guard free > 0 else { c.pointee.rxMissed &+= 1; i &+= 1; continue }
            let d = ring + head &* RegisterMap.descriptorSize
            let address = d.load(as: UInt64.self)
            guard let host = window.translate(address, length: length, table: table, hint: &hint) else { break }
            memcpy(host, data, length)
            let flags = parsed.flags
            let status = AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop | flags & ParsedFrame.Flag.statusMask
                | burst.errorBits.errors(flags)
            d.storeBytes(of: UInt64(parsed.ptype), as: UInt64.self)
            vfpmd_store_release64(d + AdvancedRxWriteBack.statusOffset, UInt64(status) | UInt64(length) << AdvancedRxWriteBack.lengthShift)
            head = head &+ 1 == count ? 0 : head &+ 1
            free &-= 1
            frames &+= 1
            bytes &+= UInt64(length)
            stats.countRX(bytes: length, multicast: parsed.isMulticast && !parsed.isBroadcast)
            i &+= 1
        }
        st.pointee.head = head
        st.pointee.hint = hint
        c.pointee.rxFrames &+= frames
        c.pointee.rxBytes &+= bytes
        burst.stats = stats
        return i
    }
}
