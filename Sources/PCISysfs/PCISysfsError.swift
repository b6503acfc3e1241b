import SystemPackage

/// Everything that can go wrong between a PCI address and a VF that VFIO may open, as sysfs
/// shows it: the address, the device, its driver, its IOMMU group, its PF's SR-IOV files.
/// Each case is one sentence that names the device and says what to do.
public enum PCISysfsError: Error, Equatable, CustomStringConvertible {
    /// The text is not a PCI address.
    case malformedAddress(String)
    /// No PCI function at this address.
    case noSuchDevice(PCIAddress)
    /// A PCI function vfpmd does not know.
    case notSupported(PCIAddress, id: String)
    /// A PF where a VF was needed (bind, open).
    case physicalFunction(PCIAddress, model: String)
    /// A VF (or unknown function) where an SR-IOV PF was needed (sriov).
    case notPhysicalFunction(PCIAddress, model: String)
    /// The device has no IOMMU group: the IOMMU is off.
    case iommuOff(PCIAddress)
    /// The vfio-pci driver is not loaded.
    case vfioPCINotLoaded(PCIAddress)
    /// The device is not bound to vfio-pci, so it cannot be opened through VFIO.
    case notBoundToVFIO(PCIAddress, driver: String?)
    /// The device is not bound to vfio-pci and has no IOMMU group; the user asked for no-IOMMU mode.
    case notBoundWithoutIOMMU(PCIAddress, driver: String?)
    /// Some member of the IOMMU group is bound to a kernel driver.
    case groupNotViable(PCIAddress, group: Int, members: [GroupMember])
    /// Writing a sysfs attribute was refused.
    case permissionDenied(path: String)
    /// The kernel netdev of the device is up and --force was not given.
    case netdevUp(PCIAddress, netdev: String)
    /// no-IOMMU mode was asked for but the kernel does not allow it.
    case noIOMMUDisabled
    /// no-IOMMU mode was asked for but the kernel was built without it (CONFIG_VFIO_NOIOMMU).
    case noIOMMUNotBuilt
    /// no-IOMMU mode was asked for but the vfio module is not loaded.
    case noIOMMUModuleMissing
    /// The VF is in a no-IOMMU group and the user did not ask for no-IOMMU mode.
    case noIOMMUNotConsented(PCIAddress, group: Int)
    /// sriov: more VFs than the PF offers.
    case tooManyVFs(PCIAddress, asked: Int, total: Int)
    /// sriov: the PF has no SR-IOV capability (or the kernel offers no sriov files).
    case noSRIOV(PCIAddress)
    /// sriov: the PF is not bound to its kernel driver, which is what creates VFs.
    case pfWithoutDriver(PCIAddress, driver: String)
    /// sriov: the VFs cannot be removed or changed while one is in use.
    case vfsBusy(PCIAddress)
    /// bind/unbind: after the writes the device is not bound as asked (`wanted` nil: no driver).
    case bindFailed(PCIAddress, wanted: String?, got: String?)
    /// A sysfs write failed.
    case sysfsWriteFailed(path: String, errno: Errno)

    /// One device of an IOMMU group and its driver.
    public struct GroupMember: Equatable, Sendable, CustomStringConvertible {
        /// The member's address.
        public let address: PCIAddress
        /// Its bound driver, nil when none.
        public let driver: String?
        /// A member.
        public init(address: PCIAddress, driver: String?) {
            self.address = address
            self.driver = driver
        }
        /// `0000:03:10.2 (ixgbevf)`.
        public var description: String { "\(address) (\(driver ?? "no driver"))" }
    }

