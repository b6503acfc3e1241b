/// A pool of fixed-size packet buffers carved from one DMA region.
///
/// Buffer `i` starts at `region.address + i × stride`; its data begins `headroom` bytes in, and
/// its device address is found the same way in the region's device addresses: one table entry
/// per segment of the region (a single one through an IOMMU, one per hugepage without one), no
/// per-buffer table. When the device addresses the region in segments, buffers are laid out so
/// that none crosses a segment boundary (`MempoolLayout`). Free buffers are a stack of `UInt32`
/// indices. A pool has one owner thread at a time (one pool per
/// RX queue); it is never shared between threads that run at once.
///
/// The class owns the memory; the hot path uses `PoolRef`, a trivial pointer to the pool's
/// state, so taking and returning buffers costs no reference counting.
public final class Mempool: @unchecked Sendable {
    /// Default bytes of frame data per buffer.
    public static let defaultDataRoom = 2048
    /// Default bytes kept free before the frame data.
    public static let defaultHeadroom = 128

    /// The DMA region holding every buffer.
    public let region: DMAMemory
    /// Name for logs and errors.
    public let name: String
    /// The pool's hot-path handle.
    public let ref: PoolRef

    /// Where the buffers lie in the region.
    public let layout: MempoolLayout

    /// Creates a pool of `capacity` buffers with `dataRoom` bytes of frame data each. When the
    /// device will address the region in segments of `segmentSize` bytes (see
    /// `PCIFunction.dmaSegmentSize`), no buffer crosses a segment boundary; a pool that may sit
    /// in hugepages keeps each buffer inside one in any case, so that any port can send from
    /// it, one without IOMMU (one physical address per hugepage) too.
    public init(
        name: String,
        capacity: Int,
        dataRoom: Int = Mempool.defaultDataRoom,
        headroom: Int = Mempool.defaultHeadroom,
        pages: DMAMemory.PagePolicy = .preferHugepages,
        segmentSize: Int? = nil
    ) throws(DMAMemoryError) {
        precondition(capacity > 0 && capacity < Int(UInt32.max), "pool capacity out of range")
        precondition(dataRoom >= 64 && headroom >= 0, "pool buffer sizes out of range")
        let stride = (headroom + dataRoom + 63) & ~63
        let segments = segmentSize ?? (pages == .smallPages ? nil : DMAMemory.hugepageSize)
        layout = MempoolLayout(capacity: capacity, stride: stride, segmentSize: segments)
        region = try DMAMemory(length: layout.regionLength, pages: pages)
        self.name = name
        ref = PoolRef(storage: MempoolStorage.allocate(
            base: region.address, layout: layout, headroom: headroom, dataRoom: dataRoom))
    }

    deinit {
        ref.storage.pointee.release()
        ref.storage.deallocate()
    }

    /// Sets the device address of every buffer from the region's device addresses; call after
    /// the region was mapped. The mapping's segments must be those the pool was laid out for
    /// (or multiples of them), so that no buffer crosses one.
    public func regionWasMapped() {
        guard let addresses = region.deviceAddresses else { return }
        precondition(keepsBuffersInside(segmentsOf: addresses.segmentSize),
                     "pool \(name) was not laid out for segments of \(addresses.segmentSize ?? 0) bytes")
        ref.storage.pointee.adoptSegments(addresses)
    }

    /// Whether every buffer lies inside one segment of `segmentSize` bytes (nil: one contiguous
    /// range, which every pool fits).
    public func keepsBuffersInside(segmentsOf segmentSize: Int?) -> Bool {
        guard let segmentSize else { return true }
        return layout.segmentSize.map { segmentSize % $0 == 0 } ?? false
    }

