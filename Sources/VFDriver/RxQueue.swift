import CShims
import PMDCore

/// Bits of the advanced RX write-back descriptor shared by both families
/// (82599 "Advanced Receive Descriptors — Write-Back Format").
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

/// The raw values of PMDCore's `PacketFlags`, as constants the hot path folds (a `static let`
/// of another module is reached through an accessor call). A test keeps them equal.
public enum MetadataFlagBits {
    /// `PacketFlags.rssHash`.
    @inlinable public static var rssHash: UInt16 { 1 << 0 }
    /// `PacketFlags.vlanStripped`.
    @inlinable public static var vlanStripped: UInt16 { 1 << 1 }
    /// `PacketFlags.ipChecksumGood`.
    @inlinable public static var ipChecksumGood: UInt16 { 1 << 2 }
    /// `PacketFlags.ipChecksumBad`.
    @inlinable public static var ipChecksumBad: UInt16 { 1 << 3 }
    /// `PacketFlags.l4ChecksumGood`.
    @inlinable public static var l4ChecksumGood: UInt16 { 1 << 4 }
    /// `PacketFlags.l4ChecksumBad`.
    @inlinable public static var l4ChecksumBad: UInt16 { 1 << 5 }
    /// `PacketFlags.insertVLAN`.
    @inlinable public static var insertVLAN: UInt16 { 1 << 8 }
    /// `PacketFlags.offloadIPChecksum`.
    @inlinable public static var offloadIPChecksum: UInt16 { 1 << 9 }
    /// `PacketFlags.offloadL4Checksum`.
    @inlinable public static var offloadL4Checksum: UInt16 { 1 << 10 }
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
}

