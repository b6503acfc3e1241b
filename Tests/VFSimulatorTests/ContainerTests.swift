import PMDCore
import Testing
@testable import VFSimulator

/// The simulated container's IOMMU table: IOVA allocation, refcounted mappings, translation.
struct ContainerTests {
    @Test func mapsPageAlignedWithGuardGapsAndTranslates() throws {
        let c = SimulatedContainer(iovaBase: 0x4000_0000)
        let a = try DMAMemory(length: 5000, pages: .smallPages)
        let b = try DMAMemory(length: 4096, pages: .smallPages)
        let ia = c.map(a)
        let ib = c.map(b)
        #expect(ia == 0x4000_0000 && a.iova == ia)
        #expect(ib % 4096 == 0 && ib >= ia + UInt64(a.length) + 4096)
        #expect(c.translate(ia + 100, length: 8) == a.address + 100)
        #expect(c.translate(ib, length: b.length) == b.address)
        // The guard page between the two and a range running off the end are faults.
        #expect(c.translate(ia + UInt64(a.length), length: 1) == nil)
        #expect(c.translate(ib + UInt64(b.length) - 4, length: 8) == nil)
    }

    @Test func mappingIsIdempotentPerRegionAndRefcounted() throws {
        let c = SimulatedContainer()
        let a = try DMAMemory(length: 4096, pages: .smallPages)
        let first = c.map(a)
        #expect(c.map(a) == first)
        #expect(c.references(of: a) == 2 && c.mappedRegionCount == 1)
        try c.unmap(a)
        #expect(c.translate(first, length: 4) != nil && a.iova == first)
        try c.unmap(a)
        #expect(c.translate(first, length: 4) == nil && a.iova == nil)
        #expect(throws: SimulatorError.notMapped(bytes: 4096)) { try c.unmap(a) }
    }

    @Test func twoVFsShareOneAddressSpace() throws {
        let rig = Rig(.ixgbe82599)
        let other = SimulatedVF(family: .ixgbeX550, container: rig.container, engine: rig.engine)
        let m = try DMAMemory(length: 4096, pages: .smallPages)
        let i1 = try rig.vf.mapDMA(m)
        let i2 = try other.mapDMA(m)
        #expect(i1 == i2 && rig.container.references(of: m) == 2)
        #expect("\(SimulatorError.notMapped(bytes: 1))".contains("map it first"))
    }

    @Test func configSpaceHasIdentityAndCommandRegister() throws {
        for family in SimulatedFamily.allCases {
            let rig = Rig(family)
            let id = try rig.vf.readConfig32(at: 0)
            #expect(id == UInt32(family.deviceID) << 16 | 0x8086)
            #expect(try rig.vf.readConfig32(at: 8) >> 8 == 0x020000)
            try rig.vf.enableBusMaster()
            #expect(try rig.vf.readConfig32(at: 4) & PCIConfig.busMasterEnable != 0)
            #expect(throws: SimulatorError.self) { try rig.vf.readConfig32(at: 6) }
        }
        #expect(Rig(.igb82576).vf.pciID == "8086:10ca")
    }
}
