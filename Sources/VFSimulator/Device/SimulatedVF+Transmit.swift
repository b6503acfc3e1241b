import CShims
#if canImport(Glibc)
import Glibc
#endif

/// TX descriptor bits (advanced formats).
enum AdvancedTxDescriptor {
    static let dtypShift: UInt32 = 20, dtypMask: UInt32 = 0xF
    static let dtypData: UInt32 = 0x3, dtypContext: UInt32 = 0x2
    static let eop: UInt32 = 1 << 24, rs: UInt32 = 1 << 27, dext: UInt32 = 1 << 29, vle: UInt32 = 1 << 30
    static let lengthMask: UInt32 = 0xFFFF
    /// olinfo: check context (ixgbe), context index shift.
    static let cc: UInt32 = 1 << 7
    static let idxShift: UInt32 = 4
    /// olinfo POPTS: insert the IPv4 header checksum / the L4 checksum.
    static let ixsm: UInt32 = 1 << 8, txsm: UInt32 = 1 << 9
    /// Context TUCMD: IPv4; L4 type field (00 UDP, 01 TCP).
    static let tucmdIPv4: UInt32 = 1 << 10, tucmdL4Shift: UInt32 = 11
    /// Write-back: DD in the status dword.
    static let dd: UInt32 = 1
    /// Short frames are padded to this many bytes (without CRC).
    static let minimumFrame = 60
}

/// What one transmit burst works with, copied out of the VF once per burst.
struct TransmitBurst {
    let spoofCheck: Bool
    let mac: UInt64?
    let linkUp: Bool
    var stats: StatisticsRegisters
}

/// The transmit path: descriptors gathered until EOP, the frame checked and sent to the wire,
/// DD written back where RS asks. One call per engine step.
extension SimulatedVF {
    func transmit(now: UInt64) -> Bool {
        guard !txStalled, busMaster else { return false }
        let batch = txBatch
        batch.removeAll()
        var work = false
        var q = 0
        var burst = TransmitBurst(spoofCheck: settings.spoofCheck, mac: filter.mac, linkUp: link.isUp, stats: stats)
        while q < map.maxQueues && !batch.isFull {
            let st = txQueues + q
            if st.pointee.enabled && !st.pointee.halted && transmitQueue(q, batch: batch, &burst, now: now) { work = true }
            q &+= 1
        }
        stats = burst.stats
        if batch.count > 0, let sink = txSink { sink.push(batch, now: now) }
        if work {
            registers.write(map.gptc, UInt32(truncatingIfNeeded: stats.txPackets))
            registers.write(map.gotc, UInt32(truncatingIfNeeded: stats.txOctets))
            if let msb = map.gotcMSB { registers.write(msb, UInt32(truncatingIfNeeded: stats.txOctets >> 32) & 0xF) }
        }
        return work
    }

