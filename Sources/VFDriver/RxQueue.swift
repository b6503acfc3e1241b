import CShims
import PMDCore

/// Byte offsets and fields of the 16-byte descriptors (82599 datasheet §7.1.6, §7.2.3.2).
@usableFromInline
typealias Layout = VFFamilyTable.DescriptorLayout

/// Bits of the advanced RX write-back descriptor shared by both families (82599 datasheet
/// §7.1.6.2 extended status and errors; 82576 datasheet §7.1.5: the same bits).
@usableFromInline
enum RxStatus {
    @inlinable static var descriptorDone: UInt32 { 0x01 }
    @inlinable static var endOfPacket: UInt32 { 0x02 }
    @inlinable static var vlanPacket: UInt32 { 0x08 }
    @inlinable static var udpChecksum: UInt32 { 0x10 }
    @inlinable static var l4Checksum: UInt32 { 0x20 }
    @inlinable static var ipChecksum: UInt32 { 0x40 }
    @inlinable static var loopback: UInt32 { 0x4_0000 }
    /// pkt_info bits 3:0: RSS type (0 = no hash).
    @inlinable static var rssTypeMask: UInt32 { 0xF }
    /// pkt_info packet-type bit 9 (in the dword: bit 13): UDP.
    @inlinable static var packetTypeUDP: UInt32 { 1 << 13 }
}

/// Per-queue receive counters kept by software.
@frozen
public struct RxQueueCounters: Sendable, Equatable {
    /// Frames handed to the application.
    public var packets: UInt64 = 0
    /// Bytes of those frames.
    public var bytes: UInt64 = 0
    /// Frames dropped because the device flagged a frame error.
    public var frameErrors: UInt64 = 0
    /// Frames dropped because the device reported more bytes than the buffer holds.
    public var oversize: UInt64 = 0
    /// Frames that spanned several descriptors and were dropped (scattered receive off).
    public var multiDescriptorDrops: UInt64 = 0
    /// Bursts cut short because the pool had no buffer to refill a slot.
    public var noBuffer: UInt64 = 0
    /// Times the device wrote a descriptor the driver had not given it (the slot at the tail):
    /// the write is undone before the slot is posted.
    public var unpostedWrites: UInt64 = 0

    /// All zero.
    public init() {}

    /// Where each counter lives among a queue's shared counters.
    @usableFromInline
    enum Slot {
        @inlinable static var packets: Int { 0 }
        @inlinable static var bytes: Int { 1 }
        @inlinable static var frameErrors: Int { 2 }
        @inlinable static var oversize: Int { 3 }
        @inlinable static var multiDescriptorDrops: Int { 4 }
        @inlinable static var noBuffer: Int { 5 }
        @inlinable static var unpostedWrites: Int { 6 }
        static let count = 7
    }

    /// The counters as `shared` holds them now.
    init(_ shared: SharedCounters) {
        packets = shared[Slot.packets]
        bytes = shared[Slot.bytes]
        frameErrors = shared[Slot.frameErrors]
        oversize = shared[Slot.oversize]
        multiDescriptorDrops = shared[Slot.multiDescriptorDrops]
        noBuffer = shared[Slot.noBuffer]
        unpostedWrites = shared[Slot.unpostedWrites]
    }
}

/// One receive queue: a ring of advanced descriptors in DMA memory, the buffer index of each
/// slot, and the queue's pool. Owned by one thread; the port keeps it in stable memory.
///
/// One pass over the ring per burst: each descriptor's done bit is read with acquire
/// semantics, its 16-byte write-back copied as it is into the packet's metadata record (what
/// the status bits mean is decoded only when asked: `PacketView.flags`), and the slot refilled.
///
/// A frame normally fits one buffer. A frame that spans descriptors (EOP clear) is dropped and
/// counted, unless scattered receive is on: then its segments are copied, in order, into the
/// first segment's buffer (whose pool buffer is sized for the largest frame while the device
/// is told a smaller buffer size), and it is delivered as one packet.
@frozen
public struct RxQueue {
    /// Marks a slot or pending frame without a buffer.
    @inlinable static var noBuffer: UInt32 { .max }

