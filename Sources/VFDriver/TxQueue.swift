import CShims
import PMDCore

/// Fields of the advanced TX data and context descriptors (82599 datasheet §7.2.3.2.4 data
/// descriptor and its write-back, §7.2.3.2.3 context descriptor; 82576 datasheet §7.2.2: the
/// same layout).
@usableFromInline
enum TxDescriptor {
    /// DEXT | DTYP data | IFCS | EOP: one packet in one buffer, CRC inserted.
    @inlinable static var dataCommand: UInt32 { 0x2000_0000 | 0x0030_0000 | 0x0200_0000 | 0x0100_0000 }
    /// Report status: the device writes DD back into this descriptor.
    @inlinable static var reportStatus: UInt32 { 0x0800_0000 }
    /// Insert the VLAN tag of the context.
    @inlinable static var insertVLAN: UInt32 { 0x4000_0000 }
    /// olinfo PAYLEN shift.
    @inlinable static var payloadShift: UInt32 { 14 }
    /// olinfo POPTS: insert IPv4 checksum / L4 checksum.
    @inlinable static var insertIPChecksum: UInt32 { 0x100 }
    @inlinable static var insertL4Checksum: UInt32 { 0x200 }
    /// Context descriptor type_tucmd_mlhl: DEXT | DTYP context.
    @inlinable static var contextType: UInt32 { 0x2000_0000 | 0x0020_0000 }
    /// Context: IPv4 / L4 type TCP / L4 type "reserved" (no L4 offload).
    @inlinable static var contextIPv4: UInt32 { 0x400 }
    @inlinable static var contextTCP: UInt32 { 0x800 }
    @inlinable static var contextL4None: UInt32 { 0x1800 }
    /// Context MACLEN shift (vlan_macip_lens bits 15:9).
    @inlinable static var macLengthShift: UInt32 { 9 }
    /// Write-back DD bit (status, bytes 12–15).
    @inlinable static var done: UInt32 { 0x1 }
    /// The context every ixgbe VF packet without offloads refers to: MACLEN 14, no L4 type.
    @inlinable static var defaultContext: UInt64 {
        UInt64(UInt32(EthernetHeader.length) << macLengthShift) << 32 | UInt64(contextType | contextL4None)
    }
    /// IPv6 fixed header: its length, and the offset of its next-header field.
    @inlinable static var ipv6HeaderLength: Int { 40 }
    @inlinable static var ipv6NextHeaderOffset: Int { 6 }
    /// IP protocol numbers of the L4 checksum offload, and the offset of each one's checksum field.
    @inlinable static var protocolTCP: UInt8 { 6 }
    @inlinable static var protocolUDP: UInt8 { 17 }
    @inlinable static var tcpChecksumOffset: Int { 16 }
    @inlinable static var udpChecksumOffset: Int { 6 }
    /// No context written yet.
    @inlinable static var noContext: UInt64 { .max }
    /// Packet flags that need a context descriptor (VLAN insertion, checksum offloads).
    @inlinable static var offloadFlags: UInt16 {
        PacketFlags.insertVLAN.rawValue | PacketFlags.offloadIPChecksum.rawValue | PacketFlags.offloadL4Checksum.rawValue
    }
}

/// Per-queue transmit counters kept by software.
@frozen
public struct TxQueueCounters: Sendable, Equatable {
    /// Packets placed in the ring.
    public var packets: UInt64 = 0
    /// Bytes of those packets.
    public var bytes: UInt64 = 0
    /// Packets refused (length 0 or larger than one descriptor may carry) and returned to their pool.
    public var errors: UInt64 = 0
    /// Calls that left packets in the caller's batch because the ring was full.
    public var ringFull: UInt64 = 0
    /// Context descriptors written.
    public var contexts: UInt64 = 0
    /// Packets taken back from the ring before the device reported them sent: the ring was
    /// reset under them (a PF reset, a lost clear-to-send, a removed device, a stop while the
    /// device stalled). They went back to their pools; some may have reached the wire.
    public var discarded: UInt64 = 0

    /// All zero.
    public init() {}

    /// Where each counter lives among a queue's shared counters.
    @usableFromInline
    enum Slot {
        @inlinable static var packets: Int { 0 }
        @inlinable static var bytes: Int { 1 }
        @inlinable static var errors: Int { 2 }
        @inlinable static var ringFull: Int { 3 }
        @inlinable static var contexts: Int { 4 }
        @inlinable static var discarded: Int { 5 }
        static let count = 6
    }

