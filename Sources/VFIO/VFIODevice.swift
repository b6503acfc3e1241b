import CShims
import Foundation
import PCISysfs
import PMDCore
import SystemPackage

/// A VF opened through VFIO: PMDCore's `PCIFunction` for real hardware.
///
/// Opening: sysfs checks (`VFIOPreflight`), the group attached to the shared container,
/// `VFIO_GROUP_GET_DEVICE_FD`, device and region info for BAR0 and the configuration space,
/// BAR0 mapped into the process, vendor and device ID read back from the configuration space,
/// Bus Master Enable set. Closing drops this device's DMA references, unmaps BAR0 and closes
/// the device and (when it was the last user) its group.
///
/// ```swift
/// let container = try VFIOContainer.shared()
/// let vf = try VFIODevice.open(address: "0000:00:11.0", container: container)
/// let status = vf.bar0.read(0x0008)
/// let pool = try Mempool(name: "rx0", capacity: 1024)
/// try vf.mapDMA(pool.region)
/// pool.regionWasMapped()
/// ```
public final class VFIODevice: PCIFunction, @unchecked Sendable {
    /// `0000:03:10.0`.
    public let address: String
    /// The parsed address.
    public let pciAddress: PCIAddress
    /// Vendor ID read from the configuration space.
    public let vendorID: UInt16
    /// Device ID read from the configuration space.
    public let deviceID: UInt16
    /// BAR0, mapped.
    public let bar0: RegisterWindow
    /// The container whose address space the device uses.
    public let container: VFIOContainer
    /// IOMMU group number.
    public let groupNumber: Int
    /// Whether the kernel offers VFIO_DEVICE_RESET (function-level reset) for the device.
    public let resetOffered: Bool

    private let fd: FileDescriptor
    private let configOffset: Int64
    private let configSize: Int
    /// Guards `references`, `closed` and `attachedVectors`.
    private let lock = NSLock()
    /// The regions this device mapped and how many times, so that close can let them go.
    private var references: [ObjectIdentifier: (region: DMAMemory, count: Int)] = [:]
    private var closed = false
    /// MSI-X vectors with eventfds attached through `VFIO_DEVICE_SET_IRQS`; 0 when MSI-X is off.
    var attachedVectors = 0

    /// Region indexes of a vfio-pci device (`VFIO_PCI_BAR0_REGION_INDEX`,
    /// `VFIO_PCI_CONFIG_REGION_INDEX` in uapi <linux/vfio.h>).
    private enum RegionIndex {
        static let bar0: UInt32 = 0
        static let config: UInt32 = 7
    }

    /// Opens the VF at `address` (e.g. `0000:00:11.0` or `00:11.0`) in `container`. A VF in a
    /// no-IOMMU group opens only in a no-IOMMU container, and only such a VF opens there.
    public static func open(address: String, container: VFIOContainer) throws(VFIOError) -> VFIODevice {
        let pci: PCIAddress
        let checked: (record: PCIDeviceRecord, group: Int)
        do {
            pci = try PCIAddress.parse(address)
            checked = try VFIOPreflight.check(pci, sysfs: container.sysfs, noIOMMU: container.mode == .noIOMMU)
        } catch {
            throw .sysfs(error)
        }
        guard checked.record.inNoIOMMUGroup == (container.mode == .noIOMMU) else { throw .containerModeMismatch }
        return try VFIODevice(pci, group: checked.group, container: container)
    }

