/// The checks made in sysfs before any VFIO file is opened, so that each usual mistake gets
/// its own sentence instead of an errno from an ioctl.
public enum VFIOPreflight {
    /// Drivers the kernel accepts in a viable group besides vfio-pci (vfio's driver allow-list
    /// for bridges and stubs).
    public static let viableDrivers: Set<String> = [DeviceBinder.vfioPCI, "pci-stub", "pcieport"]

    /// Checks that the VF at `address` can be opened through VFIO and returns its record and
    /// IOMMU group number. `noIOMMU` is the user's consent to no-IOMMU mode: a VF in a
    /// no-IOMMU group is refused without it (and a VF with no group at all is then told to bind).
    public static func check(_ address: PCIAddress, sysfs: Sysfs, noIOMMU: Bool) throws(PCISysfsError) -> (record: PCIDeviceRecord, group: Int) {
        let discovery = DeviceDiscovery(sysfs: sysfs)
        let record = try discovery.record(for: address)
        guard record.role == .vf else { throw .physicalFunction(address, model: record.supported.model) }
        if record.driver != DeviceBinder.vfioPCI {
            // Without a group the IOMMU is off: that is the first thing to fix (unless the
            // user chose no-IOMMU mode, where binding creates the group).
            if record.iommuGroup == nil && !noIOMMU { throw .iommuOff(address) }
            guard sysfs.exists(sysfs.driver(DeviceBinder.vfioPCI)) else { throw .vfioPCINotLoaded(address) }
            if record.iommuGroup == nil { throw .notBoundWithoutIOMMU(address, driver: record.driver) }
            throw .notBoundToVFIO(address, driver: record.driver)
        }
        guard let group = record.iommuGroup else { throw .iommuOff(address) }
        if record.inNoIOMMUGroup && !noIOMMU { throw .noIOMMUNotConsented(address, group: group) }
        let blocking = record.iommuGroupMembers.filter { member in
            member.driver.map { !viableDrivers.contains($0) } ?? false
        }
        if !blocking.isEmpty {
            throw .groupNotViable(address, group: group, members: record.iommuGroupMembers)
        }
        return (record, group)
    }
}
