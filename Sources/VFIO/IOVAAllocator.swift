/// Chooses I/O virtual addresses for DMA regions inside the ranges the IOMMU reported.
///
/// Addresses below 2^39 are used first: several IOMMUs (and VT-d in many VMs) translate only
/// 39 bits, and mapping above that fails or faults. Above that only when nothing fits lower.
/// IOVA 0 and the first megabyte are never handed out, so that a zero in a descriptor is
/// never a valid buffer address.
public struct IOVAAllocator: Sendable {
    /// The usable ranges, sorted, inclusive ends.
    public let ranges: [ClosedRange<UInt64>]
    /// Addresses below this are preferred.
    public let preferredLimit: UInt64
    /// The lowest address handed out.
    public let minimum: UInt64
    /// Allocated intervals, sorted by start.
    public private(set) var allocated: [Range<UInt64>] = []

    /// Two to the 39th: the address width of the most limited common IOMMUs.
    public static let thirtyNineBits: UInt64 = 1 << 39

    /// An allocator over `ranges`.
    public init(ranges: [ClosedRange<UInt64>], preferredLimit: UInt64 = IOVAAllocator.thirtyNineBits, minimum: UInt64 = 1 << 20) {
        self.ranges = ranges.sorted { $0.lowerBound < $1.lowerBound }
        self.preferredLimit = preferredLimit
        self.minimum = minimum
    }

    /// Reserves `length` bytes aligned to `alignment` (a power of two) and returns the first
    /// address; nil when no usable range has room.
    public mutating func allocate(length: UInt64, alignment: UInt64) -> UInt64? {
        precondition(length > 0 && alignment > 0 && alignment & (alignment - 1) == 0, "bad IOVA request")
        for ceiling in [preferredLimit - 1, UInt64.max] {
            for range in ranges {
                let low = max(range.lowerBound, minimum)
                let high = min(range.upperBound, ceiling)
                guard low <= high, let start = firstFit(length: length, alignment: alignment, low: low, high: high) else { continue }
                let interval = start..<(start + length)
                let index = allocated.firstIndex { $0.lowerBound > start } ?? allocated.endIndex
                allocated.insert(interval, at: index)
                return start
            }
        }
        return nil
    }

    /// Gives back the interval that starts at `iova`.
    public mutating func free(_ iova: UInt64) {
        allocated.removeAll { $0.lowerBound == iova }
    }

    /// The lowest aligned start in [low, high] where `length` bytes overlap nothing allocated.
    private func firstFit(length: UInt64, alignment: UInt64, low: UInt64, high: UInt64) -> UInt64? {
        guard var candidate = alignUp(low, alignment) else { return nil }
        for used in allocated where used.upperBound > candidate {
            let (end, overflow) = candidate.addingReportingOverflow(length)
            if overflow { return nil }
            if end <= used.lowerBound { break }
            guard let next = alignUp(used.upperBound, alignment) else { return nil }
            candidate = next
        }
        let (last, overflow) = candidate.addingReportingOverflow(length - 1)
        return !overflow && candidate >= low && last <= high ? candidate : nil
    }

    private func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }
}