    private init(_ address: PCIAddress, group groupNumber: Int, container: VFIOContainer) throws(VFIOError) {
        pciAddress = address
        self.address = address.description
        self.container = container
        self.groupNumber = groupNumber
        let group = try container.attachGroup(groupNumber, for: address)
        var deviceFD: FileDescriptor?
        var mappedBAR: (UnsafeMutableRawPointer, Int)?
        do throws(VFIOError) {
            let fd = try group.deviceFD(for: address)
            deviceFD = fd
            var info = vfio_device_info()
            info.argsz = UInt32(MemoryLayout<vfio_device_info>.size)
            guard vfpmd_ioctl_ptr(fd.rawValue, vfpmd_VFIO_DEVICE_GET_INFO(), &info) == 0 else {
                throw VFIOError.systemCallFailed(address, call: "VFIO_DEVICE_GET_INFO", errno: .last)
            }
            guard info.flags & UInt32(VFIO_DEVICE_FLAGS_PCI) != 0, info.num_regions > RegionIndex.config else {
                throw VFIOError.unsupportedKernel("\(address) is not presented as a PCI device by vfio-pci")
            }
            let bar = try Self.regionInfo(fd, index: RegionIndex.bar0, address: address)
            let config = try Self.regionInfo(fd, index: RegionIndex.config, address: address)
            guard bar.flags & UInt32(VFIO_REGION_INFO_FLAG_MMAP) != 0 else {
                throw VFIOError.barNotMappable(address, reason: "the region is not mmap-able")
            }
            guard bar.size > 0 else { throw VFIOError.barNotMappable(address, reason: "BAR0 has size 0") }
            let barLength = Int(bar.size)
            let pointer = mmap(nil, barLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, off_t(bar.offset))
            guard let pointer, pointer != MAP_FAILED else {
                throw VFIOError.barNotMappable(address, reason: "mmap: \(Errno.last)")
            }
            mappedBAR = (pointer, barLength)
            self.fd = fd
            bar0 = RegisterWindow(base: pointer, length: barLength)
            configOffset = Int64(config.offset)
            configSize = Int(config.size)
            resetOffered = info.flags & UInt32(VFIO_DEVICE_FLAGS_RESET) != 0
            // Configuration dword 0: vendor ID in bits 15:0, device ID in 31:16 (PCI Local Bus
            // Specification 3.0 §6.2.1).
            let ids = try Self.readConfig(fd, offset: configOffset, at: 0, address: address)
            vendorID = UInt16(truncatingIfNeeded: ids)
            deviceID = UInt16(truncatingIfNeeded: ids >> 16)
        } catch {
            if let (pointer, length) = mappedBAR { munmap(pointer, length) }
            try? deviceFD?.close()
            container.detachGroup(groupNumber)
            throw error
        }
        do {
            try enableBusMaster()
        } catch {
            close()
            throw error as? VFIOError ?? .systemCallFailed(address, call: "enabling bus mastering", errno: .ioError)
        }
    }

    deinit { close() }

    private static func regionInfo(_ fd: FileDescriptor, index: UInt32, address: PCIAddress) throws(VFIOError) -> vfio_region_info {
        var info = vfio_region_info()
        info.argsz = UInt32(MemoryLayout<vfio_region_info>.size)
        info.index = index
        guard vfpmd_ioctl_ptr(fd.rawValue, vfpmd_VFIO_DEVICE_GET_REGION_INFO(), &info) == 0 else {
            throw .systemCallFailed(address, call: "VFIO_DEVICE_GET_REGION_INFO(\(index))", errno: .last)
        }
        return info
    }

    private static func readConfig(_ fd: FileDescriptor, offset: Int64, at register: Int, address: PCIAddress) throws(VFIOError) -> UInt32 {
        var value: UInt32 = 0
        let count = withUnsafeMutableBytes(of: &value) { pread(fd.rawValue, $0.baseAddress, 4, off_t(offset + Int64(register))) }
        guard count == 4 else { throw .systemCallFailed(address, call: "reading config space at 0x\(String(register, radix: 16))", errno: .last) }
        return UInt32(littleEndian: value)
    }

    // MARK: - PCIFunction

    /// Reads the configuration-space word at `offset` through the config region (pread).
    public func readConfig32(at offset: Int) throws -> UInt32 {
        precondition(offset % 4 == 0 && offset >= 0 && offset + 4 <= configSize, "config offset out of range")
        return try Self.readConfig(fd, offset: configOffset, at: offset, address: pciAddress)
    }