/// One receive queue: a ring of advanced descriptors in DMA memory, the buffer index of each
/// slot, and the queue's pool. Owned by one thread; the port keeps it in stable memory.
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
    /// VP where it means the tag was stripped into the descriptor (igb: the PF strips and VP
    /// says so; ixgbe: with RXDCTL.VME), 0 where VP only says the frame, tag included, is tagged.
    @usableFromInline let strippedTagStatus: UInt32
    @usableFromInline let queueID: UInt16
    @usableFromInline let scattered: Bool
    @usableFromInline var next: Int
    /// Scattered receive: the buffer collecting a frame, its length, and whether the rest of
    /// the current frame is being discarded.
    @usableFromInline var pendingBuffer: UInt32
    @usableFromInline var pendingLength: Int
    @usableFromInline var discarding: Bool
    @usableFromInline var tally: RxQueueCounters
    /// Software counters of this queue.
    public var counters: RxQueueCounters { tally }

    init(ring: UnsafeMutableRawPointer, slots: UnsafeMutablePointer<UInt32>, size: Int, pool: PoolRef,
         tailRegister: UnsafeMutableRawPointer, bufferSize: Int, bits: RxDescriptorBits, stripsTags: Bool,
         queueID: Int, scattered: Bool) {
        self.ring = ring
        self.slots = slots
        self.size = size
        self.pool = pool
        self.tailRegister = tailRegister
        self.bufferSize = UInt32(bufferSize)
        self.bits = bits
        strippedTagStatus = stripsTags ? RxStatus.vlanPacket : 0
        self.queueID = UInt16(queueID)
        self.scattered = scattered
        next = 0
        pendingBuffer = Self.noBuffer
        pendingLength = 0
        discarding = false
        tally = RxQueueCounters()
        slots.initialize(repeating: Self.noBuffer, count: size)
    }

    /// Receives up to `batch.freeCapacity` frames into the back of `batch`; returns how many.
    /// A batch holding packets of another pool receives nothing.
    @inlinable
    public mutating func receive(into batch: inout PacketBatch) -> Int {
        guard batch.adopt(pool: pool) else { return 0 }
        batch.compact()
        // The device owns at most size - 1 slots (the tail slot is never posted): a DD beyond
        // them is not the device's to write and is never read as a frame.
        let room = min(batch.freeCapacity, size &- 1)
        // Count the descriptors the device is done with, then one read barrier before any
        // other field of them is read (RX descriptor DD, "read barrier after DD").
        var ready = 0
        var i = next
        while ready < room {
            let status = vfpmd_load_acquire32(ring + (i &<< 4) + 8)
            if status & RxStatus.descriptorDone == 0 { break }
            ready &+= 1
            i = i &+ 1 == size ? 0 : i &+ 1
        }
        guard ready > 0 else { return 0 }
        Barrier.afterDescriptorDone()

        let storage = pool.storage
        let iovaBase = storage.pointee.iovaBase
        let stride = UInt64(storage.pointee.stride)
        let headroom = UInt64(storage.pointee.headroom)
        let metadata = storage.pointee.metadata
        let timestamp = TSC.now()
        var delivered = 0
        var bytes = 0
        var processed = 0
        i = next
        // Refill buffers for the whole burst in one take from the pool; a short pool cuts
        // the burst (the rest stays done in the ring for the next call).
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: PacketBatch.capacity) { freshBuffers in
            let fresh = freshBuffers.baseAddress!
            let available = pool.take(into: fresh, count: ready)
            if available < ready { tally.noBuffer &+= 1 }
            while processed < available {
                let descriptor = ring + (i &<< 4)
                let info = descriptor.load(as: UInt32.self)
                let rss = descriptor.load(fromByteOffset: 4, as: UInt32.self)
                let status = descriptor.load(fromByteOffset: 8, as: UInt32.self)
                let lengthAndVLAN = descriptor.load(fromByteOffset: 12, as: UInt32.self)
                let buffer = slots[i]
                // Refill: new packet address, header address 0 (which also clears DD).
                let refill = fresh[processed]
                slots[i] = refill
                descriptor.storeBytes(of: iovaBase &+ UInt64(refill) &* stride &+ headroom, as: UInt64.self)
                descriptor.storeBytes(of: 0 as UInt64, toByteOffset: 8, as: UInt64.self)
                i = i &+ 1 == size ? 0 : i &+ 1
                processed &+= 1

                let length = lengthAndVLAN & 0xFFFF
                let usual = status & (RxStatus.endOfPacket | bits.frameErrors) == RxStatus.endOfPacket
                    && length <= bufferSize && pendingBuffer == Self.noBuffer && !discarding
                if _slowPath(!usual) {
                    let frame = completeUnusualFrame(
                        buffer: buffer, length: length, status: status, info: info, rss: rss,
                        vlan: lengthAndVLAN, timestamp: timestamp)
                    if frame != Self.noBuffer {
                        batch.appendOwnedIndex(frame)
                        delivered &+= 1
                        bytes &+= Int(metadata[Int(frame)].length)
                    }
                    continue
                }
                fillMetadata(metadata + Int(buffer), length: length, status: status, info: info, rss: rss,
                             vlan: lengthAndVLAN, timestamp: timestamp)
                batch.appendOwnedIndex(buffer)
                delivered &+= 1
                bytes &+= Int(length)
            }
        }
        if processed > 0 {
            // The slot at the old tail is posted by this tail write. The device had no right to
            // write it; if it did (DD set), rewrite it in read format before posting it.
            let unposted = ring + ((next == 0 ? size &- 1 : next &- 1) &<< 4)
            if _slowPath(vfpmd_load_acquire32(unposted + 8) & RxStatus.descriptorDone != 0) {
                repostUnpostedSlot(unposted)
            }
            // One tail write per burst, after the refilled descriptors are visible; the tail
            // stays one behind `next` so that head never meets tail.
            Barrier.beforeTailWrite()
            vfpmd_mmio_write32(tailRegister, UInt32(i == 0 ? size &- 1 : i &- 1))
            next = i
        }
        tally.packets &+= UInt64(delivered)
        tally.bytes &+= UInt64(bytes)
        return delivered
    }

    /// Writes a received frame's metadata record.
    @inlinable
    func fillMetadata(_ record: UnsafeMutablePointer<PacketMetadata>, length: UInt32, status: UInt32,
                      info: UInt32, rss: UInt32, vlan: UInt32, timestamp: UInt64) {
        var flags: UInt16 = 0
        if info & RxStatus.rssTypeMask != 0 { flags |= MetadataFlagBits.rssHash }
        var tci = UInt16(truncatingIfNeeded: vlan >> 16)
        if status & strippedTagStatus != 0 {
            flags |= MetadataFlagBits.vlanStripped
            if bits.loopbackVLANByteSwapped && status & RxStatus.loopback != 0 { tci = tci.byteSwapped }
        }
        if status & (RxStatus.ipChecksum | RxStatus.l4Checksum) != 0 {
            flags |= checksumFlags(status: status, info: info)
        }
        record.pointee.length = length
        record.pointee.port = 0
        record.pointee.queue = queueID
        record.pointee.rssHash = rss
        record.pointee.vlanTCI = tci
        record.pointee.flags = PacketFlags(rawValue: flags)
        record.pointee.packetType = UInt16(truncatingIfNeeded: info)
        record.pointee.timestamp = timestamp
    }

    /// Checksum status from IPCS/L4CS and the family's error bits (Linux rx checksum rules,
    /// including the 82599 zero-UDP-checksum erratum and igb's "ignore checksum" bit).
    @inlinable
    func checksumFlags(status: UInt32, info: UInt32) -> UInt16 {
        if status & bits.ignoreChecksum != 0 { return 0 }
        var flags: UInt16 = 0
        if status & RxStatus.ipChecksum != 0 {
            flags |= status & bits.ipChecksumError != 0
                ? MetadataFlagBits.ipChecksumBad : MetadataFlagBits.ipChecksumGood
        }
        if status & RxStatus.l4Checksum != 0 {
            if status & bits.l4ChecksumError == 0 {
                flags |= MetadataFlagBits.l4ChecksumGood
            } else if !(bits.udpZeroChecksumErratum && info & RxStatus.packetTypeUDP != 0) {
                flags |= MetadataFlagBits.l4ChecksumBad
            }
        }
        return flags
    }

    /// The rare cases: a frame error, a length larger than the buffer, a frame spanning
    /// descriptors. Returns the buffer of a completed frame to deliver, or `noBuffer`.
    /// `buffer` has already been replaced in its slot; it is either delivered or returned.
    @usableFromInline
    mutating func completeUnusualFrame(buffer: UInt32, length: UInt32, status: UInt32, info: UInt32,
                                       rss: UInt32, vlan: UInt32, timestamp: UInt64) -> UInt32 {
        let endOfPacket = status & RxStatus.endOfPacket != 0
        if discarding {
            pool.give(buffer)
            if endOfPacket { discarding = false }
            return Self.noBuffer
        }
        if length > bufferSize {
            // Never trust a length beyond the buffer: drop the frame (and the rest of it).
            tally.oversize &+= 1
            dropPending()
            pool.give(buffer)
            discarding = !endOfPacket
            return Self.noBuffer
        }
        if pendingBuffer != Self.noBuffer {
            // Scattered receive: append this segment to the frame being collected.
            let total = pendingLength + Int(length)
            guard total <= pool.dataRoom else {
                tally.oversize &+= 1
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
                tally.frameErrors &+= 1
                pool.give(frame)
                return Self.noBuffer
            }
            fillMetadata(pool.metadata(frame), length: UInt32(total), status: status, info: info, rss: rss,
                         vlan: vlan, timestamp: timestamp)
            return frame
        }
        if !endOfPacket {
            if scattered {
                pendingBuffer = buffer
                pendingLength = Int(length)
            } else {
                tally.multiDescriptorDrops &+= 1
                pool.give(buffer)
                discarding = true
            }
            return Self.noBuffer
        }
        // A one-descriptor frame with a frame error.
        tally.frameErrors &+= 1
        pool.give(buffer)
        return Self.noBuffer
    }

    /// Counts a device write to the unposted tail slot and restores the slot's read format
    /// (its buffer's address, header address 0).
    @usableFromInline
    mutating func repostUnpostedSlot(_ descriptor: UnsafeMutableRawPointer) {
        tally.unpostedWrites &+= 1
        let slot = (descriptor - ring) / 16
        descriptor.storeBytes(of: pool.iova(slots[slot]), as: UInt64.self)
        descriptor.storeBytes(of: 0 as UInt64, toByteOffset: 8, as: UInt64.self)
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
            let descriptor = ring + i * 16
            descriptor.storeBytes(of: pool.iova(buffer), as: UInt64.self)
            descriptor.storeBytes(of: 0 as UInt64, toByteOffset: 8, as: UInt64.self)
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
