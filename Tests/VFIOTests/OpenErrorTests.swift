import Foundation
import Testing
@testable import VFIO

/// The errors of opening a VF through VFIO, from the sysfs checks made before any ioctl to
/// the errno of the group file and of MAP_DMA. Each sentence is asserted as the user sees it.
struct OpenErrorTests {
    @Test func aVFOnVFIOPCIInAGroupOfItsOwnPassesTheChecks() throws {
        let fake = FakeSysfs.standard()
        let (record, group) = try VFIOPreflight.check(PCIAddress("00:11.2")!, sysfs: fake.sysfs, noIOMMU: false)
        #expect(group == 5 && record.family == .igbvf)
    }

    @Test func eachWrongStateHasItsOwnSentence() {
        let fake = FakeSysfs.standard()
        func check(_ text: String, noIOMMU: Bool = false) throws(VFIOError) {
            _ = try VFIOPreflight.check(PCIAddress(text)!, sysfs: fake.sysfs, noIOMMU: noIOMMU)
        }
        #expect(throws: VFIOError.noSuchDevice(PCIAddress("07:00.0")!)) { try check("07:00.0") }
        #expect(throws: VFIOError.notSupported(PCIAddress("00:02.0")!, id: "1af4:1042")) { try check("00:02.0") }
        #expect(throws: VFIOError.physicalFunction(PCIAddress("03:00.0")!, model: "82599 SFP+")) { try check("03:00.0") }
        #expect(throws: VFIOError.iommuOff(PCIAddress("04:10.0")!)) { try check("04:10.0") }
        #expect(throws: VFIOError.notBoundToVFIO(PCIAddress("04:10.0")!, driver: "ixgbevf")) { try check("04:10.0", noIOMMU: true) }
        #expect(throws: VFIOError.notBoundToVFIO(PCIAddress("00:11.0")!, driver: "igbvf")) { try check("00:11.0") }
        #expect(VFIOError.notBoundToVFIO(PCIAddress("00:11.0")!, driver: "igbvf").description
            == "0000:00:11.0 is bound to igbvf, not to vfio-pci: run `vfpmd bind 0000:00:11.0` first")
        fake.removeDriver("vfio-pci")
        #expect(throws: VFIOError.vfioPCINotLoaded(PCIAddress("00:11.0")!)) { try check("00:11.0") }
    }

    @Test func aGroupWithAMemberOnAKernelDriverIsNotViableAndListsEveryMember() {
        let fake = FakeSysfs.standard()
        let vf = PCIAddress("03:10.0")!
        let members: [VFIOError.GroupMember] = [.init(address: vf, driver: "vfio-pci"), .init(address: PCIAddress("03:10.2")!, driver: "ixgbevf")]
        #expect(throws: VFIOError.groupNotViable(vf, group: 9, members: members)) {
            _ = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: false)
        }
        #expect(VFIOError.groupNotViable(vf, group: 9, members: members).description
            == "IOMMU group 9 of 0000:03:10.0 is not viable: every device in it must be bound to vfio-pci or to no driver, and it holds 0000:03:10.0 (vfio-pci), 0000:03:10.2 (ixgbevf); bind the others with `vfpmd bind` too")
        // A member without driver keeps the group viable.
        fake.setDriver("0000:03:10.2", nil)
        #expect(throws: Never.self) { _ = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: false) }
    }

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
        #expect(throws: VFIOError.noIOMMUDisabled) {
            _ = try VFIOContainer(mode: .noIOMMU, sysfs: fake.sysfs, devRoot: fake.devRoot)
        }
        try? FileManager.default.removeItem(atPath: fake.path("module/vfio"))
        #expect(throws: VFIOError.noIOMMUModuleMissing) {
            _ = try VFIOContainer(mode: .noIOMMU, sysfs: fake.sysfs, devRoot: fake.devRoot)
        }
        #expect(VFIOError.noIOMMUModuleMissing.description
            == "no-IOMMU mode needs the vfio module: load it with `modprobe vfio enable_unsafe_noiommu_mode=1` and then `modprobe vfio-pci` as root")
    }

    @Test func aGroupFileWeMayNotOpenNamesItsOwner() throws {
        let fake = FakeSysfs.standard()
        let path = fake.devRoot + "/vfio/9"
        fake.mkdir(fake.devRoot + "/vfio")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        #expect(chown(path, 1000, 1000) == 0)
        let vf = PCIAddress("03:10.0")!
        let error = VFIOError.forOpen(errno: .permissionDenied, path: path, address: vf, missing: .vfioPCINotLoaded(vf))
        let owner = getpwuid(1000).map { "uid 1000, " + String(cString: $0.pointee.pw_name) } ?? "uid 1000"
        #expect(error == .permissionDenied(vf, path: path, owner: owner))
        #expect(error.description == "no permission to open \(path) for 0000:03:10.0: run as root or the file's owner (\(owner))")
    }

    @Test func aGroupOpenInAnotherProcessIsBusy() {
        let vf = PCIAddress("03:10.0")!
        let error = VFIOError.forOpen(errno: .resourceBusy, path: "/dev/vfio/9", address: vf, missing: .vfioPCINotLoaded(vf))
        #expect(error == .deviceBusy(vf, path: "/dev/vfio/9"))
        #expect(error.description
            == "0000:03:10.0 is busy: its VFIO group /dev/vfio/9 is open in another process (one process at a time); stop that process (`fuser -v /dev/vfio/9` names it)")
        #expect(VFIOError.forOpen(errno: .noSuchFileOrDirectory, path: "/dev/vfio/9", address: vf, missing: .vfioPCINotLoaded(vf))
            == .vfioPCINotLoaded(vf))
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