    /// The counters as `shared` holds them now.
    init(_ shared: SharedCounters) {
        packets = shared[Slot.packets]
        bytes = shared[Slot.bytes]
        errors = shared[Slot.errors]
        ringFull = shared[Slot.ringFull]
        contexts = shared[Slot.contexts]
        discarded = shared[Slot.discarded]
    }
}

/// One transmit queue: a ring of advanced descriptors, the buffer index of each slot, and for
/// each burst the pool its packets came from (a batch holds packets of one pool), so that every
/// buffer returns to its own pool. Owned by one thread.
///
/// RS is set on the last descriptor of each burst; the slot where a burst starts remembers
/// where it ends and its pool, and completed bursts are reclaimed lazily (by DD), a burst's
/// buffers returned to its pool in one copy, when fewer than the free threshold of slots remain.
/// The slots in use are those from `clean` up to `tail`.
@frozen
public struct TxQueue {
    @inlinable static var noBuffer: UInt32 { .max }

    @usableFromInline let ring: UnsafeMutableRawPointer
    @usableFromInline let burstPools: UnsafeMutablePointer<PoolRef>
    @usableFromInline let slotBuffers: UnsafeMutablePointer<UInt32>
    @usableFromInline let burstEnds: UnsafeMutablePointer<UInt16>
    @usableFromInline let size: Int
    @usableFromInline let tailRegister: UnsafeMutableRawPointer
    /// CC bit for every data descriptor (ixgbe VFs), 0 for igb.
    @usableFromInline let checkContext: UInt32
    @usableFromInline let freeThreshold: Int
    @usableFromInline let maxBytes: UInt32
    /// Next slot to fill.
    @usableFromInline var tail: Int
    /// First slot not yet reclaimed.
    @usableFromInline var clean: Int
    /// Slots that may be filled (one always stays empty: tail never catches up with clean).
    @usableFromInline var free: Int
    /// The context at index 0 as last written.
    @usableFromInline var context: UInt64
    /// Software counters of this queue, readable from any thread while it runs.
    @usableFromInline let tally: SharedCounters
    /// Software counters of this queue.
    public var counters: TxQueueCounters { TxQueueCounters(tally) }

    init(ring: UnsafeMutableRawPointer, burstPools: UnsafeMutablePointer<PoolRef>,
         slotBuffers: UnsafeMutablePointer<UInt32>, burstEnds: UnsafeMutablePointer<UInt16>, size: Int,
         tailRegister: UnsafeMutableRawPointer, checkContext: UInt32, freeThreshold: Int, maxBytes: Int,
         counters: SharedCounters) {
        self.ring = ring
        self.burstPools = burstPools
        self.slotBuffers = slotBuffers
        self.burstEnds = burstEnds
        self.size = size
        self.tailRegister = tailRegister
        self.checkContext = checkContext
        self.freeThreshold = freeThreshold
        self.maxBytes = UInt32(maxBytes)
        tail = 0
        clean = 0
        free = size - 1
        context = TxDescriptor.noContext
        tally = counters
        counters.reset()
        burstPools.initialize(repeating: PoolRef.detached, count: size)
        slotBuffers.initialize(repeating: Self.noBuffer, count: size)
        burstEnds.initialize(repeating: 0, count: size)
    }

    /// Slots free for new descriptors.
    public var freeSlots: Int { free }

    /// Sends packets from the front of `batch`; removes them from the batch (the ring owns
    /// them now) and leaves what did not fit. Packets the device cannot send (length 0 or too
    /// long for one descriptor) are returned to their pool and counted. Returns how many were sent.
    @inlinable
    public mutating func transmit(_ batch: inout PacketBatch) -> Int {
        let count = batch.count
        guard count > 0 else { return 0 }
        if free < freeThreshold || free < count { _ = reclaim() }
        let pool = batch.pool
        let first = tail
        let placed = batch.withIndexPointer { indices, count in placeBurst(indices, count: count, pool: pool) }
        if placed.taken < count { tally.add(1, to: TxQueueCounters.Slot.ringFull) }
        batch.removeFirstOwned(placed.taken)
        guard tail != first else { return 0 }
        // RS on the burst's last descriptor, a data descriptor (a context precedes its data).
        let last = tail == 0 ? size &- 1 : tail &- 1
        let lastCommand = ring + (last &<< Layout.sizeShift) + Layout.txCommandOffset
        lastCommand.storeBytes(of: lastCommand.load(as: UInt32.self) | TxDescriptor.reportStatus, as: UInt32.self)
        burstEnds[first] = UInt16(truncatingIfNeeded: last)
        burstPools[first] = pool
        Barrier.beforeTailWrite()
        vfpmd_mmio_write32(tailRegister, UInt32(tail))
        tally.add(UInt64(placed.sent), to: TxQueueCounters.Slot.packets)
        tally.add(UInt64(placed.bytes), to: TxQueueCounters.Slot.bytes)
        return placed.sent
    }

