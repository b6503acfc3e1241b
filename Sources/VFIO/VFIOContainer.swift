import CShims
import Foundation
import Logging
import PCISysfs
import PMDCore
import SystemPackage

let vfioLog = Logger(label: "vfpmd.vfio")

/// A VFIO container (`/dev/vfio/vfio`): one I/O address space shared by every VF the process
/// opens. Groups are attached to it as devices are opened; the IOMMU type is set when the
/// first group is attached (the kernel needs a group first), and the IOMMU's usable ranges
/// and mapping limit are read then.
///
/// Owned by the process (`shared`); its file descriptor and tables are guarded by a lock, so
/// devices may be opened and closed from any thread.
public final class VFIOContainer: @unchecked Sendable {
    /// How the devices reach memory.
    public enum Mode: Sendable, Equatable {
        /// Through the IOMMU (type 1 v2, else type 1): IOVAs chosen by vfpmd.
        case iommu
        /// Without an IOMMU (`VFIO_NOIOMMU_IOMMU`): the device sees physical memory; unsafe.
        case noIOMMU
    }

    /// IOMMU or no-IOMMU.
    public let mode: Mode
    /// The sysfs tree devices are looked up in.
    public let sysfs: Sysfs
    /// The directory holding `vfio/` (`/dev`).
    public let devRoot: String
    /// The container's file descriptor.
    let fd: FileDescriptor
    /// The IOMMU type to set when the first group is attached.
    private let iommuType: Int32
    /// Guards everything below.
    private let lock = NSLock()
    /// DMA mappings (nil before the first group).
    private var mapper: DMAMapper?
    /// Open groups and how many open devices use each.
    private var groups: [Int: (group: VFIOGroup, users: Int)] = [:]
    private var closed = false

    nonisolated(unsafe) private static var sharedContainer: VFIOContainer?
    private static let sharedLock = NSLock()

    /// The process's container, opened on first use. Every VF of the process shares it, so
    /// that one DMA mapping of a memory pool serves them all.
    public static func shared(mode: Mode = .iommu, sysfsRoot: String = "/sys", devRoot: String = "/dev") throws(VFIOError) -> VFIOContainer {
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let existing = sharedContainer, !existing.isClosed {
            guard existing.mode == mode else { throw .containerModeMismatch }
            return existing
        }
        let container = try VFIOContainer(mode: mode, sysfs: Sysfs(root: sysfsRoot), devRoot: devRoot)
        sharedContainer = container
        return container
    }

    /// Opens a container of its own (most programs want `shared`).
    public init(mode: Mode = .iommu, sysfs: Sysfs = Sysfs(), devRoot: String = "/dev") throws(VFIOError) {
        self.mode = mode
        self.sysfs = sysfs
        self.devRoot = devRoot
        if mode == .noIOMMU {
            do { try sysfs.checkNoIOMMUAllowed() } catch { throw .sysfs(error) }
        }
        let path = devRoot + "/vfio/vfio"
        fd = try openVFIOFile(path, address: nil, missing: .vfioNotAvailable(path: path))
        do throws(VFIOError) {
            let version = vfpmd_ioctl_int(fd.rawValue, vfpmd_VFIO_GET_API_VERSION(), 0)
            guard version == VFIO_API_VERSION else {
                throw VFIOError.unsupportedKernel("it speaks VFIO API version \(version), vfpmd speaks \(VFIO_API_VERSION)")
            }
            iommuType = try Self.chooseIOMMUType(fd, mode: mode)
        } catch {
            try? fd.close()
            throw error
        }
    }

    deinit { close() }

    /// Type 1 v2 where offered (unmap semantics without splitting), else type 1; or no-IOMMU.
    private static func chooseIOMMUType(_ fd: FileDescriptor, mode: Mode) throws(VFIOError) -> Int32 {
        func offered(_ type: Int32) -> Bool {
            vfpmd_ioctl_int(fd.rawValue, vfpmd_VFIO_CHECK_EXTENSION(), UInt(type)) > 0
        }
        switch mode {
        case .noIOMMU:
            // The kernel offers no-IOMMU only while enable_unsafe_noiommu_mode is on.
            guard offered(VFIO_NOIOMMU_IOMMU) else { throw .sysfs(.noIOMMUDisabled) }
            return VFIO_NOIOMMU_IOMMU
        case .iommu:
            if offered(VFIO_TYPE1v2_IOMMU) { return VFIO_TYPE1v2_IOMMU }
            if offered(VFIO_TYPE1_IOMMU) { return VFIO_TYPE1_IOMMU }
            throw .unsupportedKernel("it offers neither the type 1 v2 nor the type 1 IOMMU")
        }
    }

