import CShims
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Page-aligned, locked memory that a device may read and write: descriptor rings and packet
/// buffers. Backed by 2 MiB hugepages when the system has them, else by 4 KiB pages.
///
/// A region knows its host address and length; once a `PCIFunction` mapped it into the
/// device's I/O address space it also knows the device's addresses for it: one IOVA (through
/// an IOMMU) or one physical address per hugepage (without one). Freed (unlocked and unmapped from the
/// process) when the last reference goes away; unmapping it from the IOMMU is the job of
/// whoever mapped it, before that.
public final class DMAMemory: @unchecked Sendable {
    /// Which pages back a region.
    public enum PagePolicy: Equatable, Sendable {
        /// Hugepages when available, else 4 KiB pages with one log line saying so.
        case preferHugepages
        /// Hugepages or an error that says how to reserve them.
        case requireHugepages
        /// 4 KiB pages.
        case smallPages
        /// Hugepages when available, else 4 KiB pages neither locked nor touched until used:
        /// for memory that a device may never reach (a capture file's port's pool), which then
        /// costs no start-up time while nobody fills it. A device that maps it pins what it maps
        /// (VFIO); without an IOMMU only hugepages can be reached, as before.
        case preferHugepagesElseLazySmallPages
    }

    /// Size of a hugepage used here.
    public static let hugepageSize = 2 << 20
    /// Size of a small page.
    public static let smallPageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// First byte of the region (page aligned).
    public let address: UnsafeMutableRawPointer
    /// Length in bytes (a multiple of `pageSize`).
    public let length: Int
    /// Size of the pages backing the region.
    public let pageSize: Int
    /// Where the device finds the region's bytes, once mapped.
    public private(set) var deviceAddresses: DeviceAddresses?

    /// The address a device uses for `address` (the region's first byte), once mapped.
    public var iova: UInt64? { deviceAddresses?.first }

    /// Whether the region is backed by hugepages.
    public var usesHugepages: Bool { pageSize == Self.hugepageSize }

    /// Allocates and locks at least `length` bytes (lazy small pages are allocated only).
    public init(length: Int, pages: PagePolicy = .preferHugepages) throws(DMAMemoryError) {
        precondition(length > 0, "DMA region length must be positive")
        switch pages {
        case .smallPages:
            (address, self.length) = try Self.mapSmallPages(length)
            pageSize = Self.smallPageSize
        case .requireHugepages:
            (address, self.length) = try Self.mapHugepages(length)
            pageSize = Self.hugepageSize
        case .preferHugepages, .preferHugepagesElseLazySmallPages:
            if let mapped = try? Self.mapHugepages(length) {
                (address, self.length) = mapped
                pageSize = Self.hugepageSize
            } else {
                Self.noteSmallPageFallback()
                (address, self.length) = try Self.mapSmallPages(length, locked: pages == .preferHugepages)
                pageSize = Self.smallPageSize
            }
        }
    }

    deinit {
        munlock(address, length)
        munmap(address, length)
    }

    /// Records the IOVA at which a `PCIFunction` mapped this region, contiguously.
    public func recordMapping(iova: UInt64) { deviceAddresses = .contiguous(iova) }

    /// Records where a `PCIFunction` made the region's bytes reachable.
    public func recordMapping(_ addresses: DeviceAddresses) { deviceAddresses = addresses }

    /// Forgets the addresses after the region was unmapped from the device's address space.
    public func clearMapping() { deviceAddresses = nil }

    /// The device address of the byte at `offset` into the region; nil until mapped.
    public func iova(at offset: Int) -> UInt64? {
        deviceAddresses?.address(at: offset)
    }

    /// Whether `pointer` lies inside the region.
    public func contains(_ pointer: UnsafeRawPointer, length: Int = 1) -> Bool {
        let start = UnsafeRawPointer(address)
        return pointer >= start && pointer + length <= start + self.length
    }

    // MARK: - Mapping

    private static func roundUp(_ value: Int, to multiple: Int) -> Int {
        (value + multiple - 1) / multiple * multiple
    }

    private static func mapHugepages(_ length: Int) throws(DMAMemoryError) -> (UnsafeMutableRawPointer, Int) {
        let size = roundUp(length, to: hugepageSize)
        let fd = vfpmd_memfd_create("vfpmd-dma", UInt32(VFPMD_MFD_HUGETLB | VFPMD_MFD_HUGE_2MB))
        guard fd >= 0 else { throw .noHugepages(bytes: size, reason: Errno(rawValue: errno)) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw .noHugepages(bytes: size, reason: Errno(rawValue: errno))
        }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .noHugepages(bytes: size, reason: Errno(rawValue: errno)) }
        // A shared hugetlbfs mapping reserves its pages at mmap time: a shortage fails above.
        guard mlock(p, size) == 0 else {
            let e = Errno(rawValue: errno)
            munmap(p, size)
            throw .cannotLock(bytes: size, reason: e)
        }
        return (p, size)
    }

    private static func mapSmallPages(_ length: Int, locked: Bool = true) throws(DMAMemoryError) -> (UnsafeMutableRawPointer, Int) {
        let size = roundUp(length, to: smallPageSize)
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (locked ? MAP_POPULATE : 0), -1, 0)
        guard let p, p != MAP_FAILED else { throw .outOfMemory(bytes: size, reason: Errno(rawValue: errno)) }
        guard !locked || mlock(p, size) == 0 else {
            let e = Errno(rawValue: errno)
            munmap(p, size)
            throw .cannotLock(bytes: size, reason: e)
        }
        return (p, size)
    }

    private static let fallbackNote = FallbackNote()

    private static func noteSmallPageFallback() {
        fallbackNote.once {
            coreLog.info("no 2 MiB hugepages available: using 4 KiB pages for DMA memory (reserve hugepages with `echo 512 > /proc/sys/vm/nr_hugepages` for fewer IOTLB misses)")
        }
    }
}

/// Prints a note only the first time.
private final class FallbackNote: @unchecked Sendable {
    private var done = false
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func once(_ body: () -> Void) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if !done { done = true; body() }
    }
}

/// Why DMA memory could not be had; each case says what to do.
public enum DMAMemoryError: Error, CustomStringConvertible, Equatable {
    /// No hugepages of 2 MiB for this many bytes.
    case noHugepages(bytes: Int, reason: Errno)
    /// mlock failed: RLIMIT_MEMLOCK too small.
    case cannotLock(bytes: Int, reason: Errno)
    /// mmap of small pages failed.
    case outOfMemory(bytes: Int, reason: Errno)

    public var description: String {
        switch self {
        case let .noHugepages(bytes, reason):
            return "cannot get \(bytes / DMAMemory.hugepageSize) free 2 MiB hugepages (\(reason)): reserve them with `echo \(max(512, bytes / DMAMemory.hugepageSize)) > /proc/sys/vm/nr_hugepages` as root"
        case let .cannotLock(bytes, reason):
            let limit = currentMemlockLimit()
            return "cannot lock \(bytes / 1024) KiB of DMA memory (\(reason)); the locked-memory limit is \(limit): raise it with `ulimit -l unlimited` (or LimitMEMLOCK=infinity for a service), or run as root"
        case let .outOfMemory(bytes, reason):
            return "cannot allocate \(bytes / 1024) KiB of DMA memory (\(reason)): free some memory or ask for fewer buffers"
        }
    }
}

/// The soft RLIMIT_MEMLOCK, for error messages.
func currentMemlockLimit() -> String {
    let limit = vfpmd_memlock_limit()
    return limit == UInt64.max ? "unlimited" : "\(limit / 1024) KiB"
}

let coreLog = Logger(label: "vfpmd.core")