    /// Processes queue `q` from its head to the tail (whole packets only); true when it did.
    private func transmitQueue(_ q: Int, batch: FrameBatch, _ burst: inout TransmitBurst, now: UInt64) -> Bool {
        let st = txQueues + q
        if st.pointee.generation != container.generation && translateRing(rx: false, q) == nil { return false }
        guard let ring = st.pointee.ring else { return false }
        let count = st.pointee.count
        let tail = Int(registers.read(map.tx(q, RegisterMap.tail)))
        guard tail < count else {
            st.pointee.halted = true
            record(.tailOutOfRange, queue: q, "TX tail \(tail) of a \(count)-descriptor ring; queue stopped")
            return false
        }
        var head = st.pointee.head
        guard head != tail else { return false }
        let table = container.table
        let c = counterStorage
        let isIgb = !family.isIxgbe
        let slotLimit = batch.slotSize &- 4

        packets: while head != tail && !batch.isFull {
            // Find the packet's end; wait when the driver has not posted it whole yet.
            var end = -1
            var j = head
            while j != tail {
                let cmd = (ring + j &* 16).load(fromByteOffset: 8, as: UInt32.self)
                guard cmd & AdvancedTxDescriptor.dext != 0 else {
                    record(.txLegacyDescriptor, queue: q, "descriptor \(j) cmd_type_len 0x\(String(cmd, radix: 16)); queue stopped")
                    st.pointee.halted = true
                    break packets
                }
                if (cmd >> AdvancedTxDescriptor.dtypShift) & AdvancedTxDescriptor.dtypMask == AdvancedTxDescriptor.dtypData && cmd & AdvancedTxDescriptor.eop != 0 {
                    end = j
                    break
                }
                j = j &+ 1 == count ? 0 : j &+ 1
            }
            if end < 0 { break }

            let slot = batch.nextSlot
            var length = 0
            var insertVLAN = false
            var vlanTag: UInt16 = 0
            var tooLong = false
            var offloads: UInt32 = 0
            var offloadContext: UInt64 = 0
            var k = head
            while true {
                let d = ring + k &* 16
                let cmd = d.load(fromByteOffset: 8, as: UInt32.self)
                let dtyp = (cmd >> AdvancedTxDescriptor.dtypShift) & AdvancedTxDescriptor.dtypMask
                if dtyp == AdvancedTxDescriptor.dtypContext {
                    let vlanMacip = d.load(as: UInt32.self)
                    let mssIdx = d.load(fromByteOffset: 12, as: UInt32.self)
                    let idx = Int((mssIdx >> AdvancedTxDescriptor.idxShift) & (isIgb ? 1 : 7))
                    let tucmd = d.load(fromByteOffset: 8, as: UInt32.self)
                    st.pointee.contextValid |= 1 << UInt8(idx)
                    st.pointee.setContextVLAN(idx, UInt16(truncatingIfNeeded: vlanMacip >> 16))
                    st.pointee.setContextHeaders(idx, UInt64(vlanMacip >> 9 & 0x7F) | UInt64(vlanMacip & 0x1FF) << 16 | UInt64(tucmd) << 32)
                } else {
                    let olinfo = d.load(fromByteOffset: 12, as: UInt32.self)
                    let idx = Int((olinfo >> AdvancedTxDescriptor.idxShift) & (isIgb ? 1 : 7))
                    if family == .ixgbeX550 && (olinfo & AdvancedTxDescriptor.cc == 0 || st.pointee.contextValid & (1 << UInt8(idx)) == 0) {
                        // Malicious driver detection: the queue stops.
                        c.pointee.mddEvents &+= 1
                        record(.txMissingContext, queue: q, "descriptor \(k) olinfo 0x\(String(olinfo, radix: 16)); queue stopped")
                        st.pointee.head = k
                        registers.write(map.tx(q, RegisterMap.head), UInt32(k))
                        stopQueueByDevice(rx: false, q)
                        return true
                    }
                    if cmd & AdvancedTxDescriptor.vle != 0 {
                        insertVLAN = true
                        vlanTag = st.pointee.contextVLAN(idx)
                    }
                    if olinfo & (AdvancedTxDescriptor.ixsm | AdvancedTxDescriptor.txsm) != 0 {
                        offloads = olinfo & (AdvancedTxDescriptor.ixsm | AdvancedTxDescriptor.txsm)
                        offloadContext = st.pointee.contextHeaders(idx)
                    }
                    let dataLength = Int(cmd & AdvancedTxDescriptor.lengthMask)
                    if length &+ dataLength > slotLimit {
                        tooLong = true
                    } else if dataLength > 0 {
                        let address = d.load(as: UInt64.self)
                        guard let host = table.translate(address, length: dataLength, hint: &st.pointee.hint) else {
                            dmaFault(iova: address, length: dataLength, queue: q, access: .txBuffer)
                            st.pointee.head = head
                            registers.write(map.tx(q, RegisterMap.head), UInt32(head))
                            return true
                        }
                        memcpy(slot + length, host, dataLength)
                        length &+= dataLength
                    }
                    if cmd & AdvancedTxDescriptor.rs != 0 { vfpmd_store_release32(d + 12, AdvancedTxDescriptor.dd) }
                }
                if k == end { break }
                k = k &+ 1 == count ? 0 : k &+ 1
            }
            head = end &+ 1 == count ? 0 : end &+ 1

            if tooLong {
                c.pointee.txMalformed &+= 1
                record(.txPacketTooLong, queue: q, "packet ending at descriptor \(end)")
                continue
            }
            if offloads != 0 { Self.insertChecksums(slot, length: length, offloads: offloads, context: offloadContext) }
            if insertVLAN && length >= 12 {
                memmove(slot + 16, slot + 12, length &- 12)
                slot.storeBytes(of: UInt16(0x8100).bigEndian, toByteOffset: 12, as: UInt16.self)
                slot.storeBytes(of: vlanTag.bigEndian, toByteOffset: 14, as: UInt16.self)
                length &+= 4
            }
            if length < AdvancedTxDescriptor.minimumFrame {
                memset(slot + length, 0, AdvancedTxDescriptor.minimumFrame &- length)
                length = AdvancedTxDescriptor.minimumFrame
            }
            if burst.spoofCheck {
                let source = UInt64(slot.loadUnaligned(fromByteOffset: 6, as: UInt32.self))
                    | UInt64(slot.loadUnaligned(fromByteOffset: 10, as: UInt16.self)) << 32
                if source != burst.mac { c.pointee.txSpoofed &+= 1; continue }
            }
            guard burst.linkUp else { c.pointee.txLinkDown &+= 1; continue }
            batch.commitSlot(length: length, timestamp: now)
            c.pointee.txFrames &+= 1
            c.pointee.txBytes &+= UInt64(length)
            burst.stats.countTX(bytes: length)
        }
        st.pointee.head = head
        registers.write(map.tx(q, RegisterMap.head), UInt32(head))
        return true
    }

    /// Checksum insertion as the MAC does it, from the context's MACLEN, IPLEN and L4 type:
    /// the complement of the ones-complement sum over the region as the driver left it (IPv4
    /// header with its checksum field; L4 segment with its checksum field, where the driver
    /// puts the pseudo-header sum, as Intel's offload expects).
    private static func insertChecksums(_ frame: UnsafeMutableRawPointer, length: Int, offloads: UInt32, context: UInt64) {
        let macLength = Int(context & 0xFFFF)
        let ipLength = Int((context >> 16) & 0xFFFF)
        let tucmd = UInt32(truncatingIfNeeded: context >> 32)
        guard macLength > 0, ipLength > 0, macLength + ipLength <= length else { return }
        if offloads & AdvancedTxDescriptor.ixsm != 0 && tucmd & AdvancedTxDescriptor.tucmdIPv4 != 0 {
            let sum = ~UInt16(onesComplementSum(frame + macLength, count: ipLength, initial: 0))
            frame.storeBytes(of: sum.bigEndian, toByteOffset: macLength + 10, as: UInt16.self)
        }
        if offloads & AdvancedTxDescriptor.txsm != 0 {
            let l4 = macLength + ipLength
            let l4Type = (tucmd >> AdvancedTxDescriptor.tucmdL4Shift) & 3
            let field = l4Type == 0 ? 6 : l4Type == 1 ? 16 : -1
            guard field >= 0, l4 + field + 2 <= length else { return }
            var sum = ~UInt16(onesComplementSum(frame + l4, count: length - l4, initial: 0))
            if l4Type == 0 && sum == 0 { sum = 0xFFFF }
            frame.storeBytes(of: sum.bigEndian, toByteOffset: l4 + field, as: UInt16.self)
        }
    }
}
