import Foundation
import SystemPackage

/// Read access to a sysfs tree: `/sys` on a real machine, a directory of fixtures in tests.
/// Every path vfpmd reads or writes under sysfs is spelled here (the kernel's ABI: Linux
/// Documentation/ABI/testing/sysfs-bus-pci, sysfs-kernel-iommu_groups).
public struct Sysfs: Sendable {
    /// The tree's root, `/sys` by default.
    public let root: String

    /// A view of the tree at `root`.
    public init(root: String = "/sys") {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    /// `/sys/bus/pci/devices`.
    public var pciDevices: String { root + "/bus/pci/devices" }
    /// `/sys/bus/pci/drivers`.
    public var pciDrivers: String { root + "/bus/pci/drivers" }
    /// `/sys/bus/pci/drivers_probe`: writing an address asks the kernel to bind a driver.
    public var driversProbe: String { root + "/bus/pci/drivers_probe" }
    /// `/sys/module/vfio/parameters/enable_unsafe_noiommu_mode`.
    public var noIOMMUParameter: String { root + "/module/vfio/parameters/enable_unsafe_noiommu_mode" }
    /// `/sys/module/vfio_iommu_type1/parameters/dma_entry_limit`.
    public var dmaEntryLimitParameter: String { root + "/module/vfio_iommu_type1/parameters/dma_entry_limit" }
    /// `/sys/module/vfio`.
    public var vfioModule: String { root + "/module/vfio" }

    /// Checks that the kernel allows no-IOMMU mode: the vfio module is loaded, was built with
    /// CONFIG_VFIO_NOIOMMU (the parameter exists), and `enable_unsafe_noiommu_mode` is on.
    public func checkNoIOMMUAllowed() throws(PCISysfsError) {
        guard exists(vfioModule) else { throw .noIOMMUModuleMissing }
        guard let value = read(noIOMMUParameter) else { throw .noIOMMUNotBuilt }
        guard value == "Y" || value == "1" else { throw .noIOMMUDisabled }
    }

    /// The directory of the device at `address`.
    public func device(_ address: PCIAddress) -> String { pciDevices + "/" + address.description }
    /// The directory of the PCI driver `name`.
    public func driver(_ name: String) -> String { pciDrivers + "/" + name }
    /// The directory of IOMMU group `number`'s member links.
    public func iommuGroupDevices(_ number: Int) -> String { root + "/kernel/iommu_groups/\(number)/devices" }
    /// The name of IOMMU group `number` (present only for named groups).
    public func iommuGroupName(_ number: Int) -> String { root + "/kernel/iommu_groups/\(number)/name" }
    /// The name vfio gives the group it makes for a device bound to vfio-pci in no-IOMMU mode
    /// (drivers/vfio: `vfio_noiommu_group_alloc`); its group file is `/dev/vfio/noiommu-N`.
    public static let noIOMMUGroupName = "vfio-noiommu"

    /// Whether a file or directory exists at `path` (following links).
    public func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// The trimmed text of the attribute at `path`, nil when it cannot be read.
    public func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else { return nil }
        return text.trimmingWhitespace()
    }

    /// An attribute such as `0x8086`, parsed as hex.
    public func readHex(_ path: String) -> UInt64? {
        guard var text = read(path) else { return nil }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
        return UInt64(text, radix: 16)
    }

    /// A decimal attribute such as `numa_node`.
    public func readInt(_ path: String) -> Int? {
        read(path).flatMap { Int($0) }
    }

    /// The last path component of the symbolic link at `path` (a driver's or group's name).
    public func linkTarget(_ path: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else { return nil }
        return target.split(separator: "/").last.map(String.init)
    }

    /// The entries of the directory at `path`, sorted; empty when it cannot be read.
    public func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// Writes sysfs attributes. The real writer writes files; a test can record what is written
/// and play the kernel's part.
public protocol SysfsWriter: Sendable {
    /// Writes `value` to the attribute at `path` in one write(2), as the kernel expects.
    func write(_ value: String, to path: String) throws(PCISysfsError)
}

/// Writes attributes with open(2) and one write(2), mapping errno to the error that helps.
public struct FileSysfsWriter: SysfsWriter {
    /// A writer.
    public init() {}

    /// Writes `value` to `path` in one write(2).
    public func write(_ value: String, to path: String) throws(PCISysfsError) {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .writeOnly)
            defer { try? fd.close() }
            var bytes = Array(value.utf8)
            let written = try bytes.withUnsafeMutableBytes { try fd.write(UnsafeRawBufferPointer($0)) }
            if written != bytes.count { throw Errno.ioError }
        } catch let errno as Errno {
            switch errno {
            case .permissionDenied, .notPermitted, .readOnlyFileSystem:
                throw .permissionDenied(path: path)
            default:
                throw .sysfsWriteFailed(path: path, errno: errno)
            }
        } catch {
            throw .sysfsWriteFailed(path: path, errno: .ioError)
        }
    }
}
