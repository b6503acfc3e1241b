import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The transmit path's common case: packets each in one advanced data descriptor with EOP,
/// asking for no VLAN insertion and no checksum (82599 datasheet §7.2.3.2.4). They are sent as
/// the general path in `transmitQueue` sends them (the tests compare the two): the X550's
/// context check, the buffer's translation and copy, DD written back where RS asks, padding,
/// the spoof and link checks, counters and statistics. Ring position, batch position and the
/// buffers' IOMMU mapping stay in locals; counters are added once at the end. Any other packet
/// (context descriptors, a gather, VLE, offloads, an empty or too long buffer, a buffer outside
/// the IOMMU's mappings) is left to the general path.
extension SimulatedVF {
    private typealias T = AdvancedTxDescriptor

    /// The cmd_type_len bits that make a descriptor a common case, and their values: advanced
    /// data descriptor, end of packet, no VLAN insertion.
    private static let singleDescriptorMask = T.dext | T.dtypMask << T.dtypShift | T.eop | T.vle
    private static let singleDescriptorValue = T.dext | T.dtypData << T.dtypShift | T.eop

    /// Sends the packets of TX queue `q` from descriptor `head` up to `tail` while each is a
    /// common case and the batch has room; returns the descriptor it stopped at (`tail`, or the
    /// first packet it left to the general path).
    @inline(never)
    func transmitCommonCase(queue q: Int, ring: UnsafeMutableRawPointer, from head: Int, to tail: Int, batch: FrameBatch,
                            slotLimit: Int, table: IOMMUTableRef, _ burst: inout TransmitBurst, now: UInt64) -> Int {
        let st = txQueues + q
        let count = st.pointee.count
        let x550 = family == .ixgbeX550
        let contextValid = st.pointee.contextValid
        var hint = st.pointee.hint
        var window = TranslationWindow()
        var stats = burst.stats
        let slots = batch.arena, slotSize = batch.slotSize, refs = batch.refs, capacity = batch.capacity
        var n = batch.count
        var frames: UInt64 = 0, bytes: UInt64 = 0
        var wroteBack = false
        var h = head
        while h != tail && n < capacity {
            let d = ring + h &* RegisterMap.descriptorSize
            let cmd = d.load(fromByteOffset: T.commandOffset, as: UInt32.self)
            let olinfo = d.load(fromByteOffset: T.statusOffset, as: UInt32.self)
            let length = Int(cmd & T.lengthMask)
            guard cmd & Self.singleDescriptorMask == Self.singleDescriptorValue, olinfo & (T.ixsm | T.txsm) == 0,
                  length > 0, length <= slotLimit else { break }
            if x550 {
                // Malicious driver detection wants CC and a context of the descriptor's index.
                let idx = (olinfo >> T.idxShift) & T.ixgbeContextIndexMask
                guard olinfo & T.cc != 0, contextValid & (1 << UInt8(idx)) != 0 else { break }
            }
            guard let host = window.translate(d.load(as: UInt64.self), length: length, table: table, hint: &hint) else { break }
            let slot = slots + n &* slotSize
            memcpy(slot, host, length)
            if cmd & T.rs != 0 {
                vfpmd_store_release32(d + T.statusOffset, T.dd)
                wroteBack = true
            }
            h = h &+ 1 == count ? 0 : h &+ 1
            guard let wireLength = finish(slot, length: length, burst) else { continue }
            refs[n] = FrameRef(data: slot, length: wireLength, timestamp: now)
            n &+= 1
            frames &+= 1
            bytes &+= UInt64(wireLength)
            stats.countTX(bytes: wireLength)
        }
        batch.storedCount = n
        st.pointee.hint = hint
        let c = counterStorage
        c.pointee.txFrames &+= frames
        c.pointee.txBytes &+= bytes
        burst.stats = stats
        if wroteBack { burst.wroteBack |= 1 << UInt32(q) }
        return h
    }
}
