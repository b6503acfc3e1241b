import CShims
import PCISysfs
import SystemPackage

/// A VFIO group (`/dev/vfio/N`, or `/dev/vfio/noiommu-N`): the unit of DMA isolation. Every
/// device in it must be bound to vfio-pci (or to no driver) before it can be used; devices
/// are got from it by name. Owned by its container, which opens and closes it.
final class VFIOGroup: @unchecked Sendable {
    /// The group number.
    let number: Int
    /// The group file's path.
    let path: String
    /// The group's file descriptor.
    let fd: FileDescriptor
    private var closed = false

    /// Opens the group file and checks that the kernel calls the group viable.
    init(number: Int, mode: VFIOContainer.Mode, devRoot: String, address: PCIAddress, sysfs: Sysfs) throws(VFIOError) {
        self.number = number
        path = devRoot + "/vfio/" + (mode == .noIOMMU ? "noiommu-\(number)" : "\(number)")
        do {
            fd = try openVFIOFile(path, address: address, missing: Self.missingFileError(address, sysfs: sysfs))
        } catch .permissionDenied where mode == .noIOMMU {
            // The kernel opens a no-IOMMU group only for CAP_SYS_RAWIO, whoever owns the file.
            throw .noIOMMUNeedsRoot(address, path: path)
        }
        var status = vfio_group_status()
        status.argsz = UInt32(MemoryLayout<vfio_group_status>.size)
        guard vfpmd_ioctl_ptr(fd.rawValue, vfpmd_VFIO_GROUP_GET_STATUS(), &status) == 0 else {
            let errno = Errno.last
            try? fd.close()
            throw .systemCallFailed(address, call: "VFIO_GROUP_GET_STATUS on \(path)", errno: errno)
        }
        guard status.flags & UInt32(VFIO_GROUP_FLAGS_VIABLE) != 0 else {
            try? fd.close()
            throw .sysfs(.groupNotViable(address, group: number, members: DeviceDiscovery(sysfs: sysfs).groupMembers(number)))
        }
    }

    /// A missing group file means the device left vfio-pci (or vfio-pci is gone).
    private static func missingFileError(_ address: PCIAddress, sysfs: Sysfs) -> VFIOError {
        guard sysfs.exists(sysfs.driver(DeviceBinder.vfioPCI)) else { return .sysfs(.vfioPCINotLoaded(address)) }
        return .sysfs(.notBoundToVFIO(address, driver: DeviceDiscovery(sysfs: sysfs).driver(of: address)))
    }

    /// VFIO_GROUP_GET_DEVICE_FD for the device named `address`.
    func deviceFD(for address: PCIAddress) throws(VFIOError) -> FileDescriptor {
        let name = address.description
        let raw = name.withCString { vfpmd_ioctl_ptr(fd.rawValue, vfpmd_VFIO_GROUP_GET_DEVICE_FD(), UnsafeMutableRawPointer(mutating: $0)) }
        guard raw >= 0 else {
            let errno = Errno.last
            if errno == .resourceBusy { throw .deviceBusy(address, path: path) }
            throw .systemCallFailed(address, call: "VFIO_GROUP_GET_DEVICE_FD", errno: errno)
        }
        return FileDescriptor(rawValue: raw)
    }

    /// Closes the group file; the kernel detaches it from its container.
    func close() {
        guard !closed else { return }
        closed = true
        try? fd.close()
    }
}