    /// Buffers in the pool, ready to be taken.
    public var available: Int { ref.available }
    /// Buffers taken and not yet returned.
    public var inUse: Int { ref.capacity - ref.available }
    /// Total buffers.
    public var capacity: Int { ref.capacity }
    /// Bytes of frame data per buffer.
    public var dataRoom: Int { Int(ref.storage.pointee.dataRoom) }
    /// How the receive status of this pool's packets decodes: a driver sets it on the pools its
    /// receive queues fill.
    public var receiveFormat: ReceiveStatusFormat {
        get { ref.storage.pointee.receiveFormat }
        set { ref.storage.pointee.receiveFormat = newValue }
    }
    /// Returns of a buffer that was already in the pool, caught by the debug check (ignored, not pushed twice).
    public var doubleFrees: Int { Int(ref.storage.pointee.doubleFrees) }
}

/// The state of a pool, in memory of its own so that handles to it are plain pointers.
@frozen
public struct MempoolStorage {
    /// First byte of buffer 0.
    public let base: UnsafeMutableRawPointer
    /// Per segment of the region, what turns a buffer's offset into the device address of its
    /// frame data by one addition: the segment's device address, less the segment's offset in
    /// the region, plus the headroom (wrapping). One entry (the headroom) until mapped.
    public var segmentBases: UnsafeMutablePointer<UInt64>
    /// log2 of the segment size (`DeviceAddresses.contiguousShift` for one contiguous range).
    public var segmentShift: UInt64
    /// Bytes from one buffer to the next.
    public let stride: UInt32
    /// Bytes before the frame data.
    public let headroom: UInt32
    /// Bytes of frame data.
    public let dataRoom: UInt32
    /// Number of buffers.
    public let capacity: UInt32
    /// Number of slots in the region, the unused ones between segments included.
    public let slots: UInt32
    /// Number of indices on the free stack.
    public var freeCount: UInt32
    /// Double frees caught (debug builds).
    public var doubleFrees: UInt32
    /// The free stack.
    public let freeStack: UnsafeMutablePointer<UInt32>
    /// One metadata record per slot.
    public let metadata: UnsafeMutablePointer<PacketMetadata>
    /// Debug builds: 1 where the buffer is in the pool (and on unused slots, which are never
    /// handed out).
    public let inPool: UnsafeMutablePointer<UInt8>
    /// How the receive status in the buffers' metadata decodes (set by the driver whose
    /// receive queue fills the pool; all zero otherwise).
    public var receiveFormat: ReceiveStatusFormat

    static func allocate(
        base: UnsafeMutableRawPointer, layout: MempoolLayout, headroom: Int, dataRoom: Int
    ) -> UnsafeMutablePointer<MempoolStorage> {
        let capacity = layout.usableSlots.count, slots = layout.slotCount
        let stack = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, capacity))
        // Index 0 on top: buffers are handed out in address order, which tests rely on reading.
        for (i, slot) in layout.usableSlots.reversed().enumerated() { stack[i] = slot }
        let meta = UnsafeMutablePointer<PacketMetadata>.allocate(capacity: max(1, slots))
        meta.initialize(repeating: PacketMetadata(), count: slots)
        let inPool = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, slots))
        inPool.initialize(repeating: 1, count: slots)
        let bases = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        bases.initialize(to: UInt64(headroom))
        let s = UnsafeMutablePointer<MempoolStorage>.allocate(capacity: 1)
        s.initialize(to: MempoolStorage(
            base: base, segmentBases: bases, segmentShift: UInt64(DeviceAddresses.contiguousShift),
            stride: UInt32(layout.stride), headroom: UInt32(headroom), dataRoom: UInt32(dataRoom),
            capacity: UInt32(capacity), slots: UInt32(slots), freeCount: UInt32(capacity),
            doubleFrees: 0, freeStack: stack, metadata: meta, inPool: inPool, receiveFormat: ReceiveStatusFormat()))
        return s
    }

    /// Takes the region's device addresses as the table buffer addresses are looked up in.
    mutating func adoptSegments(_ addresses: DeviceAddresses) {
        let bases = UnsafeMutablePointer<UInt64>.allocate(capacity: addresses.bases.count)
        for (k, base) in addresses.bases.enumerated() {
            (bases + k).initialize(to: base &- UInt64(k) &<< UInt64(addresses.segmentShift) &+ UInt64(headroom))
        }
        segmentBases.deallocate()
        segmentBases = bases
        segmentShift = UInt64(addresses.segmentShift)
    }

    func release() {
        freeStack.deallocate()
        metadata.deallocate()
        inPool.deallocate()
        segmentBases.deallocate()
    }
}

