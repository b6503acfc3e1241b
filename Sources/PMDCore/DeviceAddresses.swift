/// Where a device finds each byte of a DMA region.
///
/// Through an IOMMU a region is one contiguous range of I/O virtual addresses. Without one the
/// device uses physical addresses, which are contiguous only inside a hugepage: the region is
/// then cut into segments of one hugepage each, and each segment has its own address. Both are
/// one table: segment `offset >> segmentShift` starts at `bases[offset >> segmentShift]`; a
/// contiguous range is a single segment as large as any region can be.
public struct DeviceAddresses: Equatable, Sendable {
    /// The device address of the first byte of each segment, in order.
    public let bases: [UInt64]
    /// log2 of the segment size; `contiguousShift` when the region is one segment.
    public let segmentShift: Int

    /// The shift of a single segment: no region reaches 2^63 bytes.
    public static let contiguousShift = 63

    /// The whole region at `base`, contiguous (an IOMMU mapping).
    public static func contiguous(_ base: UInt64) -> DeviceAddresses {
        DeviceAddresses(bases: [base], segmentShift: contiguousShift)
    }

    /// Segments of `segmentSize` bytes (a power of two), the first at `bases[0]`, each at its own
    /// address (the physical address of each hugepage of a region).
    public static func segmented(_ bases: [UInt64], segmentSize: Int) -> DeviceAddresses {
        precondition(!bases.isEmpty, "a region has at least one segment")
        precondition(segmentSize > 0 && segmentSize & (segmentSize - 1) == 0, "segment size must be a power of two")
        return DeviceAddresses(bases: bases, segmentShift: segmentSize.trailingZeroBitCount)
    }

    /// The size of a segment, nil when the region is one contiguous range.
    public var segmentSize: Int? { segmentShift == Self.contiguousShift ? nil : 1 << segmentShift }

    /// The device address of the region's first byte.
    public var first: UInt64 { bases[0] }

    /// The device address of the byte at `offset` into the region.
    public func address(at offset: Int) -> UInt64 {
        let segment = offset >> segmentShift
        precondition(segment < bases.count, "offset beyond the region's segments")
        return bases[segment] + (UInt64(offset) & ((1 << UInt64(segmentShift)) - 1))
    }
}
