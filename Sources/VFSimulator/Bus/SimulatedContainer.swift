import PMDCore
import Synchronization

/// A simulated VFIO container: one I/O virtual address space and its IOMMU table, shared by
/// every simulated VF attached to it, as the VFs of one VFIO container share one IOVA space
/// (a buffer received on one VF can be sent from another).
///
/// `map(_:)` hands out IOVAs upwards from `iovaBase`, page aligned, with an unmapped guard page
/// between regions so that an overrun faults. A container made with a `segmentSize` models a
/// bus without IOMMU instead: each segment of a region (a hugepage, on a real machine) gets an
/// address of its own, the segments of one region in descending order with a guard page
/// between them, as physical hugepages seldom follow each other; a device access that crosses
/// a segment boundary then faults. Mapping a region that is already mapped returns
/// its IOVA and adds a reference; the last `unmap(_:)` removes it. The device model reaches
/// memory only through `translate`: an access outside every mapping is an IOMMU fault, recorded
/// here (`faults`) and counted for the VF that made it.
///
/// The table the device engine reads is an immutable snapshot published atomically, so
/// translation takes no lock; superseded snapshots are kept until the container goes away.
public final class SimulatedContainer: @unchecked Sendable {
    // @unchecked: the mutable state sits behind `state` (a Mutex); the published snapshot
    // pointer is an Atomic; snapshots are immutable once published.

    /// First IOVA handed out.
    public let iovaBase: UInt64
    /// IOVA granularity (and size of the guard gap between mappings).
    public static let pageSize: UInt64 = 4096
    /// The size of the segments each mapped region is addressed in; nil: one range per region.
    public let segmentSize: Int?

    private struct Mapping {
        let region: DMAMemory
        let addresses: DeviceAddresses
        var references: Int
    }

    private struct State {
        var mappings: [ObjectIdentifier: Mapping] = [:]
        var nextIOVA: UInt64
        var retired: [UnsafeMutablePointer<IOMMUTable>] = []
        var faults: [DMAFault] = []
    }

    private let state: Locked<State>
    private let published: Atomic<UInt>
    private let generationCounter = Atomic<UInt64>(0)

    /// An empty address space whose first mapping lands at `iovaBase`; with `segmentSize` (a
    /// multiple of the page size and a power of two) each region is addressed per segment.
    public init(iovaBase: UInt64 = 0x1_0000_0000, segmentSize: Int? = nil) {
        precondition(iovaBase % Self.pageSize == 0, "IOVA base must be page aligned")
        precondition(segmentSize.map { $0 > 0 && UInt64($0) % Self.pageSize == 0 && $0 & ($0 - 1) == 0 } ?? true,
                     "segments are a power of two of whole pages")
        self.iovaBase = iovaBase
        self.segmentSize = segmentSize
        state = Locked(State(nextIOVA: iovaBase))
        let empty = IOMMUTable.make(entries: [])
        published = Atomic(UInt(bitPattern: empty))
        state.withLock { $0.retired.append(empty) }
    }

    deinit {
        state.withLock { s in
            for table in s.retired { IOMMUTable.free(table) }
        }
    }

    // MARK: - Mapping (VFIO_IOMMU_MAP_DMA / UNMAP_DMA)

    /// Maps `region` (or adds a reference to its mapping), records its device addresses in
    /// it and returns the address of its first byte.
    @discardableResult
    public func map(_ region: DMAMemory) -> UInt64 {
        let key = ObjectIdentifier(region)
        let addresses: DeviceAddresses = state.withLock { s in
            if var m = s.mappings[key] {
                m.references += 1
                s.mappings[key] = m
                return m.addresses
            }
            let addresses = Self.allocate(region.length, segmentSize: segmentSize, next: &s.nextIOVA)
            s.mappings[key] = Mapping(region: region, addresses: addresses, references: 1)
            publish(&s)
            return addresses
        }
        region.recordMapping(addresses)
        return addresses.first
    }

