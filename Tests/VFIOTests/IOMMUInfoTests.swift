import Testing
@testable import VFIO

/// VFIO_IOMMU_GET_INFO's answer parsed from bytes, laid out as the kernel writes them.
struct IOMMUInfoTests {
    /// Little-endian byte builder.
    struct Bytes {
        var data: [UInt8] = []
        mutating func u16(_ v: UInt16) { data += withUnsafeBytes(of: v.littleEndian, Array.init) }
        mutating func u32(_ v: UInt32) { data += withUnsafeBytes(of: v.littleEndian, Array.init) }
        mutating func u64(_ v: UInt64) { data += withUnsafeBytes(of: v.littleEndian, Array.init) }
    }

    /// What the QEMU guest's VT-d reported: two IOVA ranges, page sizes 0x40201000, and a
    /// DMA-available capability after the ranges.
    static func qemuInfo(dmaAvailable: UInt32 = 65535) -> [UInt8] {
        var b = Bytes()
        let rangesCap = 24, availCap = 24 + 16 + 32
        b.u32(UInt32(availCap + 12)); b.u32(0b11); b.u64(0x4020_1000); b.u32(UInt32(rangesCap)); b.u32(0)
        b.u16(1); b.u16(1); b.u32(UInt32(availCap)); b.u32(2); b.u32(0)
        b.u64(0); b.u64(0xFEDF_FFFF)
        b.u64(0xFEF0_0000); b.u64(0xFFFF_FFFF_FFFF)
        b.u16(3); b.u16(1); b.u32(0); b.u32(dmaAvailable)
        return b.data
    }

    @Test func rangesPageSizesAndMappingLimitAreRead() throws {
        let info = try IOMMUInfo(parsing: Self.qemuInfo())
        #expect(info.pageSizes == 0x4020_1000)
        #expect(info.iovaRanges == [0...0xFEDF_FFFF, 0xFEF0_0000...0xFFFF_FFFF_FFFF])
        #expect(info.dmaMappingsAvailable == 65535)
        #expect(info.usableRanges == info.iovaRanges!)
    }

    @Test func theRequiredSizeIsTheArgszTheKernelWrote() {
        var b = Bytes()
        b.u32(84); b.u32(0b11); b.u64(0x1000); b.u32(24); b.u32(0)
        #expect(IOMMUInfo.requiredSize(b.data) == 84)
    }

    @Test func withoutCapabilitiesTheDefault39BitSpaceWithoutTheMSIWindowIsUsed() throws {
        var b = Bytes()
        b.u32(24); b.u32(0b01); b.u64(0x1000); b.u32(0); b.u32(0)
        let info = try IOMMUInfo(parsing: b.data)
        #expect(info.iovaRanges == nil && info.dmaMappingsAvailable == nil && info.pageSizes == 0x1000)
        #expect(info.usableRanges == [0...0xFEDF_FFFF, 0xFEF0_0000...((1 << 39) - 1)])
    }

    @Test func unknownCapabilitiesAreSkipped() throws {
        var b = Bytes()
        b.u32(52); b.u32(0b10); b.u64(0); b.u32(24); b.u32(0)
        b.u16(2); b.u16(1); b.u32(40); b.u32(0xAAAA); b.u32(0)   // migration capability
        b.u16(3); b.u16(1); b.u32(0); b.u32(17)
        let info = try IOMMUInfo(parsing: b.data)
        #expect(info.dmaMappingsAvailable == 17 && info.pageSizes == nil)
    }

    @Test func malformedChainsAreErrorsNotCrashes() {
        var loop = Bytes()
        loop.u32(32); loop.u32(0b10); loop.u64(0); loop.u32(24); loop.u32(0)
        loop.u16(3); loop.u16(1); loop.u32(24)
        #expect(throws: VFIOError.self) { try IOMMUInfo(parsing: loop.data) }

        var outside = Bytes()
        outside.u32(24); outside.u32(0b10); outside.u64(0); outside.u32(4096); outside.u32(0)
        #expect(throws: VFIOError.self) { try IOMMUInfo(parsing: outside.data) }

        var tooMany = Bytes()
        tooMany.u32(56); tooMany.u32(0b10); tooMany.u64(0); tooMany.u32(24); tooMany.u32(0)
        tooMany.u16(1); tooMany.u16(1); tooMany.u32(0); tooMany.u32(5); tooMany.u32(0)
        tooMany.u64(0); tooMany.u64(0xFFFF)
        #expect(throws: VFIOError.self) { try IOMMUInfo(parsing: tooMany.data) }

        #expect(throws: VFIOError.self) { try IOMMUInfo(parsing: [1, 2, 3]) }
    }
}