    @usableFromInline let ring: UnsafeMutableRawPointer
    @usableFromInline let slots: UnsafeMutablePointer<UInt32>
    @usableFromInline let size: Int
    @usableFromInline let pool: PoolRef
    @usableFromInline let tailRegister: UnsafeMutableRawPointer
    /// Bytes the device may write into one buffer (SRRCTL.BSIZEPKT).
    @usableFromInline let bufferSize: UInt32
    @usableFromInline let bits: RxDescriptorBits
    /// The status bits a frame of the usual kind has, and the bits that are tested for it: done,
    /// end of packet, no frame error (and, where the tag needs fixing, not a loopback frame).
    @usableFromInline let usualStatusMask: UInt64
    /// The first word of the metadata records of this queue's packets (its queue number).
    @usableFromInline let queueWord: UInt64
    @usableFromInline let scattered: Bool
    @usableFromInline var next: Int
    /// Scattered receive: the buffer collecting a frame, its length, and whether the rest of
    /// the current frame is being discarded.
    @usableFromInline var pendingBuffer: UInt32
    @usableFromInline var pendingLength: Int
    @usableFromInline var discarding: Bool
    /// Software counters of this queue, readable from any thread while it runs.
    @usableFromInline let tally: SharedCounters
    /// Software counters of this queue.
    public var counters: RxQueueCounters { RxQueueCounters(tally) }

    init(ring: UnsafeMutableRawPointer, slots: UnsafeMutablePointer<UInt32>, size: Int, pool: PoolRef,
         tailRegister: UnsafeMutableRawPointer, bufferSize: Int, bits: RxDescriptorBits, stripsTags: Bool,
         queueID: Int, scattered: Bool, counters: SharedCounters) {
        self.ring = ring
        self.slots = slots
        self.size = size
        self.pool = pool
        self.tailRegister = tailRegister
        self.bufferSize = UInt32(bufferSize)
        self.bits = bits
        usualStatusMask = UInt64(RxStatus.descriptorDone | RxStatus.endOfPacket | bits.frameErrors
            | (bits.loopbackVLANByteSwapped ? RxStatus.loopback : 0))
        queueWord = PacketMetadata.queueWord(UInt16(queueID))
        self.scattered = scattered
        next = 0
        pendingBuffer = Self.noBuffer
        pendingLength = 0
        discarding = false
        tally = counters
        counters.reset()
        slots.initialize(repeating: Self.noBuffer, count: size)
        pool.storage.pointee.receiveFormat = bits.receiveFormat(stripsTags: stripsTags)
    }