    /// Whether `close` was called.
    public var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return closed
    }

    /// The current DMA mappings.
    public var mappings: [DMAMapper.Mapping] {
        lock.lock()
        let current = mapper
        lock.unlock()
        return current?.current ?? []
    }

    // MARK: - Groups

    /// Opens group `number` (or takes another reference to it) and attaches it to the container;
    /// the first group also sets the IOMMU type and reads the IOMMU's info.
    func attachGroup(_ number: Int, for address: PCIAddress) throws(VFIOError) -> VFIOGroup {
        lock.lock()
        defer { lock.unlock() }
        if let entry = groups[number] {
            groups[number] = (entry.group, entry.users + 1)
            return entry.group
        }
        let group = try VFIOGroup(number: number, mode: mode, devRoot: devRoot, address: address, sysfs: sysfs)
        do throws(VFIOError) {
            var containerFD = fd.rawValue
            guard vfpmd_ioctl_ptr(group.fd.rawValue, vfpmd_VFIO_GROUP_SET_CONTAINER(), &containerFD) == 0 else {
                throw VFIOError.systemCallFailed(address, call: "VFIO_GROUP_SET_CONTAINER", errno: .last)
            }
            if mapper == nil { try setUpIOMMU(for: address) }
        } catch {
            group.close()
            throw error
        }
        groups[number] = (group, 1)
        return group
    }

    /// Drops one user of group `number`; the last closes it (which detaches it).
    func detachGroup(_ number: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = groups[number] else { return }
        if entry.users > 1 {
            groups[number] = (entry.group, entry.users - 1)
        } else {
            groups[number] = nil
            entry.group.close()
        }
    }

    /// VFIO_SET_IOMMU, then VFIO_IOMMU_GET_INFO with its capability chain.
    private func setUpIOMMU(for address: PCIAddress) throws(VFIOError) {
        guard vfpmd_ioctl_int(fd.rawValue, vfpmd_VFIO_SET_IOMMU(), UInt(iommuType)) == 0 else {
            throw .systemCallFailed(address, call: "VFIO_SET_IOMMU(\(iommuType))", errno: .last)
        }
        if mode == .noIOMMU {
            mapper = DMAMapper(domain: PhysicalAddressDomain(), ranges: [])
            return
        }
        let reported = try readIOMMUInfo(address)
        vfioLog.debug("IOMMU: IOVA ranges \(reported.usableRanges.map { "0x\(String($0.lowerBound, radix: 16))-0x\(String($0.upperBound, radix: 16))" }), page sizes 0x\(String(reported.pageSizes ?? 0, radix: 16)), mappings available \(reported.dmaMappingsAvailable.map(String.init) ?? "unknown")")
        // Kernels before 5.10 do not report the limit; vfio_iommu_type1's parameter holds it.
        let limit = reported.dmaMappingsAvailable ?? sysfs.readInt(sysfs.dmaEntryLimitParameter)
        mapper = DMAMapper(domain: Type1Domain(container: fd, mappingLimit: limit), ranges: reported.usableRanges, mappingLimit: limit)
    }

    /// Asks with the plain struct's size first; the kernel answers with the size the
    /// capability chain needs, and the call is made again with that much room.
    private func readIOMMUInfo(_ address: PCIAddress) throws(VFIOError) -> IOMMUInfo {
        var size = IOMMUInfo.Layout.size
        for _ in 0..<2 {
            var buffer = [UInt8](repeating: 0, count: size)
            buffer.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(size).littleEndian, as: UInt32.self) }
            let result = buffer.withUnsafeMutableBytes { vfpmd_ioctl_ptr(fd.rawValue, vfpmd_VFIO_IOMMU_GET_INFO(), $0.baseAddress) }
            guard result == 0 else { throw .systemCallFailed(address, call: "VFIO_IOMMU_GET_INFO", errno: .last) }
            let wanted = IOMMUInfo.requiredSize(buffer)
            if wanted <= size { return try IOMMUInfo(parsing: buffer) }
            size = wanted
        }
        throw .unsupportedKernel("VFIO_IOMMU_GET_INFO kept asking for a larger buffer")
    }

    // MARK: - DMA

    /// Maps `region` for every device of the container (or adds a reference) and returns its IOVA.
    @discardableResult
    public func map(_ region: DMAMemory) throws(VFIOError) -> UInt64 {
        lock.lock()
        let current = mapper
        lock.unlock()
        guard let current else {
            throw .unsupportedKernel("no device is open in this container yet, so its IOMMU is not set up")
        }
        return try current.map(region)
    }

    /// Drops one reference to the mapping of `region`.
    public func unmap(_ region: DMAMemory) throws(VFIOError) {
        lock.lock()
        let current = mapper
        lock.unlock()
        guard let current else { throw .regionNotMapped }
        try current.unmap(region)
    }

    /// Unmaps every region, closes every group and the container.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        mapper?.unmapAll()
        for (_, entry) in groups { entry.group.close() }
        groups = [:]
        try? fd.close()
    }
}