    /// The sentence shown to the user: what is wrong, with which device, and what to do.
    public var description: String {
        switch self {
        case let .malformedAddress(text):
            return "'\(text)' is not a PCI address: write it as DDDD:BB:DD.F, e.g. 0000:03:10.0 (or 03:10.0 for domain 0000)"
        case let .noSuchDevice(a):
            return "no PCI device \(a): list the supported devices with `vfpmd devices` (all devices: `lspci -D`)"
        case let .notSupported(a, id):
            return "\(a) (\(id)) is not a supported device: vfpmd drives Intel 82599/X540/X550 VFs (ixgbevf) and 82576/I350 VFs (igbvf); see `vfpmd devices`"
        case let .physicalFunction(a, model):
            return "\(a) is an \(model) physical function, not a VF: vfpmd drives its virtual functions; create them with `vfpmd sriov \(a) --vfs N`"
        case let .notPhysicalFunction(a, model):
            return "\(a) (\(model)) is not an SR-IOV physical function of a supported family: give the address of an 82599/X540/X550/82576/I350 port (see `vfpmd devices`)"
        case let .iommuOff(a):
            return "\(a) has no IOMMU group, so the IOMMU is off: boot with intel_iommu=on (Intel) or amd_iommu=on (AMD) on the kernel command line, or use no-IOMMU mode (--no-iommu, unsafe)"
        case let .vfioPCINotLoaded(a):
            return "cannot use \(a) through VFIO: the vfio-pci driver is not loaded; load it with `modprobe vfio-pci` as root"
        case let .notBoundToVFIO(a, driver):
            let now = driver.map { "bound to \($0)" } ?? "bound to no driver"
            return "\(a) is \(now), not to vfio-pci: run `vfpmd bind \(a)` first"
        case let .notBoundWithoutIOMMU(a, driver):
            let now = driver.map { "bound to \($0)" } ?? "bound to no driver"
            return "\(a) is \(now), not to vfio-pci, and has no IOMMU group: run `vfpmd bind --no-iommu \(a)` first (unsafe no-IOMMU mode)"
        case let .groupNotViable(a, group, members):
            let list = members.map(\.description).joined(separator: ", ")
            return "IOMMU group \(group) of \(a) is not viable: every device in it must be bound to vfio-pci or to no driver, and it holds \(list); bind the others with `vfpmd bind` too"
        case let .permissionDenied(path):
            return Self.noPermission(nil, path: path, owner: nil)
        case let .netdevUp(a, netdev):
            return "\(a) is in use by the kernel: its interface \(netdev) is up; take it down with `ip link set \(netdev) down` first, or pass --force"
        case .noIOMMUDisabled:
            return "no-IOMMU mode is off in the kernel: enable it with `echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode` as root (unsafe: the device can then write anywhere in memory)"
        case .noIOMMUNotBuilt:
            return "this kernel has no no-IOMMU mode (built without CONFIG_VFIO_NOIOMMU, as Debian's are): use a kernel built with it, or give the machine an IOMMU (a virtual one in a VM)"
        case .noIOMMUModuleMissing:
            return "no-IOMMU mode needs the vfio module: load it with `modprobe vfio enable_unsafe_noiommu_mode=1` and then `modprobe vfio-pci` as root"
        case let .noIOMMUNotConsented(a, group):
            return "\(a) is in the no-IOMMU group \(group) (/dev/vfio/noiommu-\(group)), where nothing stops the VF from reading and writing all of the machine's memory: add --no-iommu to the command (or noiommu=on to its pci: spec) to drive it anyway"
        case let .tooManyVFs(a, asked, total):
            return "\(a) offers at most \(total) VFs, not \(asked): ask for 0...\(total)"
        case let .noSRIOV(a):
            return "\(a) offers no SR-IOV VFs (sriov_totalvfs is missing or 0): enable SR-IOV and VT-d in the firmware setup and check that its kernel driver is loaded"
        case let .pfWithoutDriver(a, driver):
            return "\(a) is not bound to \(driver), which creates its VFs: bind it with `vfpmd unbind \(a) --driver \(driver)` (or `modprobe \(driver)`)"
        case let .vfsBusy(a):
            return "cannot change the VFs of \(a): one of them is in use (a VFIO process or a VM has it); stop it and try again"
        case let .bindFailed(a, wanted?, got):
            return "\(a) did not bind to \(wanted) (now \(got.map { "bound to \($0)" } ?? "bound to no driver")): see `dmesg` for the kernel's reason or load it with `modprobe \(wanted)`"
        case let .bindFailed(a, nil, got):
            return "\(a) is still bound to \(got ?? "a driver") after the unbind: see `dmesg` for the kernel's reason"
        case let .sysfsWriteFailed(path, errno):
            return "writing \(path) failed: \(errno); see `dmesg` for the kernel's reason"
        }
    }

    /// The sentence for a file (a sysfs attribute, a VFIO group file) that may not be opened:
    /// who may open it, naming the file's owner when known.
    public static func noPermission(_ address: PCIAddress?, path: String, owner: String?) -> String {
        let device = address.map { " for \($0)" } ?? ""
        let who = owner.map { "root or the file's owner (\($0))" } ?? "root"
        return "no permission to open \(path)\(device): run as \(who)"
    }
}
