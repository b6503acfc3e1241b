import Foundation
import Testing
import PCISysfs
import SysfsTestSupport

/// sysfs discovery on a fake tree laid out as Linux lays out PFs, VFs, groups and netdevs.
struct DiscoveryTests {
    @Test func everySupportedPFAndVFIsFoundInAddressOrder() {
        let fake = FakeSysfs.standard()
        let devices = DeviceDiscovery(sysfs: fake.sysfs).supportedDevices()
        #expect(devices.map(\.address.description) == [
            "0000:00:01.0", "0000:00:11.0", "0000:00:11.2", "0000:03:00.0", "0000:03:10.0", "0000:03:10.2", "0000:04:10.0",
        ])
        #expect(devices.map(\.role) == [.pf, .vf, .vf, .pf, .vf, .vf, .vf])
        #expect(devices.map(\.family) == [.igbvf, .igbvf, .igbvf, .ixgbevf, .ixgbevf, .ixgbevf, .ixgbevf])
    }

    @Test func aVFKnowsItsPFIndexGroupDriverAndNetdev() throws {
        let fake = FakeSysfs.standard()
        let discovery = DeviceDiscovery(sysfs: fake.sysfs)
        let vf = try discovery.record(for: PCIAddress("00:11.2")!)
        #expect(vf.pciID == "8086:10ca" && vf.supported.model == "82576 VF")
        #expect(vf.physicalFunction == PCIAddress("0000:00:01.0") && vf.vfIndex == 1)
        #expect(vf.iommuGroup == 5 && vf.driver == "vfio-pci")
        #expect(vf.iommuGroupMembers == [.init(address: PCIAddress("00:11.2")!, driver: "vfio-pci")])
        #expect(vf.netdev == nil && vf.numaNode == nil && vf.sriovTotalVFs == nil)

        let down = try discovery.record(for: PCIAddress("00:11.0")!)
        #expect(down.vfIndex == 0 && down.netdev == "eth1" && down.operstate == "down" && !down.netdevIsUp)

        let shared = try discovery.record(for: PCIAddress("03:10.2")!)
        #expect(shared.numaNode == 0 && shared.netdev == "eth3" && shared.netdevIsUp)
        #expect(shared.iommuGroupMembers.map(\.description) == ["0000:03:10.0 (vfio-pci)", "0000:03:10.2 (ixgbevf)"])

        let noGroup = try discovery.record(for: PCIAddress("04:10.0")!)
        #expect(noGroup.iommuGroup == nil && noGroup.iommuGroupMembers.isEmpty && noGroup.physicalFunction == nil)
    }

    @Test func aPFKnowsItsSRIOVStateAndVFs() throws {
        let fake = FakeSysfs.standard()
        let discovery = DeviceDiscovery(sysfs: fake.sysfs)
        let pf = try discovery.record(for: PCIAddress("0000:00:01.0")!)
        #expect(pf.sriovTotalVFs == 7 && pf.sriovNumVFs == 2 && pf.driver == "igb")
        #expect(pf.netdev == "eth0" && pf.netdevIsUp && pf.physicalFunction == nil && pf.vfIndex == nil)
        #expect(discovery.virtualFunctions(of: pf.address).map(\.address.description) == ["0000:00:11.0", "0000:00:11.2"])
    }

    @Test func unknownAndMissingDevicesAreNamedErrors() {
        let fake = FakeSysfs.standard()
        let discovery = DeviceDiscovery(sysfs: fake.sysfs)
        #expect(throws: PCISysfsError.noSuchDevice(PCIAddress("05:00.0")!)) { try discovery.record(for: PCIAddress("05:00.0")!) }
        #expect(throws: PCISysfsError.notSupported(PCIAddress("00:02.0")!, id: "1af4:1042")) {
            try discovery.record(for: PCIAddress("00:02.0")!)
        }
        #expect(PCISysfsError.noSuchDevice(PCIAddress("05:00.0")!).description
            == "no PCI device 0000:05:00.0: list the supported devices with `vfpmd devices` (all devices: `lspci -D`)")
        #expect(PCISysfsError.notSupported(PCIAddress("00:02.0")!, id: "1af4:1042").description
            == "0000:00:02.0 (1af4:1042) is not a supported device: vfpmd drives Intel 82599/X540/X550 VFs (ixgbevf) and 82576/I350 VFs (igbvf); see `vfpmd devices`")
    }

    @Test func jsonHasEveryKeyWithNullForAbsentValues() throws {
        let fake = FakeSysfs.standard()
        let record = try DeviceDiscovery(sysfs: fake.sysfs).record(for: PCIAddress("03:10.0")!)
        let data = try JSONEncoder().encode(record)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["address"] as? String == "0000:03:10.0")
        #expect(object["id"] as? String == "8086:10ed")
        #expect(object["family"] as? String == "ixgbevf" && object["role"] as? String == "vf")
        #expect(object["pf"] as? String == "0000:03:00.0" && object["vf_index"] as? Int == 0)
        #expect(object["iommu_group"] as? Int == 9 && object["driver"] as? String == "vfio-pci")
        #expect(object["netdev"] is NSNull && object["sriov_totalvfs"] is NSNull)
        let members = try #require(object["iommu_group_members"] as? [[String: Any]])
        #expect(members.count == 2 && members[1]["driver"] as? String == "ixgbevf")
    }

    @Test func theRealSysfsOfThisMachineHasNoSupportedDevices() {
        // This machine has no Intel NIC: discovery must say so, not invent one.
        #expect(DeviceDiscovery().supportedDevices().isEmpty)
        #expect(!Sysfs().list(Sysfs().pciDevices).isEmpty)
    }
}
