import PCISysfs
import SystemPackage

/// Everything that can go wrong opening a VF through VFIO and mapping its memory, each case
/// one sentence that names the device and says what to do. What sysfs shows about the device
/// (not bound to vfio-pci, IOMMU off, group not viable, ...) is a `PCISysfsError` inside `.sysfs`.
public enum VFIOError: Error, Equatable, CustomStringConvertible {
    /// A check of the device, its driver or its IOMMU group, as sysfs shows them.
    case sysfs(PCISysfsError)
    /// `/dev/vfio/vfio` is missing: VFIO itself is not loaded.
    case vfioNotAvailable(path: String)
    /// Opening a VFIO file (a group file, the container) was refused.
    case permissionDenied(PCIAddress?, path: String, owner: String?)
    /// The group file is open in another process.
    case deviceBusy(PCIAddress, path: String)
    /// VFIO_IOMMU_MAP_DMA ran into RLIMIT_MEMLOCK.
    case memlockLimit(PCIAddress?, bytes: Int, limit: String)
    /// Physical addresses cannot be read from /proc/self/pagemap.
    case physicalAddressUnavailable(reason: String)
    /// A no-IOMMU group file was refused: the kernel opens one only for CAP_SYS_RAWIO.
    case noIOMMUNeedsRoot(PCIAddress, path: String)
    /// /proc/self/pagemap shows page frame numbers as 0: the process lacks CAP_SYS_ADMIN.
    case physicalAddressesHidden
    /// No-IOMMU mode was given DMA memory of 4 KiB pages, or could not get hugepages.
    case noIOMMUNeedsHugepages
    /// A no-IOMMU DMA segment (a hugepage) whose small pages are not physically contiguous.
    case notPhysicallyContiguous(bytes: Int)
    /// A no-IOMMU DMA segment lies at a physical address beyond what vfpmd gives a device.
    case physicalAddressBeyondReach(address: UInt64, limit: UInt64)
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
    /// More MSI-X eventfds were given than the device has vectors.
    case interruptVectors(PCIAddress, wanted: Int, available: Int)
    /// A descriptor given as an eventfd for an MSI-X vector is not open.
    case eventFDNotOpen(PCIAddress, fd: Int32)
    /// The device was used after it was closed.
    case deviceClosed(PCIAddress)
    /// An ioctl or system call failed in a way none of the cases above explains.
    case systemCallFailed(PCIAddress?, call: String, errno: Errno)

    /// The sentence shown to the user: what is wrong, with which device, and what to do.
    public var description: String {
        switch self {
        case let .sysfs(error):
            return error.description
        case let .vfioNotAvailable(path):
            return "\(path) does not exist, so VFIO is not loaded: load it with `modprobe vfio-pci` as root"
        case let .permissionDenied(a, path, owner):
            return PCISysfsError.noPermission(a, path: path, owner: owner)
        case let .deviceBusy(a, path):
            return "\(a) is busy: its VFIO group \(path) is open in another process (one process at a time); stop that process (`fuser -v \(path)` names it)"
        case let .memlockLimit(a, bytes, limit):
            let device = a.map { " for \($0)" } ?? ""
            return "cannot map \(bytes / 1024) KiB of DMA memory\(device): the locked-memory limit (\(limit)) is too small; raise it with `ulimit -l unlimited` (LimitMEMLOCK=infinity for a service) or run as root"
        case let .physicalAddressUnavailable(reason):
            return "cannot read physical addresses from /proc/self/pagemap (\(reason)), which no-IOMMU mode needs: run as root (CAP_SYS_ADMIN)"
        case let .noIOMMUNeedsRoot(a, path):
            return "no permission to open \(path) for \(a): the kernel opens a no-IOMMU group only for root (CAP_SYS_RAWIO, and no-IOMMU mode reads physical addresses with CAP_SYS_ADMIN): run vfpmd as root"
        case .physicalAddressesHidden:
            return "no-IOMMU mode gives the device physical addresses, and /proc/self/pagemap shows them only to root: run vfpmd as root (it needs CAP_SYS_ADMIN)"
        case .noIOMMUNeedsHugepages:
            return "no-IOMMU mode needs free 2 MiB hugepages for its DMA memory (4 KiB pages are neither physically contiguous nor pinned against migration): reserve them with `echo 512 > /proc/sys/vm/nr_hugepages` as root"
        case let .notPhysicallyContiguous(bytes):
            return "a DMA segment of \(bytes / 1024) KiB is not physically contiguous, which no-IOMMU mode needs: back DMA memory with 2 MiB hugepages (`echo 512 > /proc/sys/vm/nr_hugepages` as root)"
        case let .physicalAddressBeyondReach(address, limit):
            return "a hugepage of DMA memory lies at physical address 0x\(String(address, radix: 16)), beyond the \(limit.trailingZeroBitCount)-bit addresses vfpmd gives a device in no-IOMMU mode: reserve the hugepages at boot (`hugepages=512` on the kernel command line), when they come from low memory"
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
        case let .interruptVectors(a, wanted, available):
            let offered = available == 0 ? "no MSI-X vectors through vfio-pci" : "only \(available) MSI-X vectors"
            return "\(a) has \(offered) but \(wanted) are needed (one per receive queue and one for the mailbox): use fewer queues or poll mode"
        case let .eventFDNotOpen(a, fd):
            return "descriptor \(fd) given as an MSI-X eventfd for \(a) is not open: create the eventfds before attaching them"
        case let .deviceClosed(a):
            return "\(a) was already closed: open it again before using it"
        case let .systemCallFailed(a, call, errno):
            let device = a.map { " for \($0)" } ?? ""
            return "\(call)\(device) failed: \(errno); see `dmesg` for the kernel's reason"
        }
    }
}