    /// Places up to `count` packets (buffer indices of `pool`) in the ring from `tail`, in
    /// stretches of usual packets that do not wrap, each unusual packet (an offload request,
    /// a context to write, a length the device cannot send) on its own. Moves `tail` and
    /// `free`; returns the packets taken from the batch, those sent, and their bytes.
    @usableFromInline
    mutating func placeBurst(_ indices: UnsafePointer<UInt32>, count: Int, pool: PoolRef)
        -> (taken: Int, sent: Int, bytes: Int) {
        var taken = 0, sent = 0, bytes = 0
        while taken < count && free > 0 {
            // An ixgbe VF's CC bit needs a context written before every data descriptor (MDD
            // on X550): the default one, unless the last packet asked for offloads.
            let contextReady = checkContext == 0 || context == TxDescriptor.defaultContext
            let stretch = contextReady ? min(count &- taken, free, size &- tail) : 0
            let usual = pool.isContiguous
                ? placeStretch(indices + taken, count: stretch, at: tail, pool: pool, addresses: pool.contiguousAddresses)
                : placeStretch(indices + taken, count: stretch, at: tail, pool: pool, addresses: pool.segmentedAddresses)
            taken &+= usual.placed
            sent &+= usual.placed
            bytes &+= usual.bytes
            free &-= usual.placed
            tail = tail &+ usual.placed == size ? 0 : tail &+ usual.placed
            guard usual.placed < stretch || !contextReady, taken < count else { continue }
            switch placeUnusual(indices[taken], pool: pool) {
            case .refused:
                taken &+= 1
            case .placed(let length):
                taken &+= 1
                sent &+= 1
                bytes &+= length
            case .ringFull:
                return (taken, sent, bytes)
            }
        }
        return (taken, sent, bytes)
    }

    /// Writes data descriptors for up to `count` usual packets (no offload, a length the device
    /// can send) into slots from `start`, which do not wrap; stops at the first other packet.
    /// `addresses` gives each buffer's device address. Returns how many it placed and their bytes.
    @inlinable
    func placeStretch<Addresses: BufferAddresses>(
        _ indices: UnsafePointer<UInt32>, count: Int, at start: Int, pool: PoolRef, addresses: Addresses
    ) -> (placed: Int, bytes: Int) {
        let storage = pool.storage
        let metadata = storage.pointee.metadata
        let ring = self.ring + (start &<< Layout.sizeShift), slots = slotBuffers + start
        let maxBytes = self.maxBytes, checkContext = self.checkContext
        var k = 0
        var bytes = 0
        while k < count {
            let index = indices[k]
            let record = metadata + Int(index)
            let length = record.pointee.length
            if _slowPath(length &- 1 >= maxBytes || record.pointee.flags.rawValue & TxDescriptor.offloadFlags != 0) {
                break
            }
            let descriptor = ring + (k &<< Layout.sizeShift)
            descriptor.storeBytes(of: addresses.address(of: index), toByteOffset: Layout.txAddressOffset,
                                  as: UInt64.self)
            descriptor.storeBytes(of: TxDescriptor.dataCommand | length, toByteOffset: Layout.txCommandOffset,
                                  as: UInt32.self)
            descriptor.storeBytes(of: length << TxDescriptor.payloadShift | checkContext,
                                  toByteOffset: Layout.txOptionsOffset, as: UInt32.self)
            slots[k] = index
            bytes &+= Int(length)
            k &+= 1
        }
        return (k, bytes)
    }

    /// What became of a packet placed on its own.
    @usableFromInline
    enum UnusualPlacement {
        /// The device cannot send it (length 0 or too long): back to its pool, counted.
        case refused
        /// In the ring, with a context before it if it needed one; its length.
        case placed(Int)
        /// No room for it (and its context): it stays in the batch.
        case ringFull
    }