    /// Writes the configuration-space word at `offset` through the config region (pwrite).
    public func writeConfig32(_ value: UInt32, at offset: Int) throws {
        precondition(offset % 4 == 0 && offset >= 0 && offset + 4 <= configSize, "config offset out of range")
        var le = value.littleEndian
        let count = withUnsafeBytes(of: &le) { pwrite(fd.rawValue, $0.baseAddress, 4, off_t(configOffset + Int64(offset))) }
        guard count == 4 else {
            throw VFIOError.systemCallFailed(pciAddress, call: "writing config space at 0x\(String(offset, radix: 16))", errno: .last)
        }
    }

    /// Maps `region` in the container (shared by its VFs: same IOVA) and records the IOVA.
    @discardableResult
    public func mapDMA(_ region: DMAMemory) throws -> UInt64 {
        let iova: UInt64
        do {
            iova = try container.map(region)
        } catch {
            throw error.naming(pciAddress)
        }
        lock.lock()
        defer { lock.unlock() }
        let key = ObjectIdentifier(region)
        references[key] = (region, (references[key]?.count ?? 0) + 1)
        return iova
    }

    /// Drops one of this device's references to the mapping of `region`.
    public func unmapDMA(_ region: DMAMemory) throws {
        lock.lock()
        let key = ObjectIdentifier(region)
        guard let entry = references[key] else {
            lock.unlock()
            throw VFIOError.regionNotMapped
        }
        references[key] = entry.count > 1 ? (region, entry.count - 1) : nil
        lock.unlock()
        try container.unmap(region)
    }

    /// VFIO_DEVICE_RESET where the kernel offers it (then Bus Master Enable is set again, as a
    /// function-level reset clears the command register); nothing otherwise: the driver's own
    /// reset through the registers remains.
    public func reset() throws {
        guard resetOffered else { return }
        guard vfpmd_ioctl_int(fd.rawValue, vfpmd_VFIO_DEVICE_RESET(), 0) == 0 else {
            throw VFIOError.systemCallFailed(pciAddress, call: "VFIO_DEVICE_RESET", errno: .last)
        }
        try enableBusMaster()
    }

    /// No IOMMU: each hugepage of a region has its own physical address. Through an IOMMU a
    /// region is one contiguous range.
    public var dmaSegmentSize: Int? { container.mode == .noIOMMU ? DMAMemory.hugepageSize : nil }

    /// Sleeps: real hardware runs on its own.
    public func delay(microseconds: Int) {
        usleep(useconds_t(max(0, microseconds)))
    }

    /// Runs `body` with the open device's descriptor, holding the device's lock; throws when
    /// the device is closed.
    func withOpenDevice<T>(_ body: (Int32) throws(VFIOError) -> T) throws(VFIOError) -> T {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw .deviceClosed(pciAddress) }
        return try body(fd.rawValue)
    }

    /// Turns MSI-X off (dropping the kernel's eventfd references), lets go of this device's DMA
    /// references, unmaps BAR0, closes the device and its group.
    public func close() {
        lock.lock()
        guard !closed else {
            lock.unlock()
            return
        }
        closed = true
        try? detachInterrupts(fd.rawValue)
        let held = references.values
        references = [:]
        lock.unlock()
        for (region, count) in held {
            for _ in 0..<count { try? container.unmap(region) }
        }
        munmap(bar0.base, bar0.length)
        try? fd.close()
        container.detachGroup(groupNumber)
    }
}

extension VFIOError {
    /// The same error, naming `address` where it names no device yet.
    func naming(_ address: PCIAddress) -> VFIOError {
        switch self {
        case let .memlockLimit(nil, bytes, limit): return .memlockLimit(address, bytes: bytes, limit: limit)
        case let .systemCallFailed(nil, call, errno): return .systemCallFailed(address, call: call, errno: errno)
        default: return self
        }
    }
}