/// A trivial handle to a pool: what rings, batches and packets hold. Copying it costs nothing;
/// it is valid while its `Mempool` lives.
@frozen
public struct PoolRef: Equatable, @unchecked Sendable {
    /// The pool's state.
    public let storage: UnsafeMutablePointer<MempoolStorage>

    /// A handle to `storage`.
    @inlinable
    public init(storage: UnsafeMutablePointer<MempoolStorage>) { self.storage = storage }

    /// Buffers ready to be taken.
    @inlinable public var available: Int { Int(storage.pointee.freeCount) }
    /// Total buffers.
    @inlinable public var capacity: Int { Int(storage.pointee.capacity) }
    /// Bytes of frame data per buffer.
    @inlinable public var dataRoom: Int { Int(storage.pointee.dataRoom) }

    /// Takes one buffer index, or nil when the pool is empty (never a crash).
    @inlinable
    public func take() -> UInt32? {
        let n = storage.pointee.freeCount
        guard n > 0 else { return nil }
        storage.pointee.freeCount = n &- 1
        let index = storage.pointee.freeStack[Int(n &- 1)]
        #if DEBUG
        storage.pointee.inPool[Int(index)] = 0
        #endif
        return index
    }

    /// Takes up to `count` buffer indices into `out`; returns how many it took.
    @inlinable
    public func take(into out: UnsafeMutablePointer<UInt32>, count: Int) -> Int {
        let n = Int(storage.pointee.freeCount)
        let k = count < n ? count : n
        let stack = storage.pointee.freeStack
        var i = 0
        while i < k {
            let index = stack[n &- 1 &- i]
            out[i] = index
            #if DEBUG
            storage.pointee.inPool[Int(index)] = 0
            #endif
            i &+= 1
        }
        storage.pointee.freeCount = UInt32(n &- k)
        return k
    }

    /// Returns a buffer index to the pool. Debug builds catch a double return: it is counted in
    /// `Mempool.doubleFrees` and not pushed, so the pool stays whole.
    @inlinable
    public func give(_ index: UInt32) {
        #if DEBUG
        precondition(index < storage.pointee.slots, "buffer index \(index) is not of this pool")
        if storage.pointee.inPool[Int(index)] != 0 {
            storage.pointee.doubleFrees &+= 1
            return
        }
        storage.pointee.inPool[Int(index)] = 1
        #endif
        let n = storage.pointee.freeCount
        storage.pointee.freeStack[Int(n)] = index
        storage.pointee.freeCount = n &+ 1
    }

    /// Returns `count` buffer indices read from `indices` to the pool, skipping any equal to
    /// `skipping` (a ring's marker for a slot without a buffer). Returns how many it returned.
    @inlinable
    public func give(from indices: UnsafePointer<UInt32>, count: Int, skipping: UInt32) -> Int {
        #if DEBUG
        var given = 0
        for i in 0..<count where indices[i] != skipping {
            give(indices[i])
            given &+= 1
        }
        return given
        #else
        var n = Int(storage.pointee.freeCount)
        let stack = storage.pointee.freeStack
        var i = 0
        while i < count {
            let index = indices[i]
            stack[n] = index
            n &+= index != skipping ? 1 : 0
            i &+= 1
        }
        let given = n &- Int(storage.pointee.freeCount)
        storage.pointee.freeCount = UInt32(n)
        return given
        #endif
    }

    /// First byte of frame data of buffer `index`.
    @inlinable
    public func data(_ index: UInt32) -> UnsafeMutableRawPointer {
        storage.pointee.base + (Int(index) &* Int(storage.pointee.stride) &+ Int(storage.pointee.headroom))
    }

