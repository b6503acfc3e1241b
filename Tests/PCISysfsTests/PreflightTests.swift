import Testing
import PCISysfs
import SysfsTestSupport

/// The sysfs checks made before any VFIO file is opened: each wrong state of the device, its
/// driver or its IOMMU group has its own sentence, asserted as the user sees it.
struct PreflightTests {
    @Test func aVFOnVFIOPCIInAGroupOfItsOwnPassesTheChecks() throws {
        let fake = FakeSysfs.standard()
        let (record, group) = try VFIOPreflight.check(PCIAddress("00:11.2")!, sysfs: fake.sysfs, noIOMMU: false)
        #expect(group == 5 && record.family == .igbvf)
    }

    @Test func eachWrongStateHasItsOwnSentence() {
        let fake = FakeSysfs.standard()
        func check(_ text: String, noIOMMU: Bool = false) throws(PCISysfsError) {
            _ = try VFIOPreflight.check(PCIAddress(text)!, sysfs: fake.sysfs, noIOMMU: noIOMMU)
        }
        #expect(throws: PCISysfsError.noSuchDevice(PCIAddress("07:00.0")!)) { try check("07:00.0") }
        #expect(throws: PCISysfsError.notSupported(PCIAddress("00:02.0")!, id: "1af4:1042")) { try check("00:02.0") }
        #expect(throws: PCISysfsError.physicalFunction(PCIAddress("03:00.0")!, model: "82599 SFP+")) { try check("03:00.0") }
        #expect(throws: PCISysfsError.iommuOff(PCIAddress("04:10.0")!)) { try check("04:10.0") }
        #expect(throws: PCISysfsError.notBoundWithoutIOMMU(PCIAddress("04:10.0")!, driver: "ixgbevf")) { try check("04:10.0", noIOMMU: true) }
        #expect(PCISysfsError.notBoundWithoutIOMMU(PCIAddress("04:10.0")!, driver: "ixgbevf").description
            == "0000:04:10.0 is bound to ixgbevf, not to vfio-pci, and has no IOMMU group: run `vfpmd bind --no-iommu 0000:04:10.0` first (unsafe no-IOMMU mode)")
        #expect(throws: PCISysfsError.notBoundToVFIO(PCIAddress("00:11.0")!, driver: "igbvf")) { try check("00:11.0") }
        #expect(PCISysfsError.notBoundToVFIO(PCIAddress("00:11.0")!, driver: "igbvf").description
            == "0000:00:11.0 is bound to igbvf, not to vfio-pci: run `vfpmd bind 0000:00:11.0` first")
        fake.removeDriver("vfio-pci")
        #expect(throws: PCISysfsError.vfioPCINotLoaded(PCIAddress("00:11.0")!)) { try check("00:11.0") }
    }

    @Test func aNoIOMMUGroupIsOpenedOnlyWithTheUsersConsent() throws {
        let fake = FakeSysfs.standard()
        fake.bindInNoIOMMUGroup("0000:04:10.0", group: 0)
        let vf = PCIAddress("04:10.0")!
        #expect(throws: PCISysfsError.noIOMMUNotConsented(vf, group: 0)) {
            _ = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: false)
        }
        #expect(PCISysfsError.noIOMMUNotConsented(vf, group: 0).description
            == "0000:04:10.0 is in the no-IOMMU group 0 (/dev/vfio/noiommu-0), where nothing stops the VF from reading and writing all of the machine's memory: add --no-iommu to the command (or noiommu=on to its pci: spec) to drive it anyway")
        let (record, group) = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: true)
        #expect(group == 0 && record.inNoIOMMUGroup)
        // An ordinary group is not one, and consent changes nothing for it.
        let (ordinary, _) = try VFIOPreflight.check(PCIAddress("00:11.2")!, sysfs: fake.sysfs, noIOMMU: true)
        #expect(!ordinary.inNoIOMMUGroup)
    }

    @Test func aGroupWithAMemberOnAKernelDriverIsNotViableAndListsEveryMember() {
        let fake = FakeSysfs.standard()
        let vf = PCIAddress("03:10.0")!
        let members: [PCISysfsError.GroupMember] = [.init(address: vf, driver: "vfio-pci"), .init(address: PCIAddress("03:10.2")!, driver: "ixgbevf")]
        #expect(throws: PCISysfsError.groupNotViable(vf, group: 9, members: members)) {
            _ = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: false)
        }
        #expect(PCISysfsError.groupNotViable(vf, group: 9, members: members).description
            == "IOMMU group 9 of 0000:03:10.0 is not viable: every device in it must be bound to vfio-pci or to no driver, and it holds 0000:03:10.0 (vfio-pci), 0000:03:10.2 (ixgbevf); bind the others with `vfpmd bind` too")
        // A member without driver keeps the group viable.
        fake.setDriver("0000:03:10.2", nil)
        #expect(throws: Never.self) { _ = try VFIOPreflight.check(vf, sysfs: fake.sysfs, noIOMMU: false) }
    }
}
