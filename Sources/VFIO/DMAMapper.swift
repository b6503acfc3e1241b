import Foundation
import PMDCore

/// The address space a container's devices share: makes memory reachable by the devices.
/// Implemented with VFIO_IOMMU_MAP_DMA (IOMMU mode) or with physical addresses (no-IOMMU mode).
public protocol DMADomain: Sendable {
    /// Whether the domain chooses IOVAs itself (physical addresses) rather than taking them
    /// from the IOVA allocator.
    var choosesIOVA: Bool { get }
    /// Makes `region` reachable at `iova` (or at the domain's own choice when `choosesIOVA`)
    /// and returns where the device finds its bytes.
    func map(_ region: DMAMemory, at iova: UInt64?) throws(VFIOError) -> DeviceAddresses
    /// Undoes a mapping.
    func unmap(iova: UInt64, length: Int) throws(VFIOError)
}

/// The DMA mappings of one container, reference-counted per region: two VFs of a container
/// mapping the same pool get the same IOVA and the region stays mapped until the last one
/// lets go. Thread-safe (devices of a container may be opened and closed from any thread).
public final class DMAMapper: @unchecked Sendable {
    /// One mapped region.
    public struct Mapping: Equatable, Sendable {
        /// Its IOVA.
        public let iova: UInt64
        /// Its length.
        public let length: Int
        /// How many map calls are not yet matched by an unmap.
        public var references: Int
    }

    private let domain: any DMADomain
    private var allocator: IOVAAllocator
    private var mappingLimit: Int?
    /// Keyed by the region's host address. Guarded by `lock`. The region is held, so that its
    /// memory cannot be freed while a device may still write to it.
    private var mappings: [UInt: (mapping: Mapping, region: DMAMemory)] = [:]
    private let lock = NSLock()

    /// A mapper over `domain`, allocating IOVAs in `ranges`; at most `mappingLimit` regions.
    public init(domain: any DMADomain, ranges: [ClosedRange<UInt64>], mappingLimit: Int? = nil) {
        self.domain = domain
        allocator = IOVAAllocator(ranges: ranges)
        self.mappingLimit = mappingLimit
    }

    /// Maps `region` (or adds a reference to its mapping), records its device addresses in it
    /// and returns the address of its first byte.
    @discardableResult
    public func map(_ region: DMAMemory) throws(VFIOError) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let key = UInt(bitPattern: region.address)
        if let entry = mappings[key] {
            mappings[key]?.mapping.references += 1
            return entry.mapping.iova
        }
        if let limit = mappingLimit, mappings.count >= limit { throw .dmaMappingLimit(limit: limit) }
        var proposed: UInt64?
        if !domain.choosesIOVA {
            // Aligning to the region's page size lets the IOMMU use large pages.
            guard let iova = allocator.allocate(length: UInt64(region.length), alignment: UInt64(region.pageSize)) else {
                throw .iovaSpaceExhausted(bytes: region.length)
            }
            proposed = iova
        }
        let addresses: DeviceAddresses
        do {
            addresses = try domain.map(region, at: proposed)
        } catch {
            if let proposed { allocator.free(proposed) }
            throw error
        }
        mappings[key] = (Mapping(iova: addresses.first, length: region.length, references: 1), region)
        region.recordMapping(addresses)
        return addresses.first
    }

    /// Drops one reference to the mapping of `region`; the last one unmaps it.
    public func unmap(_ region: DMAMemory) throws(VFIOError) {
        lock.lock()
        defer { lock.unlock() }
        let key = UInt(bitPattern: region.address)
        guard let entry = mappings[key] else { throw .regionNotMapped }
        if entry.mapping.references > 1 {
            mappings[key]?.mapping.references -= 1
            return
        }
        mappings[key] = nil
        if !domain.choosesIOVA { allocator.free(entry.mapping.iova) }
        region.clearMapping()
        try domain.unmap(iova: entry.mapping.iova, length: entry.mapping.length)
    }

    /// Unmaps everything still mapped, whatever its references (container close).
    public func unmapAll() {
        lock.lock()
        let all = mappings
        mappings = [:]
        lock.unlock()
        for (mapping, region) in all.values.sorted(by: { $0.mapping.iova < $1.mapping.iova }) {
            if !domain.choosesIOVA { allocator.free(mapping.iova) }
            region.clearMapping()
            try? domain.unmap(iova: mapping.iova, length: mapping.length)
        }
    }

    /// The current mappings, by IOVA.
    public var current: [Mapping] {
        lock.lock()
        defer { lock.unlock() }
        return mappings.values.map(\.mapping).sorted { $0.iova < $1.iova }
    }
}
