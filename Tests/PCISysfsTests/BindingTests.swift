import Foundation
import Testing
import PCISysfs
import SysfsTestSupport

/// Binding, unbinding and SR-IOV through sysfs: the exact writes, in order, and the result.
struct BindingTests {
    typealias Write = (path: String, value: String)

    static func same(_ writes: [Write], _ expected: [Write]) -> Bool {
        writes.count == expected.count && zip(writes, expected).allSatisfy { $0.path == $1.path && $0.value == $1.value }
    }

    @Test func bindingAVFWritesOverrideUnbindProbeAndEndsOnVFIOPCI() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let outcome = try binder.bindToVFIO(PCIAddress("00:11.0")!)
        #expect(outcome == .moved(from: "igbvf", to: "vfio-pci"))
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:00:11.0/driver_override", "vfio-pci"),
            ("bus/pci/devices/0000:00:11.0/driver/unbind", "0000:00:11.0"),
            ("bus/pci/drivers_probe", "0000:00:11.0"),
        ]))
        #expect(binder.discovery.driver(of: PCIAddress("00:11.0")!) == "vfio-pci")
    }

    @Test func aDeviceAlreadyOnVFIOPCIIsLeftAlone() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let outcome = try DeviceBinder(sysfs: fake.sysfs, writer: kernel).bindToVFIO(PCIAddress("00:11.2")!)
        #expect(outcome == .unchanged(driver: "vfio-pci") && kernel.writes.isEmpty)
    }

    @Test func aDriverlessDeviceIsProbedWithoutUnbind() throws {
        let fake = FakeSysfs.standard()
        fake.setDriver("0000:00:11.0", nil)
        let kernel = FakeKernel(fake)
        try DeviceBinder(sysfs: fake.sysfs, writer: kernel).bindToVFIO(PCIAddress("00:11.0")!)
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:00:11.0/driver_override", "vfio-pci"),
            ("bus/pci/drivers_probe", "0000:00:11.0"),
        ]))
    }

    @Test func aVFWhoseNetdevIsUpIsRefusedUnlessForced() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let vf = PCIAddress("03:10.2")!
        #expect(throws: PCISysfsError.netdevUp(vf, netdev: "eth3")) { try binder.bindToVFIO(vf) }
        #expect(kernel.writes.isEmpty)
        #expect(PCISysfsError.netdevUp(vf, netdev: "eth3").description
            == "0000:03:10.2 is in use by the kernel: its interface eth3 is up; take it down with `ip link set eth3 down` first, or pass --force")
        #expect(binder.groupMembersBlocking(PCIAddress("03:10.0")!) == [.init(address: vf, driver: "ixgbevf")])
        #expect(try binder.bindToVFIO(vf, force: true) == .moved(from: "ixgbevf", to: "vfio-pci"))
        #expect(kernel.writes.count == 3)
        #expect(binder.groupMembersBlocking(PCIAddress("03:10.0")!).isEmpty)
    }

    @Test func pfsAndUnknownDevicesAreRefused() {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        #expect(throws: PCISysfsError.physicalFunction(PCIAddress("00:01.0")!, model: "82576")) {
            try binder.bindToVFIO(PCIAddress("00:01.0")!)
        }
        #expect(PCISysfsError.physicalFunction(PCIAddress("00:01.0")!, model: "82576").description
            == "0000:00:01.0 is an 82576 physical function, not a VF: vfpmd drives its virtual functions; create them with `vfpmd sriov 0000:00:01.0 --vfs N`")
        #expect(throws: PCISysfsError.notSupported(PCIAddress("00:02.0")!, id: "1af4:1042")) {
            try binder.bindToVFIO(PCIAddress("00:02.0")!)
        }
        #expect(throws: PCISysfsError.noSuchDevice(PCIAddress("00:09.0")!)) { try binder.bindToVFIO(PCIAddress("00:09.0")!) }
        #expect(kernel.writes.isEmpty)
    }

    @Test func withoutVFIOPCITheHintIsModprobe() {
        let fake = FakeSysfs.standard()
        fake.removeDriver("vfio-pci")
        let kernel = FakeKernel(fake)
        let vf = PCIAddress("00:11.0")!
        #expect(throws: PCISysfsError.vfioPCINotLoaded(vf)) { try DeviceBinder(sysfs: fake.sysfs, writer: kernel).bindToVFIO(vf) }
        #expect(PCISysfsError.vfioPCINotLoaded(vf).description
            == "cannot use 0000:00:11.0 through VFIO: the vfio-pci driver is not loaded; load it with `modprobe vfio-pci` as root")
        #expect(kernel.writes.isEmpty)
    }

    @Test func withoutIOMMUGroupBindingNeedsNoIOMMUMode() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let vf = PCIAddress("04:10.0")!
        #expect(throws: PCISysfsError.iommuOff(vf)) { try binder.bindToVFIO(vf) }
        #expect(PCISysfsError.iommuOff(vf).description
            == "0000:04:10.0 has no IOMMU group, so the IOMMU is off: boot with intel_iommu=on (Intel) or amd_iommu=on (AMD) on the kernel command line, or use no-IOMMU mode (--no-iommu, unsafe)")
        // The kernel allowing no-IOMMU mode is not enough: the user must ask for it.
        fake.setNoIOMMU(true)
        #expect(throws: PCISysfsError.iommuOff(vf)) { try binder.bindToVFIO(vf) }
        #expect(kernel.writes.isEmpty)
        #expect(try binder.bindToVFIO(vf, noIOMMU: true) == .moved(from: "ixgbevf", to: "vfio-pci"))
    }

    @Test func noIOMMUModeNeedsTheKernelParameter() {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let vf = PCIAddress("04:10.0")!
        #expect(throws: PCISysfsError.noIOMMUDisabled) { try binder.bindToVFIO(vf, noIOMMU: true) }
        #expect(PCISysfsError.noIOMMUDisabled.description
            == "no-IOMMU mode is off in the kernel: enable it with `echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode` as root (unsafe: the device can then write anywhere in memory)")
        try? FileManager.default.removeItem(atPath: fake.path("module/vfio/parameters/enable_unsafe_noiommu_mode"))
        #expect(throws: PCISysfsError.noIOMMUNotBuilt) { try binder.bindToVFIO(vf, noIOMMU: true) }
        #expect(PCISysfsError.noIOMMUNotBuilt.description
            == "this kernel has no no-IOMMU mode (built without CONFIG_VFIO_NOIOMMU, as Debian's are): use a kernel built with it, or give the machine an IOMMU (a virtual one in a VM)")
        try? FileManager.default.removeItem(atPath: fake.path("module/vfio"))
        #expect(throws: PCISysfsError.noIOMMUModuleMissing) { try binder.bindToVFIO(vf, noIOMMU: true) }
        #expect(kernel.writes.isEmpty)
    }

    @Test func unbindGivesTheVFBackToItsFamilyDriverAndClearsTheOverride() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let vf = PCIAddress("00:11.2")!
        #expect(try binder.unbind(vf) == .moved(from: "vfio-pci", to: "igbvf"))
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:00:11.2/driver_override", "igbvf"),
            ("bus/pci/devices/0000:00:11.2/driver/unbind", "0000:00:11.2"),
            ("bus/pci/drivers_probe", "0000:00:11.2"),
            ("bus/pci/devices/0000:00:11.2/driver_override", "\n"),
        ]))
        #expect(try binder.unbind(vf) == .unchanged(driver: "igbvf"))
    }

    @Test func unbindToNoneLeavesTheDeviceWithoutDriver() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let vf = PCIAddress("03:10.0")!
        #expect(try DeviceBinder(sysfs: fake.sysfs, writer: kernel).unbind(vf, to: "none") == .moved(from: "vfio-pci", to: nil))
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:03:10.0/driver_override", "\n"),
            ("bus/pci/devices/0000:03:10.0/driver/unbind", "0000:03:10.0"),
        ]))
        #expect(PCISysfsError.bindFailed(vf, wanted: nil, got: "vfio-pci").description
            == "0000:03:10.0 is still bound to vfio-pci after the unbind: see `dmesg` for the kernel's reason")
    }

    @Test func aProbeThatBindsNothingIsReported() {
        let fake = FakeSysfs.standard()
        fake.removeDriver("igbvf")
        let kernel = FakeKernel(fake)
        let vf = PCIAddress("00:11.2")!
        #expect(throws: PCISysfsError.bindFailed(vf, wanted: "igbvf", got: nil)) {
            try DeviceBinder(sysfs: fake.sysfs, writer: kernel).unbind(vf)
        }
        #expect(PCISysfsError.bindFailed(vf, wanted: "igbvf", got: nil).description
            == "0000:00:11.2 did not bind to igbvf (now bound to no driver): see `dmesg` for the kernel's reason or load it with `modprobe igbvf`")
    }

    @Test func sysfsPermissionErrorsSayRunAsRoot() {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let override = fake.path("bus/pci/devices/0000:00:11.0/driver_override")
        kernel.failures["bus/pci/devices/0000:00:11.0/driver_override"] = .permissionDenied(path: override)
        #expect(throws: PCISysfsError.permissionDenied(path: override)) {
            try DeviceBinder(sysfs: fake.sysfs, writer: kernel).bindToVFIO(PCIAddress("00:11.0")!)
        }
        #expect(PCISysfsError.permissionDenied(path: "/sys/x").description == "no permission to open /sys/x: run as root")
    }

    @Test func theFileWriterWritesOnceAndNamesFailures() throws {
        let fake = FakeSysfs.standard()
        let path = fake.path("bus/pci/devices/0000:00:11.0/driver_override")
        try FileSysfsWriter().write("vfio-pci", to: path)
        #expect(fake.read("bus/pci/devices/0000:00:11.0/driver_override") == "vfio-pci")
        let missing = fake.path("bus/pci/devices/0000:09:00.0/driver_override")
        #expect(throws: PCISysfsError.sysfsWriteFailed(path: missing, errno: .noSuchFileOrDirectory)) {
            try FileSysfsWriter().write("x", to: missing)
        }
    }

    // MARK: - SR-IOV

    @Test func changingANonzeroVFCountWritesZeroFirst() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let pf = PCIAddress("00:01.0")!
        #expect(try binder.setVFCount(pf, to: 4) == 2)
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:00:01.0/sriov_numvfs", "0"),
            ("bus/pci/devices/0000:00:01.0/sriov_numvfs", "4"),
        ]))
        #expect(binder.discovery.virtualFunctions(of: pf).count == 4)
        #expect(try binder.discovery.record(for: pf).sriovNumVFs == 4)
    }

    @Test func zeroRemovesTheVFsAndTheSameCountWritesNothing() throws {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let pf = PCIAddress("00:01.0")!
        try binder.setVFCount(pf, to: 2)
        #expect(kernel.writes.isEmpty)
        try binder.setVFCount(pf, to: 0)
        try binder.setVFCount(pf, to: 3)
        #expect(Self.same(kernel.writes, [
            ("bus/pci/devices/0000:00:01.0/sriov_numvfs", "0"),
            ("bus/pci/devices/0000:00:01.0/sriov_numvfs", "3"),
        ]))
        #expect(binder.discovery.virtualFunctions(of: pf).count == 3)
    }

    @Test func sriovRefusesTooManyVFsVFsAndDriverlessPFs() {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let binder = DeviceBinder(sysfs: fake.sysfs, writer: kernel)
        let pf = PCIAddress("00:01.0")!
        #expect(throws: PCISysfsError.tooManyVFs(pf, asked: 8, total: 7)) { try binder.setVFCount(pf, to: 8) }
        #expect(PCISysfsError.tooManyVFs(pf, asked: 8, total: 7).description == "0000:00:01.0 offers at most 7 VFs, not 8: ask for 0...7")
        #expect(throws: PCISysfsError.notPhysicalFunction(PCIAddress("00:11.0")!, model: "82576 VF")) {
            try binder.setVFCount(PCIAddress("00:11.0")!, to: 1)
        }
        fake.write("0", to: "bus/pci/devices/0000:00:01.0/sriov_totalvfs")
        #expect(throws: PCISysfsError.noSRIOV(pf)) { try binder.setVFCount(pf, to: 1) }
        #expect(PCISysfsError.noSRIOV(pf).description
            == "0000:00:01.0 offers no SR-IOV VFs (sriov_totalvfs is missing or 0): enable SR-IOV and VT-d in the firmware setup and check that its kernel driver is loaded")
        fake.write("7", to: "bus/pci/devices/0000:00:01.0/sriov_totalvfs")
        fake.setDriver("0000:00:01.0", "vfio-pci")
        #expect(throws: PCISysfsError.pfWithoutDriver(pf, driver: "igb")) { try binder.setVFCount(pf, to: 1) }
        #expect(kernel.writes.isEmpty)
    }

    @Test func vfsInUseAreReportedAsBusy() {
        let fake = FakeSysfs.standard()
        let kernel = FakeKernel(fake)
        let pf = PCIAddress("00:01.0")!
        let file = fake.path("bus/pci/devices/0000:00:01.0/sriov_numvfs")
        kernel.failures["bus/pci/devices/0000:00:01.0/sriov_numvfs"] = .sysfsWriteFailed(path: file, errno: .resourceBusy)
        #expect(throws: PCISysfsError.vfsBusy(pf)) { try DeviceBinder(sysfs: fake.sysfs, writer: kernel).setVFCount(pf, to: 0) }
    }
}