/// VFIO_IOMMU_MAP_DMA / UNMAP_DMA on a type-1 container.
struct Type1Domain: DMADomain {
    /// The container's descriptor (owned by the container).
    let container: FileDescriptor
    /// The kernel's limit on the number of mappings, when known.
    let mappingLimit: Int?

    var choosesIOVA: Bool { false }

    func map(_ region: DMAMemory, at iova: UInt64?) throws(VFIOError) -> DeviceAddresses {
        guard let iova else { throw .unsupportedKernel("no IOVA was chosen for a type 1 mapping") }
        var request = vfio_iommu_type1_dma_map()
        request.argsz = UInt32(MemoryLayout<vfio_iommu_type1_dma_map>.size)
        request.flags = UInt32(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
        request.vaddr = UInt64(UInt(bitPattern: region.address))
        request.iova = iova
        request.size = UInt64(region.length)
        guard vfpmd_ioctl_ptr(container.rawValue, vfpmd_VFIO_IOMMU_MAP_DMA(), &request) == 0 else {
            throw VFIOError.forMapDMA(errno: .last, bytes: region.length, memlockLimit: vfpmd_memlock_limit(), mappingLimit: mappingLimit)
        }
        return .contiguous(iova)
    }

    func unmap(iova: UInt64, length: Int) throws(VFIOError) {
        var request = vfio_iommu_type1_dma_unmap()
        request.argsz = UInt32(MemoryLayout<vfio_iommu_type1_dma_unmap>.size)
        request.iova = iova
        request.size = UInt64(length)
        guard vfpmd_ioctl_ptr(container.rawValue, vfpmd_VFIO_IOMMU_UNMAP_DMA(), &request) == 0 else {
            throw .systemCallFailed(nil, call: "VFIO_IOMMU_UNMAP_DMA", errno: .last)
        }
    }
}

/// No-IOMMU mode: nothing is mapped; the device addresses each hugepage of a region at its
/// physical address.
struct PhysicalAddressDomain: DMADomain {
    var choosesIOVA: Bool { true }

    func map(_ region: DMAMemory, at iova: UInt64?) throws(VFIOError) -> DeviceAddresses {
        try Pagemap.deviceAddresses(of: region)
    }

    func unmap(iova: UInt64, length: Int) throws(VFIOError) {}
}

extension VFIOError {
    /// The error for a failed VFIO_IOMMU_MAP_DMA: type 1 counts pinned pages against
    /// RLIMIT_MEMLOCK and answers ENOMEM past it; ENOSPC past its mapping-count limit
    /// (`dma_entry_limit`, 65535 unless changed).
    public static func forMapDMA(errno: Errno, bytes: Int, memlockLimit: UInt64, mappingLimit: Int? = nil, address: PCIAddress? = nil) -> VFIOError {
        switch errno {
        case .noMemory where memlockLimit != UInt64.max:
            return .memlockLimit(address, bytes: bytes, limit: "\(memlockLimit / 1024) KiB")
        case .noSpace:
            return .dmaMappingLimit(limit: mappingLimit ?? 65535)
        default:
            return .systemCallFailed(address, call: "VFIO_IOMMU_MAP_DMA of \(bytes / 1024) KiB", errno: errno)
        }
    }

    /// The error for a VFIO file (container or group) that cannot be opened.
    public static func forOpen(errno: Errno, path: String, address: PCIAddress?, missing: VFIOError) -> VFIOError {
        switch errno {
        case .noSuchFileOrDirectory:
            return missing
        case .permissionDenied, .notPermitted:
            return .permissionDenied(address, path: path, owner: fileOwner(path))
        case .resourceBusy:
            if let address { return .deviceBusy(address, path: path) }
            return .systemCallFailed(nil, call: "open \(path)", errno: errno)
        default:
            return .systemCallFailed(address, call: "open \(path)", errno: errno)
        }
    }
}

/// Opens a VFIO character file read-write, with the error that explains a failure.
func openVFIOFile(_ path: String, address: PCIAddress?, missing: VFIOError) throws(VFIOError) -> FileDescriptor {
    do {
        return try FileDescriptor.open(FilePath(path), .readWrite, options: [.closeOnExec])
    } catch let errno as Errno {
        throw VFIOError.forOpen(errno: errno, path: path, address: address, missing: missing)
    } catch {
        throw .systemCallFailed(address, call: "open \(path)", errno: .ioError)
    }
}

/// `uid 1000 (alice)` for the owner of `path`, nil when it cannot be read.
func fileOwner(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    if let entry = getpwuid(info.st_uid), let name = entry.pointee.pw_name {
        return "uid \(info.st_uid), \(String(cString: name))"
    }
    return "uid \(info.st_uid)"
}

extension Errno {
    /// The calling thread's errno, as left by the last failed system call.
    static var last: Errno { Errno(rawValue: errno) }
}
