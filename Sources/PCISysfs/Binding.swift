/// Moves devices between kernel drivers and vfio-pci, and sets a PF's VF count, through sysfs
/// (what `dpdk-devbind.py` does for DPDK users).
///
/// Binding to vfio-pci: `driver_override` ← `vfio-pci`, `driver/unbind` ← address,
/// `drivers_probe` ← address, then the driver link is checked. Giving a device back:
/// `driver_override` ← the wanted driver (or cleared for the kernel's choice),
/// `driver/unbind`, `drivers_probe`, `driver_override` cleared.
public struct DeviceBinder: Sendable {
    /// The vfio-pci driver's name in sysfs.
    public static let vfioPCI = "vfio-pci"

    /// Where devices are read.
    public let discovery: DeviceDiscovery
    /// Where attributes are written.
    public let writer: any SysfsWriter

    /// A binder over `sysfs` writing through `writer`.
    public init(sysfs: Sysfs = Sysfs(), writer: any SysfsWriter = FileSysfsWriter()) {
        discovery = DeviceDiscovery(sysfs: sysfs)
        self.writer = writer
    }

    private var sysfs: Sysfs { discovery.sysfs }

    /// What a bind or unbind did.
    public enum Outcome: Equatable, Sendable {
        /// The device was already where it was asked to be.
        case unchanged(driver: String?)
        /// The device moved from `from` to `to`.
        case moved(from: String?, to: String?)
    }

    // MARK: - vfio-pci

    /// Binds the VF at `address` to vfio-pci. Refuses PFs, unsupported devices, devices without
    /// an IOMMU group (unless `noIOMMU` was asked for and the kernel allows it), and devices
    /// whose netdev is up unless `force`.
    @discardableResult
    public func bindToVFIO(_ address: PCIAddress, force: Bool = false, noIOMMU: Bool = false) throws(PCISysfsError) -> Outcome {
        let record = try discovery.record(for: address)
        guard record.role == .vf else { throw .physicalFunction(address, model: record.supported.model) }
        if record.driver == Self.vfioPCI { return .unchanged(driver: record.driver) }
        guard sysfs.exists(sysfs.driver(Self.vfioPCI)) else { throw .vfioPCINotLoaded(address) }
        if record.iommuGroup == nil {
            guard noIOMMU else { throw .iommuOff(address) }
            try sysfs.checkNoIOMMUAllowed()
        }
        if let netdev = record.netdev, record.netdevIsUp, !force {
            throw .netdevUp(address, netdev: netdev)
        }
        try move(address, from: record.driver, override: Self.vfioPCI)
        return try confirm(address, wanted: Self.vfioPCI, from: record.driver)
    }

    /// Gives the device at `address` back to `driver`, or to its family's kernel driver
    /// (ixgbevf, igbvf; ixgbe, igb for a PF) when nil. The driver `none` leaves it unbound.
    @discardableResult
    public func unbind(_ address: PCIAddress, to driver: String? = nil) throws(PCISysfsError) -> Outcome {
        let record = try discovery.record(for: address)
        let wanted = driver ?? (record.role == .vf ? record.family.kernelVFDriver : record.family.kernelPFDriver)
        if wanted == "none" {
            guard record.driver != nil else { return .unchanged(driver: nil) }
            try writer.write("\n", to: sysfs.device(address) + "/driver_override")
            try writer.write(address.description, to: sysfs.device(address) + "/driver/unbind")
            return try confirm(address, wanted: nil, from: record.driver)
        }
        if record.driver == wanted { return .unchanged(driver: wanted) }
        try move(address, from: record.driver, override: wanted)
        try writer.write("\n", to: sysfs.device(address) + "/driver_override")
        return try confirm(address, wanted: wanted, from: record.driver)
    }

    /// driver_override, unbind from the current driver, drivers_probe.
    private func move(_ address: PCIAddress, from current: String?, override: String) throws(PCISysfsError) {
        let dir = sysfs.device(address)
        try writer.write(override, to: dir + "/driver_override")
        if current != nil {
            try writer.write(address.description, to: dir + "/driver/unbind")
        }
        try writer.write(address.description, to: sysfs.driversProbe)
    }

    /// Reads the driver link back: the kernel may have refused (missing module, probe error).
    private func confirm(_ address: PCIAddress, wanted: String?, from old: String?) throws(PCISysfsError) -> Outcome {
        let now = discovery.driver(of: address)
        guard now == wanted else { throw .bindFailed(address, wanted: wanted, got: now) }
        return .moved(from: old, to: now)
    }

    /// The other members of the device's IOMMU group that keep the group from being viable
    /// (bound to a kernel driver): they must be bound to vfio-pci too before the VF can be opened.
    public func groupMembersBlocking(_ address: PCIAddress) -> [PCISysfsError.GroupMember] {
        guard let group = discovery.iommuGroup(of: address) else { return [] }
        return discovery.groupMembers(group).filter { member in
            member.address != address && member.driver.map { !VFIOPreflight.viableDrivers.contains($0) } ?? false
        }
    }

    // MARK: - SR-IOV

    /// Sets the number of VFs of the PF at `pf` to `count` (0 removes them) and returns the count
    /// before. The kernel refuses to change a nonzero count to another nonzero count, so 0 is
    /// written first then.
    @discardableResult
    public func setVFCount(_ pf: PCIAddress, to count: Int) throws(PCISysfsError) -> Int {
        let record = try discovery.record(for: pf)
        guard record.role == .pf else { throw .notPhysicalFunction(pf, model: record.supported.model) }
        guard let total = record.sriovTotalVFs, total > 0, let current = record.sriovNumVFs else { throw .noSRIOV(pf) }
        guard (0...total).contains(count) else { throw .tooManyVFs(pf, asked: count, total: total) }
        if current == count { return current }
        let pfDriver = record.family.kernelPFDriver
        guard record.driver == pfDriver else { throw .pfWithoutDriver(pf, driver: pfDriver) }
        let path = sysfs.device(pf) + "/sriov_numvfs"
        do {
            if current != 0 {
                try writer.write("0", to: path)
            }
            if count != 0 {
                try writer.write(String(count), to: path)
            }
        } catch let error {
            if case let .sysfsWriteFailed(_, errno) = error, errno == .resourceBusy { throw .vfsBusy(pf) }
            throw error
        }
        let now = sysfs.readInt(path)
        guard now == count else {
            throw .sysfsWriteFailed(path: path, errno: .ioError)
        }
        return current
    }
}
