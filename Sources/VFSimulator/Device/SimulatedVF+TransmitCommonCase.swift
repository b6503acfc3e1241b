import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The transmit path's common case: a packet in one advanced data descriptor with EOP, asking
/// for no VLAN insertion and no checksum (82599 datasheet §7.2.3.2.4). It is sent as the general
/// path in `transmitQueue` sends it (the tests compare the two): the X550's context check, the
/// buffer's translation and copy, DD written back where RS asks, padding, the spoof and link
/// checks, counters and statistics. Any other packet (context descriptors, a gather, VLE,
/// offloads, an empty or too long buffer, a buffer outside the IOMMU's mappings) is left to the
/// general path.
extension SimulatedVF {
    private typealias T = AdvancedTxDescriptor

    /// The cmd_type_len bits that make a descriptor a common case, and their values: advanced
    /// data descriptor, end of packet, no VLAN insertion.
    private static let singleDescriptorMask = T.dext | T.dtypMask << T.dtypShift | T.eop | T.vle
    private static let singleDescriptorValue = T.dext | T.dtypData << T.dtypShift | T.eop

    /// Sends the packet of descriptor `d` of TX queue `q` when it is a common case and returns
    /// true (the packet is done: sent or dropped); returns false, having changed nothing, when
    /// it is not.
    @inline(__always)
    func transmitSingleDescriptor(_ d: UnsafeMutableRawPointer, queue q: Int, batch: FrameBatch, slotLimit: Int,
                                  window: inout TranslationWindow, table: IOMMUTableRef,
                                  _ burst: inout TransmitBurst, now: UInt64) -> Bool {
        let cmd = d.load(fromByteOffset: T.commandOffset, as: UInt32.self)
        let olinfo = d.load(fromByteOffset: T.statusOffset, as: UInt32.self)
        let length = Int(cmd & T.lengthMask)
        guard cmd & Self.singleDescriptorMask == Self.singleDescriptorValue, olinfo & (T.ixsm | T.txsm) == 0,
              length > 0, length <= slotLimit else { return false }
        let st = txQueues + q
        if family == .ixgbeX550 {
            // Malicious driver detection wants CC and a context of the descriptor's index.
            let idx = (olinfo >> T.idxShift) & T.ixgbeContextIndexMask
            guard olinfo & T.cc != 0, st.pointee.contextValid & (1 << UInt8(idx)) != 0 else { return false }
        }
        guard let host = window.translate(d.load(as: UInt64.self), length: length, table: table, hint: &st.pointee.hint) else {
            return false
        }
        let slot = batch.nextSlot
        memcpy(slot, host, length)
        if cmd & T.rs != 0 {
            vfpmd_store_release32(d + T.statusOffset, T.dd)
            burst.wroteBack |= 1 << UInt32(q)
        }
        send(slot, length: length, batch: batch, &burst, now: now)
        return true
    }
}
