import CShims
import PMDCore
#if canImport(Glibc)
import Glibc
#endif

/// What one transmit burst works with, copied out of the VF once per burst.
struct TransmitBurst {
    let spoofCheck: Bool
    let mac: UInt64?
    let linkUp: Bool
    var stats: StatisticsRegisters
    /// Bit q set: queue q wrote back a descriptor's DD in this burst (its interrupt cause).
    var wroteBack: UInt32 = 0
}

/// The transmit path: descriptors gathered until EOP, the frame checked and sent to the wire,
/// DD written back where RS asks (`AdvancedTxDescriptor`: 82599 datasheet §7.2.3.2.3 context,
/// §7.2.3.2.4 data; ring as in §7.2.3.3). X550 adds malicious driver detection: a data
/// descriptor without CC, or without a context of its index, stops the queue (X550 datasheet,
/// §7.2.3.2.4 CC and the malicious-driver-detection rules; ixgbevf.md §6.5). One call per engine
/// step.
extension SimulatedVF {
    private typealias T = AdvancedTxDescriptor

    func transmit(now: UInt64) -> Bool {
        guard !txStalled, busMaster, transmitPending() else { return false }
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
        if burst.wroteBack != 0 { raiseQueueCauses(burst.wroteBack, tx: true) }
        if batch.count > 0, let sink = txSink { sink.push(batch, now: now) }
        if work {
            registers.write(map.gptc, UInt32(truncatingIfNeeded: stats.txPackets))
            registers.write(map.gotc, UInt32(truncatingIfNeeded: stats.txOctets))
            if let msb = map.gotcMSB { registers.write(msb, StatisticsRegisters.octetMSB(stats.txOctets)) }
        }
        return work
    }

