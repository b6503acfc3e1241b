/// Where the buffers of a pool lie in its DMA region.
///
/// Buffer slots follow each other `stride` bytes apart from the region's start. When the
/// device addresses the region in segments (no IOMMU: one physical address per hugepage), a
/// slot that would straddle a segment boundary is left unused, so that every buffer the device
/// is given lies whole inside one segment and its address is one table lookup. With 2 MiB
/// segments and the default 2176-byte stride that is one slot in 964.
public struct MempoolLayout: Equatable, Sendable {
    /// Bytes from one slot to the next.
    public let stride: Int
    /// The size of the segments no buffer may cross; nil when the region is one contiguous range.
    public let segmentSize: Int?
    /// The slots that hold buffers, ascending: as many as the pool's capacity.
    public let usableSlots: [UInt32]
    /// Slots in the region, the unused ones included.
    public let slotCount: Int

    /// Bytes of region the slots take.
    public var regionLength: Int { slotCount * stride }

    /// The layout of `capacity` buffers `stride` bytes apart, none crossing a multiple of
    /// `segmentSize` (counted from the region's start).
    public init(capacity: Int, stride: Int, segmentSize: Int?) {
        precondition(capacity >= 0 && stride > 0, "pool layout out of range")
        self.stride = stride
        self.segmentSize = segmentSize
        guard let segmentSize else {
            usableSlots = (0..<capacity).map { UInt32($0) }
            slotCount = capacity
            return
        }
        precondition(stride <= segmentSize, "a buffer of \(stride) bytes cannot fit in a segment of \(segmentSize)")
        var usable: [UInt32] = []
        usable.reserveCapacity(capacity)
        var slot = 0
        while usable.count < capacity {
            let start = slot * stride
            if start / segmentSize == (start + stride - 1) / segmentSize { usable.append(UInt32(slot)) }
            slot += 1
        }
        usableSlots = usable
        slotCount = slot
    }
}