    /// Device address (IOVA, or physical address without an IOMMU) of the first byte of frame
    /// data of buffer `index`.
    @inlinable
    public func iova(_ index: UInt32) -> UInt64 { segmentedAddresses.address(of: index) }

    /// Whether the pool's region is one contiguous range of device addresses (through an
    /// IOMMU): then `contiguousAddresses` serves, else `segmentedAddresses`.
    @inlinable
    public var isContiguous: Bool { storage.pointee.segmentShift == UInt64(DeviceAddresses.contiguousShift) }

    /// The buffer addresses of a contiguous pool, for a loop over many buffers.
    @inlinable
    public var contiguousAddresses: ContiguousBufferAddresses {
        ContiguousBufferAddresses(base: storage.pointee.segmentBases[0], stride: UInt64(storage.pointee.stride))
    }

    /// The buffer addresses of any pool (a table lookup per buffer), for a loop over many buffers.
    @inlinable
    public var segmentedAddresses: SegmentedBufferAddresses {
        SegmentedBufferAddresses(bases: storage.pointee.segmentBases, shift: storage.pointee.segmentShift,
                                 stride: UInt64(storage.pointee.stride))
    }

    /// The receive-status bit that says a packet of this pool had its VLAN tag stripped (0
    /// when its receive format has none); see `PacketMetadata.tagStripped(strippedTagStatus:)`.
    @inlinable public var strippedTagStatus: UInt32 { storage.pointee.receiveFormat.vlanStripped }

    /// Metadata record of buffer `index`.
    @inlinable
    public func metadata(_ index: UInt32) -> UnsafeMutablePointer<PacketMetadata> {
        storage.pointee.metadata + Int(index)
    }
}

/// Turns a pool's buffer indices into the device addresses of their frame data, in a loop over
/// many buffers. A loop generic over it is specialized for each kind, so that a pool through an
/// IOMMU pays nothing for the segment table of a pool without one.
public protocol BufferAddresses {
    /// Device address of the first byte of frame data of buffer `index`.
    func address(of index: UInt32) -> UInt64
}

/// The buffer addresses of a pool whose region is one contiguous range: a multiply and an add.
@frozen
public struct ContiguousBufferAddresses: BufferAddresses {
    /// Device address of buffer 0's frame data.
    public let base: UInt64
    /// Bytes from one buffer to the next.
    public let stride: UInt64

    /// Buffers `stride` bytes apart from `base`.
    @inlinable
    public init(base: UInt64, stride: UInt64) {
        self.base = base
        self.stride = stride
    }

    /// Device address of the first byte of frame data of buffer `index`.
    @inlinable
    public func address(of index: UInt32) -> UInt64 { base &+ UInt64(index) &* stride }
}

/// The buffer addresses of any pool: the buffer's offset into the region plus the entry of its
/// segment in the pool's table (`MempoolStorage.segmentBases`; a single entry through an IOMMU).
/// A buffer never crosses a segment, so its first byte names the segment.
@frozen
public struct SegmentedBufferAddresses: BufferAddresses {
    /// The pool's per-segment addends.
    public let bases: UnsafeMutablePointer<UInt64>
    /// log2 of the segment size.
    public let shift: UInt64
    /// Bytes from one buffer to the next.
    public let stride: UInt64

    /// The lookup over `bases` in segments of `1 << shift` bytes.
    @inlinable
    public init(bases: UnsafeMutablePointer<UInt64>, shift: UInt64, stride: UInt64) {
        self.bases = bases
        self.shift = shift
        self.stride = stride
    }

    /// Device address of the first byte of frame data of buffer `index`.
    @inlinable
    public func address(of index: UInt32) -> UInt64 {
        let offset = UInt64(index) &* stride
        return bases[Int(truncatingIfNeeded: offset &>> shift)] &+ offset
    }
}