    /// Whether a running queue has a tail off its head (descriptors posted, or a tail out of
    /// range) or a ring to translate again (the IOMMU table changed): without one, a burst
    /// would find nothing to do, and the pass skips it with one load and compare per queue.
    @inline(__always)
    private func transmitPending() -> Bool {
        let generation = container.generation
        var q = 0
        while q < map.maxQueues {
            let st = txQueues + q
            if st.pointee.enabled && !st.pointee.halted
                && (registers.read(map.tx(q, RegisterMap.tail)) != UInt32(truncatingIfNeeded: st.pointee.head)
                    || st.pointee.generation != generation) {
                return true
            }
            q &+= 1
        }
        return false
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
        let indexMask = family.isIxgbe ? T.ixgbeContextIndexMask : T.igbContextIndexMask
        // Room for a tag the device inserts.
        let slotLimit = batch.slotSize &- EthernetFraming.vlanTagLength

        packets: while head != tail && !batch.isFull {
            if commonCasePaths {
                head = transmitCommonCase(queue: q, ring: ring, from: head, to: tail, batch: batch, slotLimit: slotLimit,
                                          table: table, &burst, now: now)
                if head == tail || batch.isFull { break }
            }
            // Find the packet's end; wait when the driver has not posted it whole yet.
            var end = -1
            var j = head
            while j != tail {
                let cmd = (ring + j &* RegisterMap.descriptorSize).load(fromByteOffset: T.commandOffset, as: UInt32.self)
                guard cmd & T.dext != 0 else {
                    record(.txLegacyDescriptor, queue: q, "descriptor \(j) cmd_type_len 0x\(String(cmd, radix: 16)); queue stopped")
                    st.pointee.halted = true
                    break packets
                }
                if (cmd >> T.dtypShift) & T.dtypMask == T.dtypData && cmd & T.eop != 0 {
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
                let d = ring + k &* RegisterMap.descriptorSize
                let cmd = d.load(fromByteOffset: T.commandOffset, as: UInt32.self)
                let dtyp = (cmd >> T.dtypShift) & T.dtypMask
                if dtyp == T.dtypContext {
                    let vlanMacip = d.load(as: UInt32.self)
                    let mssIdx = d.load(fromByteOffset: T.statusOffset, as: UInt32.self)
                    let idx = Int((mssIdx >> T.idxShift) & indexMask)
                    let tucmd = d.load(fromByteOffset: T.commandOffset, as: UInt32.self)
                    st.pointee.contextValid |= 1 << UInt8(idx)
                    st.pointee.setContextVLAN(idx, UInt16(truncatingIfNeeded: vlanMacip >> T.contextVLANShift))
                    st.pointee.setContextHeaders(idx, QueueState.packContextHeaders(
                        macLength: vlanMacip >> T.macLengthShift & T.macLengthMask, ipLength: vlanMacip & T.ipLengthMask, tucmd: tucmd))
                } else {
                    let olinfo = d.load(fromByteOffset: T.statusOffset, as: UInt32.self)
                    let idx = Int((olinfo >> T.idxShift) & indexMask)
                    if family == .ixgbeX550 && (olinfo & T.cc == 0 || st.pointee.contextValid & (1 << UInt8(idx)) == 0) {
                        // Malicious driver detection: the queue stops.
                        c.pointee.mddEvents &+= 1
                        record(.txMissingContext, queue: q, "descriptor \(k) olinfo 0x\(String(olinfo, radix: 16)); queue stopped")
                        st.pointee.head = k
                        registers.write(map.tx(q, RegisterMap.head), UInt32(k))
                        stopQueueByDevice(rx: false, q)
                        return true
                    }
                    if cmd & T.vle != 0 {
                        insertVLAN = true
                        vlanTag = st.pointee.contextVLAN(idx)
                    }
                    if olinfo & (T.ixsm | T.txsm) != 0 {
                        offloads = olinfo & (T.ixsm | T.txsm)
                        offloadContext = st.pointee.contextHeaders(idx)
                    }
                    let dataLength = Int(cmd & T.lengthMask)
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
                    if cmd & T.rs != 0 {
                        vfpmd_store_release32(d + T.statusOffset, T.dd)
                        burst.wroteBack |= 1 << UInt32(q)
                    }
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
            let addresses = EthernetFraming.addressesLength
            if insertVLAN && length >= addresses {
                memmove(slot + addresses + EthernetFraming.vlanTagLength, slot + addresses, length &- addresses)
                slot.storeBytes(of: EtherType.vlan.bigEndian, toByteOffset: addresses, as: UInt16.self)
                slot.storeBytes(of: vlanTag.bigEndian, toByteOffset: addresses + 2, as: UInt16.self)
                length &+= EthernetFraming.vlanTagLength
            }
            guard let wireLength = finish(slot, length: length, burst) else { continue }
            batch.commitSlot(length: wireLength, timestamp: now)
            c.pointee.txFrames &+= 1
            c.pointee.txBytes &+= UInt64(wireLength)
            burst.stats.countTX(bytes: wireLength)
        }
        st.pointee.head = head
        registers.write(map.tx(q, RegisterMap.head), UInt32(head))
        return true
    }

    /// Finishes a packet gathered into `slot`: pads it to the minimum frame and applies the
    /// spoof and link checks. Returns its length on the wire, or nil when it is dropped (and
    /// counted).
    @inline(__always)
    func finish(_ slot: UnsafeMutableRawPointer, length gathered: Int, _ burst: TransmitBurst) -> Int? {
        var length = gathered
        if length < EthernetFraming.minimumLength {
            memset(slot + length, 0, EthernetFraming.minimumLength &- length)
            length = EthernetFraming.minimumLength
        }
        let c = counterStorage
        if burst.spoofCheck {
            let source = UInt64(slot.loadUnaligned(fromByteOffset: 6, as: UInt32.self))
                | UInt64(slot.loadUnaligned(fromByteOffset: 10, as: UInt16.self)) << 32
            if source != burst.mac { c.pointee.txSpoofed &+= 1; return nil }
        }
        guard burst.linkUp else { c.pointee.txLinkDown &+= 1; return nil }
        return length
    }

    /// Checksum insertion as the MAC does it, from the context's MACLEN, IPLEN and L4 type:
    /// the complement of the ones-complement sum over the region as the driver left it (IPv4
    /// header with its checksum field; L4 segment with its checksum field, where the driver
    /// puts the pseudo-header sum, as Intel's offload expects).
    private static func insertChecksums(_ frame: UnsafeMutableRawPointer, length: Int, offloads: UInt32, context: UInt64) {
        let (macLength, ipLength, tucmd) = QueueState.unpackContextHeaders(context)
        guard macLength > 0, ipLength > 0, macLength + ipLength <= length else { return }
        if offloads & T.ixsm != 0 && tucmd & T.tucmdIPv4 != 0 {
            let sum = ~UInt16(onesComplementSum(frame + macLength, count: ipLength, initial: 0))
            frame.storeBytes(of: sum.bigEndian, toByteOffset: macLength + Self.ipv4ChecksumOffset, as: UInt16.self)
        }
        if offloads & T.txsm != 0 {
            let l4 = macLength + ipLength
            let l4Type = (tucmd >> T.tucmdL4Shift) & T.tucmdL4Mask
            let field = l4Type == T.l4TypeUDP ? Self.udpChecksumOffset : l4Type == T.l4TypeTCP ? Self.tcpChecksumOffset : -1
            guard field >= 0, l4 + field + 2 <= length else { return }
            var sum = ~UInt16(onesComplementSum(frame + l4, count: length - l4, initial: 0))
            // UDP sends a computed 0 as all ones (0 means "no checksum").
            if l4Type == T.l4TypeUDP && sum == 0 { sum = 0xFFFF }
            frame.storeBytes(of: sum.bigEndian, toByteOffset: l4 + field, as: UInt16.self)
        }
    }

    /// Checksum fields: IPv4 header byte 10, UDP header byte 6, TCP header byte 16.
    static let ipv4ChecksumOffset = 10, udpChecksumOffset = 6, tcpChecksumOffset = 16
}