    /// Addresses for `length` bytes from `next` on, a guard page after each range: one range,
    /// or one per segment handed out in descending order.
    private static func allocate(_ length: Int, segmentSize: Int?, next: inout UInt64) -> DeviceAddresses {
        func take(_ bytes: Int) -> UInt64 {
            let start = next
            next += (UInt64(bytes) + pageSize - 1) / pageSize * pageSize + pageSize  // guard page
            return start
        }
        guard let segmentSize else { return .contiguous(take(length)) }
        let count = (length + segmentSize - 1) / segmentSize
        let ascending = (0..<count).map { _ in take(segmentSize) }
        return .segmented(ascending.reversed(), segmentSize: segmentSize)
    }

    /// Drops one reference to the mapping of `region`; the last one unmaps it. Unmapping a
    /// region that is not mapped here throws.
    public func unmap(_ region: DMAMemory) throws(SimulatorError) {
        let key = ObjectIdentifier(region)
        let removed: Bool = try state.withLock { (s) throws(SimulatorError) -> Bool in
            guard var m = s.mappings[key] else { throw .notMapped(bytes: region.length) }
            m.references -= 1
            if m.references > 0 {
                s.mappings[key] = m
                return false
            }
            s.mappings[key] = nil
            publish(&s)
            return true
        }
        if removed { region.clearMapping() }
    }

    /// How many references the mapping of `region` holds (0 when unmapped).
    public func references(of region: DMAMemory) -> Int {
        state.withLock { $0.mappings[ObjectIdentifier(region)]?.references ?? 0 }
    }

    /// Number of distinct regions mapped.
    public var mappedRegionCount: Int { state.withLock { $0.mappings.count } }

    private func publish(_ s: inout State) {
        let entries = s.mappings.values
            .flatMap { m in
                let segment = m.addresses.segmentSize ?? m.region.length
                return m.addresses.bases.enumerated().map { k, base in
                    IOMMUEntry(iova: base, length: UInt64(min(segment, m.region.length - k * segment)),
                               host: m.region.address + k * segment)
                }
            }
            .sorted { $0.iova < $1.iova }
        let table = IOMMUTable.make(entries: entries)
        s.retired.append(table)
        published.store(UInt(bitPattern: table), ordering: .releasing)
        generationCounter.add(1, ordering: .releasing)
    }

    // MARK: - Device side

    /// The current translation table, for the device engine (valid while the container lives).
    @inlinable
    public var table: IOMMUTableRef {
        IOMMUTableRef(pointer: UnsafeMutablePointer(bitPattern: currentTableBits)!)
    }

    @usableFromInline var currentTableBits: UInt { published.load(ordering: .acquiring) }

    /// Changes with every map or unmap; the engine re-translates cached ring addresses when it moves.
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Host address of `length` bytes at `iova`, or nil (and nothing recorded) when any byte
    /// lies outside every mapping. For tests and control paths; the engine uses `table`.
    public func translate(_ iova: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        table.translate(iova, length: length)
    }

    // MARK: - Faults

    /// Records an IOMMU fault (the engine calls this; the faulting VF counts it too).
    func recordFault(_ fault: DMAFault) {
        state.withLock { $0.faults.append(fault) }
    }

    /// Every IOMMU fault so far, oldest first.
    public var faults: [DMAFault] { state.withLock { $0.faults } }
}

/// One IOMMU fault: the device tried to reach `length` bytes at `iova` and no mapping covers them.
public struct DMAFault: Sendable, Equatable, CustomStringConvertible {
    /// What the device was doing.
    public enum Access: String, Sendable {
        /// Fetching an RX descriptor ring.
        case rxRing = "RX ring"
        /// Writing received frame data into a buffer.
        case rxBuffer = "RX buffer write"
        /// Fetching a TX descriptor ring.
        case txRing = "TX ring"
        /// Reading frame data to transmit.
        case txBuffer = "TX buffer read"
    }

    /// Faulting I/O virtual address.
    public var iova: UInt64
    /// Bytes of the access.
    public var length: Int
    /// The simulated function's address.
    public var function: String
    /// Queue index.
    public var queue: Int
    /// What the access was.
    public var access: Access

    /// Whether the device wrote (RX) rather than read (TX, rings).
    public var isWrite: Bool { access == .rxBuffer }

    public var description: String {
        "IOMMU fault: \(function) queue \(queue) \(access.rawValue) of \(length) bytes at IOVA 0x\(String(iova, radix: 16)) outside every DMA mapping"
    }
}