    /// Places one packet that needs more than a data descriptor: refuses a length the device
    /// cannot send; writes the context its offload requests need (or the default context an
    /// ixgbe VF needs) when the ring's is another; then its data descriptor.
    @usableFromInline
    mutating func placeUnusual(_ index: UInt32, pool: PoolRef) -> UnusualPlacement {
        let record = pool.metadata(index)
        let length = record.pointee.length
        guard length != 0 && length <= maxBytes else {
            pool.give(index)
            tally.add(1, to: TxQueueCounters.Slot.errors)
            return .refused
        }
        var command = TxDescriptor.dataCommand | length
        var options = length << TxDescriptor.payloadShift | checkContext
        var wanted = TxDescriptor.defaultContext
        if record.pointee.flags.rawValue & TxDescriptor.offloadFlags != 0 {
            let offload = Self.offloadContext(for: PacketView(pool: pool, index: index))
            wanted = offload.context
            command |= offload.command
            options |= offload.options
        }
        if wanted != context {
            guard free >= 2 else { return .ringFull }
            writeContext(wanted, at: tail)
            tail = tail &+ 1 == size ? 0 : tail &+ 1
            free &-= 1
        }
        guard free >= 1 else { return .ringFull }
        let descriptor = ring + (tail &<< Layout.sizeShift)
        descriptor.storeBytes(of: pool.iova(index), toByteOffset: Layout.txAddressOffset, as: UInt64.self)
        descriptor.storeBytes(of: command, toByteOffset: Layout.txCommandOffset, as: UInt32.self)
        descriptor.storeBytes(of: options, toByteOffset: Layout.txOptionsOffset, as: UInt32.self)
        slotBuffers[tail] = index
        tail = tail &+ 1 == size ? 0 : tail &+ 1
        free &-= 1
        return .placed(Int(length))
    }

    /// Returns the buffers of every completed burst to their pools; returns how many slots it freed.
    @inlinable
    public mutating func reclaim() -> Int {
        var freed = 0
        while clean != tail {
            let end = Int(burstEnds[clean])
            let status = vfpmd_load_acquire32(ring + (end &<< Layout.sizeShift) + Layout.txStatusOffset)
            if status & TxDescriptor.done == 0 { break }
            freed &+= returnBurst(from: clean, to: end)
            clean = end &+ 1 == size ? 0 : end &+ 1
        }
        free &+= freed
        return freed
    }

    /// Gives the buffers of the burst in slots `start...end` (which may wrap) back to the
    /// burst's pool, skipping context slots; returns the slots the burst took.
    @inlinable
    func returnBurst(from start: Int, to end: Int) -> Int {
        let pool = burstPools[start]
        if end >= start {
            _ = pool.give(from: slotBuffers + start, count: end &- start &+ 1, skipping: Self.noBuffer)
            return end &- start &+ 1
        }
        _ = pool.give(from: slotBuffers + start, count: size &- start, skipping: Self.noBuffer)
        _ = pool.give(from: slotBuffers, count: end &+ 1, skipping: Self.noBuffer)
        return size &- start &+ end &+ 1
    }

    /// Writes a context descriptor (index 0) at slot `t`.
    @usableFromInline
    mutating func writeContext(_ key: UInt64, at t: Int) {
        let descriptor = ring + t * Layout.size
        descriptor.storeBytes(of: UInt32(truncatingIfNeeded: key >> 32), toByteOffset: Layout.contextLengthsOffset,
                              as: UInt32.self)
        descriptor.storeBytes(of: 0 as UInt32, toByteOffset: Layout.contextSeedOffset, as: UInt32.self)
        descriptor.storeBytes(of: UInt32(truncatingIfNeeded: key), toByteOffset: Layout.contextTypeOffset, as: UInt32.self)
        descriptor.storeBytes(of: 0 as UInt32, toByteOffset: Layout.contextIndexOffset, as: UInt32.self)
        slotBuffers[t] = Self.noBuffer
        context = key
        tally.add(1, to: TxQueueCounters.Slot.contexts)
    }

