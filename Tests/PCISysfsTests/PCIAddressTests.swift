import PCISysfs
import PMDCore
import Testing

/// PCI addresses: parsing, normalisation, ordering; and the table of supported devices.
struct PCIAddressTests {
    @Test func aBareBusDeviceFunctionMeansDomainZero() throws {
        #expect(PCIAddress("03:10.0")?.description == "0000:03:10.0")
        #expect(PCIAddress("0000:03:10.0")?.description == "0000:03:10.0")
        #expect(PCIAddress("0000:0A:1F.7")?.description == "0000:0a:1f.7")
        #expect(PCIAddress(" 3:1.2\n")?.description == "0000:03:01.2")
        #expect(PCIAddress("10000:00:00.0")?.description == "10000:00:00.0")
        #expect(PCIAddress("00:11.2") == PCIAddress(domain: 0, bus: 0, device: 0x11, function: 2))
    }

    @Test func malformedAddressesAreRejected() {
        for text in ["", "03:10", "0000:03:10", "03:20.0", "03:10.8", "g0:00.0", "0000:03:10.0.1",
                     "0000:003:10.0", "a:b:c:d.0", "03:10.", ":10.0", "123456789:00:00.0"] {
            #expect(PCIAddress(text) == nil, "\(text)")
        }
        #expect(throws: PCISysfsError.malformedAddress("03:20.0")) { try PCIAddress.parse("03:20.0") }
        #expect(PCISysfsError.malformedAddress("zz").description
            == "'zz' is not a PCI address: write it as DDDD:BB:DD.F, e.g. 0000:03:10.0 (or 03:10.0 for domain 0000)")
    }

    @Test func addressesSortByDomainBusDeviceFunction() {
        let sorted = ["0000:03:10.2", "0001:00:00.0", "0000:03:10.0", "0000:00:1f.0"].compactMap(PCIAddress.init).sorted()
        #expect(sorted.map(\.description) == ["0000:00:1f.0", "0000:03:10.0", "0000:03:10.2", "0001:00:00.0"])
    }

    @Test func theTableKnowsTheVFsAndTheirPFs() {
        let vfs: [UInt16] = [0x10ED, 0x1515, 0x1565, 0x15A8, 0x15C5]
        for id in vfs {
            let entry = IntelDevice.lookup(vendorID: 0x8086, deviceID: id)
            #expect(entry?.family == .ixgbevf && entry?.role == .vf)
        }
        for id: UInt16 in [0x10CA, 0x1520] {
            let entry = IntelDevice.lookup(vendorID: 0x8086, deviceID: id)
            #expect(entry?.family == .igbvf && entry?.role == .vf)
        }
        for id: UInt16 in [0x10FB, 0x10FC, 0x1557, 0x154D, 0x1528, 0x1563, 0x15AD, 0x15C8] {
            let entry = IntelDevice.lookup(vendorID: 0x8086, deviceID: id)
            #expect(entry?.family == .ixgbevf && entry?.role == .pf, "\(id)")
        }
        for id: UInt16 in [0x10C9, 0x10E6, 0x10E7, 0x10E8, 0x1526, 0x150A, 0x150D, 0x1518, 0x1521, 0x1522, 0x1523, 0x1524] {
            let entry = IntelDevice.lookup(vendorID: 0x8086, deviceID: id)
            #expect(entry?.family == .igbvf && entry?.role == .pf, "\(id)")
        }
        // 82598 has no SR-IOV; a VF ID under another vendor is not ours; e1000e is not ours.
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x10B6) == nil)
        #expect(IntelDevice.lookup(vendorID: 0x1AF4, deviceID: 0x10ED) == nil)
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x15B7) == nil)
        #expect(Set(IntelDevice.all.map(\.deviceID)).count == IntelDevice.all.count)
        #expect(DeviceFamily.ixgbevf.kernelPFDriver == "ixgbe" && DeviceFamily.igbvf.kernelPFDriver == "igb")
    }

    @Test func aPFsGenerationIsThatOfItsVFs() {
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x10FB)?.generation == .x82599)
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x15C8)?.generation == .x550emA)
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x1521)?.generation == .i350)
        #expect(IntelDevice.lookup(vendorID: 0x8086, deviceID: 0x1515)?.model == "X540 VF")
    }

    @Test func theVFIDListReadsAsTheDriverErrorSpellsIt() {
        #expect(IntelDevice.virtualFunctionIDList == "ixgbevf: 8086:10ed, 1515, 1565, 15a8, 15c5; igbvf: 8086:10ca, 1520")
    }
}
