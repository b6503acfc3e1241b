import SystemPackage

/// Everything that can go wrong between a PCI address and a working VF, each case one sentence
/// that names the device and says what to do.
public enum VFIOError: Error, Equatable, CustomStringConvertible {
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
    /// `/dev/vfio/vfio` is missing: VFIO itself is not loaded.
    case vfioNotAvailable(path: String)
    /// The device is not bound to vfio-pci, so it cannot be opened through VFIO.
    case notBoundToVFIO(PCIAddress, driver: String?)
    /// Some member of the IOMMU group is bound to a kernel driver.
    case groupNotViable(PCIAddress, group: Int, members: [GroupMember])
    /// Opening a file (a group file, the container, a sysfs attribute) was refused.
    case permissionDenied(PCIAddress?, path: String, owner: String?)
    /// The group file is open in another process.
    case deviceBusy(PCIAddress, path: String)
    /// VFIO_IOMMU_MAP_DMA ran into RLIMIT_MEMLOCK.
    case memlockLimit(PCIAddress?, bytes: Int, limit: String)
    /// The kernel netdev of the device is up and --force was not given.
    case netdevUp(PCIAddress, netdev: String)
    /// no-IOMMU mode was asked for but the kernel does not allow it.
    case noIOMMUDisabled
    /// no-IOMMU mode was asked for but the kernel was built without it (CONFIG_VFIO_NOIOMMU).
    case noIOMMUNotBuilt
    /// no-IOMMU mode was asked for but the vfio module is not loaded.
    case noIOMMUModuleMissing
    /// Physical addresses cannot be read from /proc/self/pagemap.
    case physicalAddressUnavailable(reason: String)
    /// A no-IOMMU DMA region whose pages are not physically contiguous.
    case notPhysicallyContiguous(bytes: Int)
    /// The container and the process's VFIO mode disagree (one container per process).
    case containerModeMismatch
    /// The kernel speaks another VFIO API version, or offers no IOMMU type vfpmd uses.
    case unsupportedKernel(String)
    /// No room left in the IOMMU's usable IOVA ranges.
    case iovaSpaceExhausted(bytes: Int)
    /// The IOMMU's limit on the number of DMA mappings was reached.
    case dmaMappingLimit(limit: Int)
    /// A DMA region is unmapped that this device never mapped.
    case regionNotMapped
    /// BAR0 cannot be mapped into the process.
    case barNotMappable(PCIAddress, reason: String)
    /// An ioctl or system call failed in a way none of the cases above explains.
    case systemCallFailed(PCIAddress?, call: String, errno: Errno)
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
        case let .vfioNotAvailable(path):
            return "\(path) does not exist, so VFIO is not loaded: load it with `modprobe vfio-pci` as root"
        case let .notBoundToVFIO(a, driver):
            let now = driver.map { "bound to \($0)" } ?? "bound to no driver"
            return "\(a) is \(now), not to vfio-pci: run `vfpmd bind \(a)` first"
        case let .groupNotViable(a, group, members):
            let list = members.map(\.description).joined(separator: ", ")
            return "IOMMU group \(group) of \(a) is not viable: every device in it must be bound to vfio-pci or to no driver, and it holds \(list); bind the others with `vfpmd bind` too"
        case let .permissionDenied(a, path, owner):
            let device = a.map { " for \($0)" } ?? ""
            let who = owner.map { "root or the file's owner (\($0))" } ?? "root"
            return "no permission to open \(path)\(device): run as \(who)"
        case let .deviceBusy(a, path):
            return "\(a) is busy: its VFIO group \(path) is open in another process (one process at a time); stop that process (`fuser -v \(path)` names it)"
        case let .memlockLimit(a, bytes, limit):
            let device = a.map { " for \($0)" } ?? ""
            return "cannot map \(bytes / 1024) KiB of DMA memory\(device): the locked-memory limit (\(limit)) is too small; raise it with `ulimit -l unlimited` (LimitMEMLOCK=infinity for a service) or run as root"
        case let .netdevUp(a, netdev):
            return "\(a) is in use by the kernel: its interface \(netdev) is up; take it down with `ip link set \(netdev) down` first, or pass --force"
        case .noIOMMUDisabled:
            return "no-IOMMU mode is off in the kernel: enable it with `echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode` as root (unsafe: the device can then write anywhere in memory)"
        case .noIOMMUNotBuilt:
            return "this kernel has no no-IOMMU mode (built without CONFIG_VFIO_NOIOMMU, as Debian's are): use a kernel built with it, or give the machine an IOMMU (a virtual one in a VM)"
        case .noIOMMUModuleMissing:
            return "no-IOMMU mode needs the vfio module: load it with `modprobe vfio enable_unsafe_noiommu_mode=1` and then `modprobe vfio-pci` as root"
        case let .physicalAddressUnavailable(reason):
            return "cannot read physical addresses from /proc/self/pagemap (\(reason)), which no-IOMMU mode needs: run as root (CAP_SYS_ADMIN)"
        case let .notPhysicallyContiguous(bytes):
            return "a DMA region of \(bytes / 1024) KiB is not physically contiguous, which no-IOMMU mode needs: use 2 MiB hugepages (`echo 512 > /proc/sys/vm/nr_hugepages`) and regions of at most 2 MiB"
        case .containerModeMismatch:
            return "this process already opened VFIO in the other mode: IOMMU and no-IOMMU devices cannot be mixed in one process"
        case let .unsupportedKernel(what):
            return "the kernel's VFIO is not usable: \(what)"
        case let .iovaSpaceExhausted(bytes):
            return "no room for \(bytes / 1024) KiB more in the IOMMU's usable I/O address ranges: map fewer or smaller regions"
        case let .dmaMappingLimit(limit):
            return "the IOMMU allows only \(limit) DMA mappings per container and all are in use: use fewer, larger memory pools (or raise vfio_iommu_type1's dma_entry_limit)"
        case .regionNotMapped:
            return "the DMA region was not mapped by this device, so it cannot be unmapped"
        case let .barNotMappable(a, reason):
            return "cannot map BAR0 of \(a) into the process (\(reason)): the kernel's vfio-pci must offer it as mmap-able; check `dmesg`"
        case let .systemCallFailed(a, call, errno):
            let device = a.map { " for \($0)" } ?? ""
            return "\(call)\(device) failed: \(errno); see `dmesg` for the kernel's reason"
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
}
