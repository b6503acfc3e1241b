import PMDCore

/// What sysfs says about one supported PCI function: identity, family, SR-IOV relations,
/// IOMMU group, driver, kernel netdev, NUMA node.
public struct PCIDeviceRecord: Sendable, Equatable, Encodable {
    /// Its address.
    public let address: PCIAddress
    /// Vendor ID.
    public let vendorID: UInt16
    /// Device ID.
    public let deviceID: UInt16
    /// Family, role and model from the table of supported devices.
    public let supported: IntelDevice
    /// The PF of a VF.
    public let physicalFunction: PCIAddress?
    /// A VF's index under its PF (the N of the PF's `virtfnN` link).
    public let vfIndex: Int?
    /// IOMMU group number; nil when the IOMMU is off.
    public let iommuGroup: Int?
    /// Whether the group is one vfio made in no-IOMMU mode: no IOMMU checks the device's DMA.
    public let inNoIOMMUGroup: Bool
    /// Every device of the IOMMU group (this one included), with its driver.
    public let iommuGroupMembers: [PCISysfsError.GroupMember]
    /// The bound driver, nil when none.
    public let driver: String?
    /// The kernel netdev's name, when a kernel network driver owns the function.
    public let netdev: String?
    /// The netdev's operstate (`up`, `down`, ...).
    public let operstate: String?
    /// Whether the netdev is administratively up (IFF_UP in its flags).
    public let netdevIsUp: Bool
    /// NUMA node; nil when the machine has one node (sysfs says -1).
    public let numaNode: Int?
    /// A PF's `sriov_totalvfs`.
    public let sriovTotalVFs: Int?
    /// A PF's `sriov_numvfs`.
    public let sriovNumVFs: Int?

    /// `vvvv:dddd`.
    public var pciID: String { String(format4: vendorID) + ":" + String(format4: deviceID) }
    /// Driver family.
    public var family: DeviceFamily { supported.family }
    /// PF or VF.
    public var role: FunctionRole { supported.role }

    private enum Keys: String, CodingKey {
        case address, id, family, role, model, pf, vfIndex = "vf_index", iommuGroup = "iommu_group"
        case inNoIOMMUGroup = "noiommu_group"
        case iommuGroupMembers = "iommu_group_members", driver, netdev, operstate
        case netdevUp = "netdev_up", numaNode = "numa_node", sriovTotalVFs = "sriov_totalvfs"
        case sriovNumVFs = "sriov_numvfs"
    }

    private enum MemberKeys: String, CodingKey { case address, driver }

    /// JSON with snake_case keys; absent values are `null`, so every object has every key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(address.description, forKey: .address)
        try c.encode(pciID, forKey: .id)
        try c.encode(family.rawValue, forKey: .family)
        try c.encode(role.rawValue, forKey: .role)
        try c.encode(supported.model, forKey: .model)
        try c.encode(physicalFunction?.description, forKey: .pf)
        try c.encode(vfIndex, forKey: .vfIndex)
        try c.encode(iommuGroup, forKey: .iommuGroup)
        try c.encode(inNoIOMMUGroup, forKey: .inNoIOMMUGroup)
        var members = c.nestedUnkeyedContainer(forKey: .iommuGroupMembers)
        for member in iommuGroupMembers {
            var m = members.nestedContainer(keyedBy: MemberKeys.self)
            try m.encode(member.address.description, forKey: .address)
            try m.encode(member.driver, forKey: .driver)
        }
        try c.encode(driver, forKey: .driver)
        try c.encode(netdev, forKey: .netdev)
        try c.encode(operstate, forKey: .operstate)
        try c.encode(netdevIsUp, forKey: .netdevUp)
        try c.encode(numaNode, forKey: .numaNode)
        try c.encode(sriovTotalVFs, forKey: .sriovTotalVFs)
        try c.encode(sriovNumVFs, forKey: .sriovNumVFs)
    }
}

/// Finds supported devices in sysfs and describes them.
public struct DeviceDiscovery: Sendable {
    /// The sysfs tree read.
    public let sysfs: Sysfs

    /// Discovery over `sysfs`.
    public init(sysfs: Sysfs = Sysfs()) {
        self.sysfs = sysfs
    }

    /// Every supported PF and VF, in address order.
    public func supportedDevices() -> [PCIDeviceRecord] {
        sysfs.list(sysfs.pciDevices)
            .compactMap(PCIAddress.init)
            .sorted()
            .compactMap { try? record(for: $0) }
    }

