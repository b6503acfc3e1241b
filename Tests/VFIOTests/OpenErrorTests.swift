import Foundation
import Testing
import PCISysfs
import SysfsTestSupport
@testable import VFIO

/// The errors of opening a VF through VFIO: the container, the errno of the group file and of
/// MAP_DMA. Each sentence is asserted as the user sees it.
struct OpenErrorTests {
    @Test func aMissingContainerFileMeansVFIOIsNotLoaded() {
        let fake = FakeSysfs.standard()
        let path = fake.devRoot + "/vfio/vfio"
        #expect(throws: VFIOError.vfioNotAvailable(path: path)) {
            _ = try VFIOContainer(mode: .iommu, sysfs: fake.sysfs, devRoot: fake.devRoot)
        }
        #expect(VFIOError.vfioNotAvailable(path: "/dev/vfio/vfio").description
            == "/dev/vfio/vfio does not exist, so VFIO is not loaded: load it with `modprobe vfio-pci` as root")
    }

    @Test func thisMachineHasNoVFIOAndSaysSo() {
        #expect(throws: VFIOError.vfioNotAvailable(path: "/dev/vfio/vfio")) { _ = try VFIOContainer.shared() }
    }

    @Test func noIOMMUModeIsOnlyOpenedWhenTheKernelAllowsIt() {
        let fake = FakeSysfs.standard()
        #expect(throws: VFIOError.sysfs(.noIOMMUDisabled)) {
            _ = try VFIOContainer(mode: .noIOMMU, sysfs: fake.sysfs, devRoot: fake.devRoot)
        }
        try? FileManager.default.removeItem(atPath: fake.path("module/vfio"))
        #expect(throws: VFIOError.sysfs(.noIOMMUModuleMissing)) {
            _ = try VFIOContainer(mode: .noIOMMU, sysfs: fake.sysfs, devRoot: fake.devRoot)
        }
        #expect(VFIOError.sysfs(.noIOMMUModuleMissing).description
            == "no-IOMMU mode needs the vfio module: load it with `modprobe vfio enable_unsafe_noiommu_mode=1` and then `modprobe vfio-pci` as root")
    }

    @Test func aGroupFileWeMayNotOpenNamesItsOwner() throws {
        let fake = FakeSysfs.standard()
        let path = fake.devRoot + "/vfio/9"
        fake.mkdir(fake.devRoot + "/vfio")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        #expect(chown(path, 1000, 1000) == 0)
        let vf = PCIAddress("03:10.0")!
        let error = VFIOError.forOpen(errno: .permissionDenied, path: path, address: vf, missing: .sysfs(.vfioPCINotLoaded(vf)))
        let owner = getpwuid(1000).map { "uid 1000, " + String(cString: $0.pointee.pw_name) } ?? "uid 1000"
        #expect(error == .permissionDenied(vf, path: path, owner: owner))
        #expect(error.description == "no permission to open \(path) for 0000:03:10.0: run as root or the file's owner (\(owner))")
    }

    /// The kernel opens a no-IOMMU group only for CAP_SYS_RAWIO, whoever owns the file (these
    /// tests run as root, so the refusal itself is met on a real kernel in the VM check).
    @Test func aNoIOMMUGroupRefusedSaysThatRootIsNeeded() {
        let error = VFIOError.noIOMMUNeedsRoot(PCIAddress("00:04.0")!, path: "/dev/vfio/noiommu-0")
        #expect(error.description == "no permission to open /dev/vfio/noiommu-0 for 0000:00:04.0: the kernel opens a no-IOMMU group only for root (CAP_SYS_RAWIO, and no-IOMMU mode reads physical addresses with CAP_SYS_ADMIN): run vfpmd as root")
    }

    @Test func aGroupOpenInAnotherProcessIsBusy() {
        let vf = PCIAddress("03:10.0")!
        let error = VFIOError.forOpen(errno: .resourceBusy, path: "/dev/vfio/9", address: vf, missing: .sysfs(.vfioPCINotLoaded(vf)))
        #expect(error == .deviceBusy(vf, path: "/dev/vfio/9"))
        #expect(error.description
            == "0000:03:10.0 is busy: its VFIO group /dev/vfio/9 is open in another process (one process at a time); stop that process (`fuser -v /dev/vfio/9` names it)")
        #expect(VFIOError.forOpen(errno: .noSuchFileOrDirectory, path: "/dev/vfio/9", address: vf, missing: .sysfs(.vfioPCINotLoaded(vf)))
            == .sysfs(.vfioPCINotLoaded(vf)))
    }

    @Test func mapDMAPastTheMemlockLimitSaysHowToRaiseIt() {
        let vf = PCIAddress("03:10.0")!
        let error = VFIOError.forMapDMA(errno: .noMemory, bytes: 4 << 20, memlockLimit: 8 << 20, address: vf)
        #expect(error == .memlockLimit(vf, bytes: 4 << 20, limit: "8192 KiB"))
        #expect(error.description
            == "cannot map 4096 KiB of DMA memory for 0000:03:10.0: the locked-memory limit (8192 KiB) is too small; raise it with `ulimit -l unlimited` (LimitMEMLOCK=infinity for a service) or run as root")
        // Unlimited memlock: ENOMEM is the kernel's own shortage, reported as such.
        #expect(VFIOError.forMapDMA(errno: .noMemory, bytes: 4096, memlockLimit: .max)
            == .systemCallFailed(nil, call: "VFIO_IOMMU_MAP_DMA of 4 KiB", errno: .noMemory))
        #expect(VFIOError.forMapDMA(errno: .noSpace, bytes: 4096, memlockLimit: .max) == .dmaMappingLimit(limit: 65535))
        #expect(VFIOError.forMapDMA(errno: .noSpace, bytes: 4096, memlockLimit: .max, mappingLimit: 100) == .dmaMappingLimit(limit: 100))
    }
}