    /// The context a packet's offload requests need (VLAN tag, MAC/IP header lengths, L4 type)
    /// and the bits its data descriptor gets (VLE; IXSM/TXSM).
    @usableFromInline
    static func offloadContext(for packet: PacketView) -> (context: UInt64, command: UInt32, options: UInt32) {
        let record = packet.metadata.pointee
        let flags = record.flags
        var macIP = UInt32(EthernetHeader.length) << TxDescriptor.macLengthShift
        var type = TxDescriptor.contextType | TxDescriptor.contextL4None
        var command: UInt32 = 0
        var options: UInt32 = 0
        if flags.contains(.insertVLAN) {
            macIP |= UInt32(record.vlanTCI) << Layout.contextVLANShift
            command |= TxDescriptor.insertVLAN
        }
        if flags.contains(.offloadIPChecksum) || flags.contains(.offloadL4Checksum),
           let header = EthernetHeader(packet),
           let (l3, etherType) = header.payload(frameLength: packet.length) {
            let data = packet.data
            var ipLength = 0
            var l4Protocol: UInt8 = 0
            if etherType == EtherType.ipv4, packet.length >= l3 + IPv4Header.minimumLength {
                let ip = IPv4Header(data + l3)
                ipLength = ip.headerLength
                l4Protocol = ip.protocolNumber
                type |= TxDescriptor.contextIPv4
                if flags.contains(.offloadIPChecksum) { options |= TxDescriptor.insertIPChecksum }
            } else if etherType == EtherType.ipv6, packet.length >= l3 + TxDescriptor.ipv6HeaderLength {
                ipLength = TxDescriptor.ipv6HeaderLength
                l4Protocol = data.load(fromByteOffset: l3 + TxDescriptor.ipv6NextHeaderOffset, as: UInt8.self)
            }
            if ipLength > 0 {
                macIP = macIP & Layout.contextVLANMask | UInt32(l3) << TxDescriptor.macLengthShift | UInt32(ipLength)
                let tcp = l4Protocol == TxDescriptor.protocolTCP
                if flags.contains(.offloadL4Checksum) && (tcp || l4Protocol == TxDescriptor.protocolUDP) {
                    type &= ~TxDescriptor.contextL4None
                    if tcp { type |= TxDescriptor.contextTCP }
                    options |= TxDescriptor.insertL4Checksum
                    Self.seedPseudoHeaderSum(data, length: packet.length, l3: l3, ipLength: ipLength,
                                             ipv4: etherType == EtherType.ipv4, l4Protocol: l4Protocol)
                }
            }
        }
        return (UInt64(macIP) << 32 | UInt64(type), command, options)
    }

    /// The L4 checksum offload sums the segment as the driver leaves it: its checksum field
    /// must hold the sum of the pseudo-header (addresses, protocol, L4 length), not complemented
    /// (82599/X550 transmit checksum offload; the stack or application seeds it on other drivers).
    @usableFromInline
    static func seedPseudoHeaderSum(_ data: UnsafeMutableRawPointer, length: Int, l3: Int, ipLength: Int,
                                    ipv4: Bool, l4Protocol: UInt8) {
        let l4 = l3 + ipLength
        let field = l4 + (l4Protocol == TxDescriptor.protocolTCP ? TxDescriptor.tcpChecksumOffset : TxDescriptor.udpChecksumOffset)
        guard field + 2 <= length else { return }
        func word(_ offset: Int) -> UInt32 {
            UInt32(data.load(fromByteOffset: offset, as: UInt8.self)) << 8
                | UInt32(data.load(fromByteOffset: offset + 1, as: UInt8.self))
        }
        var sum = UInt32(l4Protocol)
        // IPv4 (RFC 791): addresses at bytes 12–19, total length at 2. IPv6 (RFC 8200): addresses
        // at 8–39, payload length at 4.
        let addresses = ipv4 ? (l3 + 12, 8) : (l3 + 8, 32)
        var i = addresses.0
        while i < addresses.0 + addresses.1 { sum += word(i); i += 2 }
        let l4Length = ipv4 ? Int(word(l3 + 2)) - ipLength : Int(word(l3 + 4))
        sum += UInt32(max(0, l4Length))
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        data.storeBytes(of: UInt16(sum).bigEndian, toByteOffset: field, as: UInt16.self)
    }

    // MARK: - Control path

    /// Returns every buffer still in the ring to its pool (queue disabled first) and starts the
    /// ring over: the bursts the device reported done are reclaimed as usual, and every packet
    /// left is counted as discarded.
    mutating func releaseBuffers() {
        _ = reclaim()
        while clean != tail {
            let end = Int(burstEnds[clean])
            var j = clean
            while true {
                if slotBuffers[j] != Self.noBuffer { tally.add(1, to: TxQueueCounters.Slot.discarded) }
                if j == end { break }
                j = j &+ 1 == size ? 0 : j &+ 1
            }
            _ = returnBurst(from: clean, to: end)
            clean = end &+ 1 == size ? 0 : end &+ 1
        }
        slotBuffers.update(repeating: Self.noBuffer, count: size)
        tail = 0
        clean = 0
        free = size - 1
        context = TxDescriptor.noContext
        ring.initializeMemory(as: UInt8.self, repeating: 0, count: size * Layout.size)
    }
}