    /// Receives up to `batch.freeCapacity` frames into the back of `batch`; returns how many.
    /// A batch holding packets of another pool receives nothing.
    @inlinable
    public mutating func receive(into batch: inout PacketBatch) -> Int {
        // An idle poll costs one load: the next slot is not done.
        let first = vfpmd_load_acquire32(ring + (next &<< Layout.sizeShift) + Layout.rxStatusOffset)
        guard first & RxStatus.descriptorDone != 0, batch.adopt(pool: pool) else { return 0 }
        var delivered = 0
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: PacketBatch.capacity) { freshBuffers in
            let fresh = freshBuffers.baseAddress!
            delivered = batch.appendOwnedIndices { out, room in
                receiveBurst(into: out, room: room, fresh: fresh)
            }
        }
        return delivered
    }

    /// The burst: takes up to `room` fresh buffers (the device owns at most `size - 1` slots),
    /// then walks the ring while descriptors are done, in at most two stretches that do not wrap,
    /// writing the delivered buffer indices to `out`; gives back the fresh buffers it did not use
    /// and writes the tail once.
    @inlinable
    mutating func receiveBurst(into out: UnsafeMutablePointer<UInt32>, room: Int,
                               fresh: UnsafeMutablePointer<UInt32>) -> Int {
        let wanted = room < size &- 1 ? room : size &- 1
        let available = pool.take(into: fresh, count: wanted)
        if available < wanted { tally.add(1, to: RxQueueCounters.Slot.noBuffer) }
        let timestamp = TSC.now()
        var processed = 0
        var delivered = 0
        var bytes = 0
        var i = next
        while processed < available {
            let stretch = min(available &- processed, size &- i)
            let done = pool.isContiguous
                ? receiveStretch(from: i, count: stretch, fresh: fresh + processed, out: out + delivered,
                                 timestamp: timestamp, addresses: pool.contiguousAddresses)
                : receiveStretch(from: i, count: stretch, fresh: fresh + processed, out: out + delivered,
                                 timestamp: timestamp, addresses: pool.segmentedAddresses)
            processed &+= done.processed
            delivered &+= done.delivered
            bytes &+= done.bytes
            i = i &+ done.processed == size ? 0 : i &+ done.processed
            if done.processed < stretch { break }
        }
        if processed < available {
            _ = pool.give(from: fresh + processed, count: available &- processed, skipping: Self.noBuffer)
        }
        if processed > 0 {
            // The slot at the old tail is posted by this tail write. The device had no right to
            // write it; if it did (DD set), rewrite it in read format before posting it.
            let unposted = ring + ((next == 0 ? size &- 1 : next &- 1) &<< Layout.sizeShift)
            if _slowPath(vfpmd_load_acquire32(unposted + Layout.rxStatusOffset) & RxStatus.descriptorDone != 0) {
                repostUnpostedSlot(unposted)
            }
            // One tail write per burst, after the refilled descriptors are visible; the tail
            // stays one behind `next` so that head never meets tail.
            Barrier.beforeTailWrite()
            vfpmd_mmio_write32(tailRegister, UInt32(i == 0 ? size &- 1 : i &- 1))
            next = i
        }
        tally.add(UInt64(delivered), to: RxQueueCounters.Slot.packets)
        tally.add(UInt64(bytes), to: RxQueueCounters.Slot.bytes)
        return delivered
    }

    /// Up to `count` slots from `start` (which do not wrap): while a descriptor is done, its
    /// write-back is copied into the packet's metadata, its slot refilled from `fresh`, and its
    /// buffer written to `out`, refills given their device addresses by `addresses`. Returns the
    /// slots used, the packets delivered and their bytes.
    @inlinable
    mutating func receiveStretch<Addresses: BufferAddresses>(
        from start: Int, count: Int, fresh: UnsafeMutablePointer<UInt32>, out: UnsafeMutablePointer<UInt32>,
        timestamp: UInt64, addresses: Addresses
    ) -> (processed: Int, delivered: Int, bytes: Int) {
        let storage = pool.storage
        let metadata = storage.pointee.metadata
        let ring = self.ring + (start &<< Layout.sizeShift), slots = self.slots + start
        let queueWord = self.queueWord, bufferSize = UInt64(self.bufferSize)
        let usual = UInt64(RxStatus.descriptorDone | RxStatus.endOfPacket)
        // While a scattered frame is collected or discarded, every descriptor takes the slow
        // path: a mask of 0 never matches `usual`.
        var mask = pendingBuffer != Self.noBuffer || discarding ? 0 : usualStatusMask
        var k = 0
        var delivered = 0
        var bytes = 0
        while k < count {
            let descriptor = ring + (k &<< Layout.sizeShift)
            // Status, errors, length and tag in one acquire load: nothing else of the
            // descriptor is read before its done bit was seen.
            let high = vfpmd_load_acquire64(descriptor + Layout.rxStatusOffset)
            if high & UInt64(RxStatus.descriptorDone) == 0 { break }
            let low = descriptor.load(fromByteOffset: Layout.rxInfoOffset, as: UInt64.self)
            let buffer = slots[k]
            // Refill: new packet address, header address 0 (which also clears DD).
            let refill = fresh[k]
            slots[k] = refill
            descriptor.storeBytes(of: addresses.address(of: refill),
                                  toByteOffset: Layout.rxPacketAddressOffset, as: UInt64.self)
            descriptor.storeBytes(of: 0 as UInt64, toByteOffset: Layout.rxHeaderAddressOffset, as: UInt64.self)
            k &+= 1
            let length = (high &>> Layout.rxLengthShift) & UInt64(Layout.rxLengthMask)
            if _slowPath(high & mask != usual || length > bufferSize) {
                let frame = completeUnusualFrame(buffer: buffer, low: low, high: high, timestamp: timestamp)
                mask = pendingBuffer != Self.noBuffer || discarding ? 0 : usualStatusMask
                if frame != Self.noBuffer {
                    out[delivered] = frame
                    delivered &+= 1
                    bytes &+= Int(metadata[Int(frame)].length)
                }
                continue
            }
            PacketMetadata.storeReceived(into: metadata + Int(buffer), length: UInt32(truncatingIfNeeded: length),
                                         queueWord: queueWord, writeBackLow: low, writeBackHigh: high,
                                         timestamp: timestamp)
            out[delivered] = buffer
            delivered &+= 1
            bytes &+= Int(length)
        }
        return (k, delivered, bytes)
    }

    /// The rare cases: a frame error, a length larger than the buffer, a frame spanning
    /// descriptors, a loopback frame whose tag needs fixing. Returns the buffer of a completed
    /// frame to deliver, or `noBuffer`. `buffer` has already been replaced in its slot; it is
    /// either delivered or returned.
    @usableFromInline
    mutating func completeUnusualFrame(buffer: UInt32, low: UInt64, high: UInt64, timestamp: UInt64) -> UInt32 {
        let status = UInt32(truncatingIfNeeded: high)
        let length = UInt32(truncatingIfNeeded: high >> Layout.rxLengthShift) & Layout.rxLengthMask
        let endOfPacket = status & RxStatus.endOfPacket != 0
        if discarding {
            pool.give(buffer)
            if endOfPacket { discarding = false }
            return Self.noBuffer
        }
        if length > bufferSize {
            // Never trust a length beyond the buffer: drop the frame (and the rest of it).
            tally.add(1, to: RxQueueCounters.Slot.oversize)
            dropPending()
            pool.give(buffer)
            discarding = !endOfPacket
            return Self.noBuffer
        }
        if pendingBuffer != Self.noBuffer {
            // Scattered receive: append this segment to the frame being collected.
            let total = pendingLength + Int(length)
            guard total <= pool.dataRoom else {
                tally.add(1, to: RxQueueCounters.Slot.oversize)
                dropPending()
                pool.give(buffer)
                discarding = !endOfPacket
                return Self.noBuffer
            }
            (pool.data(pendingBuffer) + pendingLength).copyMemory(from: pool.data(buffer), byteCount: Int(length))
            pool.give(buffer)
            pendingLength = total
            guard endOfPacket else { return Self.noBuffer }
            let frame = pendingBuffer
            pendingBuffer = Self.noBuffer
            if status & bits.frameErrors != 0 {
                tally.add(1, to: RxQueueCounters.Slot.frameErrors)
                pool.give(frame)
                return Self.noBuffer
            }
            storeMetadata(of: frame, length: UInt32(total), low: low, high: high, timestamp: timestamp)
            return frame
        }
        if !endOfPacket {
            if scattered {
                pendingBuffer = buffer
                pendingLength = Int(length)
            } else {
                tally.add(1, to: RxQueueCounters.Slot.multiDescriptorDrops)
                pool.give(buffer)
                discarding = true
            }
            return Self.noBuffer
        }
        if status & bits.frameErrors != 0 {
            tally.add(1, to: RxQueueCounters.Slot.frameErrors)
            pool.give(buffer)
            return Self.noBuffer
        }
        // A loopback frame on a family that writes its stripped tag big endian.
        storeMetadata(of: buffer, length: length, low: low, high: high, timestamp: timestamp)
        return buffer
    }

    /// The metadata of a frame completed on the slow path; a loopback frame's tag is put in
    /// host order where the family writes it big endian (I350).
    @usableFromInline
    func storeMetadata(of buffer: UInt32, length: UInt32, low: UInt64, high: UInt64, timestamp: UInt64) {
        let record = pool.metadata(buffer)
        PacketMetadata.storeReceived(into: record, length: length, queueWord: queueWord, writeBackLow: low,
                                     writeBackHigh: high, timestamp: timestamp)
        if bits.loopbackVLANByteSwapped && UInt32(truncatingIfNeeded: high) & RxStatus.loopback != 0 {
            record.pointee.vlanTCI = record.pointee.vlanTCI.byteSwapped
        }
    }

    /// Counts a device write to the unposted tail slot and restores the slot's read format
    /// (its buffer's address, header address 0).
    @usableFromInline
    mutating func repostUnpostedSlot(_ descriptor: UnsafeMutableRawPointer) {
        tally.add(1, to: RxQueueCounters.Slot.unpostedWrites)
        let slot = (descriptor - ring) / Layout.size
        writeReadFormat(descriptor, buffer: slots[slot])
    }

    /// Writes a descriptor in read format (82599 datasheet §7.1.6.1): the buffer's address and
    /// header address 0 (no header split), which also clears DD.
    @usableFromInline
    func writeReadFormat(_ descriptor: UnsafeMutableRawPointer, buffer: UInt32) {
        descriptor.storeBytes(of: pool.iova(buffer), toByteOffset: Layout.rxPacketAddressOffset, as: UInt64.self)
        descriptor.storeBytes(of: 0 as UInt64, toByteOffset: Layout.rxHeaderAddressOffset, as: UInt64.self)
    }

    /// Returns a half-collected scattered frame to the pool.
    @usableFromInline
    mutating func dropPending() {
        if pendingBuffer != Self.noBuffer {
            pool.give(pendingBuffer)
            pendingBuffer = Self.noBuffer
        }
    }

    // MARK: - Control path

    /// Gives every slot a buffer and writes the read-format descriptors; false when the pool
    /// ran dry (everything taken is returned).
    mutating func fillRing() -> Bool {
        for i in 0..<size {
            guard let buffer = pool.take() else {
                releaseBuffers()
                return false
            }
            slots[i] = buffer
            writeReadFormat(ring + i * Layout.size, buffer: buffer)
        }
        next = 0
        return true
    }

    /// Returns every buffer the ring holds to the pool (queue disabled first).
    mutating func releaseBuffers() {
        for i in 0..<size where slots[i] != Self.noBuffer {
            pool.give(slots[i])
            slots[i] = Self.noBuffer
        }
        dropPending()
        discarding = false
        next = 0
    }
}