    /// The record of the supported device at `address`, or the error saying why there is none.
    public func record(for address: PCIAddress) throws(PCISysfsError) -> PCIDeviceRecord {
        let dir = sysfs.device(address)
        guard sysfs.exists(dir) else { throw .noSuchDevice(address) }
        let vendor = UInt16(truncatingIfNeeded: sysfs.readHex(dir + "/vendor") ?? 0)
        let device = UInt16(truncatingIfNeeded: sysfs.readHex(dir + "/device") ?? 0)
        guard let supported = IntelDevice.lookup(vendorID: vendor, deviceID: device) else {
            throw .notSupported(address, id: String(format4: vendor) + ":" + String(format4: device))
        }
        let pf = sysfs.linkTarget(dir + "/physfn").flatMap(PCIAddress.init)
        let group = iommuGroup(of: address)
        let (netdev, operstate, isUp) = netdevState(dir)
        let numa = sysfs.readInt(dir + "/numa_node").flatMap { $0 >= 0 ? $0 : nil }
        return PCIDeviceRecord(
            address: address, vendorID: vendor, deviceID: device, supported: supported,
            physicalFunction: pf, vfIndex: pf.flatMap { vfIndex(of: address, under: $0) },
            iommuGroup: group, inNoIOMMUGroup: group.map(isNoIOMMUGroup) ?? false,
            iommuGroupMembers: group.map(groupMembers) ?? [],
            driver: driver(of: address), netdev: netdev, operstate: operstate, netdevIsUp: isUp,
            numaNode: numa,
            sriovTotalVFs: sysfs.readInt(dir + "/sriov_totalvfs"),
            sriovNumVFs: sysfs.readInt(dir + "/sriov_numvfs"))
    }

    /// The driver bound to `address`, nil when none.
    public func driver(of address: PCIAddress) -> String? {
        sysfs.linkTarget(sysfs.device(address) + "/driver")
    }

    /// The IOMMU group number of `address`, nil when it has none.
    public func iommuGroup(of address: PCIAddress) -> Int? {
        sysfs.linkTarget(sysfs.device(address) + "/iommu_group").flatMap { Int($0) }
    }

    /// Whether IOMMU group `number` is a no-IOMMU group (named so by vfio).
    public func isNoIOMMUGroup(_ number: Int) -> Bool {
        sysfs.read(sysfs.iommuGroupName(number)) == Sysfs.noIOMMUGroupName
    }

    /// Every device of IOMMU group `number` with its driver, in address order.
    public func groupMembers(_ number: Int) -> [PCISysfsError.GroupMember] {
        sysfs.list(sysfs.iommuGroupDevices(number))
            .compactMap(PCIAddress.init)
            .sorted()
            .map { PCISysfsError.GroupMember(address: $0, driver: driver(of: $0)) }
    }

    /// The VFs of the PF at `pf`, by index.
    public func virtualFunctions(of pf: PCIAddress) -> [(index: Int, address: PCIAddress)] {
        let dir = sysfs.device(pf)
        return sysfs.list(dir)
            .compactMap { name -> (Int, PCIAddress)? in
                guard name.hasPrefix("virtfn"), let index = Int(name.dropFirst(6)),
                      let vf = sysfs.linkTarget(dir + "/" + name).flatMap(PCIAddress.init) else { return nil }
                return (index, vf)
            }
            .sorted { $0.0 < $1.0 }
    }

    private func vfIndex(of vf: PCIAddress, under pf: PCIAddress) -> Int? {
        virtualFunctions(of: pf).first { $0.address == vf }?.index
    }

    /// The first netdev under the device's `net/`, its operstate, and whether IFF_UP is set.
    private func netdevState(_ dir: String) -> (String?, String?, Bool) {
        guard let name = sysfs.list(dir + "/net").first else { return (nil, nil, false) }
        let netDir = dir + "/net/" + name
        let operstate = sysfs.read(netDir + "/operstate")
        let flags = sysfs.readHex(netDir + "/flags")
        // IFF_UP is bit 0 of the interface flags (uapi <linux/if.h>); without flags, trust operstate.
        let isUp = flags.map { $0 & 1 != 0 } ?? (operstate == "up")
        return (name, operstate, isUp)
    }
}
