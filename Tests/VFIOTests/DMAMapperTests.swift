import PMDCore
import Testing
@testable import VFIO

/// Reference-counted DMA mappings: one kernel mapping per region per container, the same IOVA
/// for every VF, unmapped when the last reference goes.
struct DMAMapperTests {
    /// A domain that records the kernel calls it would make.
    final class RecordingDomain: DMADomain, @unchecked Sendable {
        // Used from one test's thread only.
        var calls: [String] = []
        var failNextMap: VFIOError?
        var choosesIOVA: Bool { false }

        func map(_ region: DMAMemory, at iova: UInt64?) throws(VFIOError) -> DeviceAddresses {
            if let failure = failNextMap {
                failNextMap = nil
                throw failure
            }
            calls.append("map 0x\(String(iova!, radix: 16)) \(region.length)")
            return .contiguous(iova!)
        }

        func unmap(iova: UInt64, length: Int) throws(VFIOError) {
            calls.append("unmap 0x\(String(iova, radix: 16)) \(length)")
        }
    }

    @Test func twoVFsMappingOnePoolShareOneMappingAndOneIOVA() throws {
        let domain = RecordingDomain()
        let mapper = DMAMapper(domain: domain, ranges: IOVAAllocatorTests.qemuRanges)
        let pool = try Mempool(name: "shared", capacity: 512, pages: .smallPages)
        let first = try mapper.map(pool.region)
        let second = try mapper.map(pool.region)
        #expect(first == second)
        #expect(pool.region.iova == first)
        #expect(domain.calls == ["map 0x100000 \(pool.region.length)"])
        #expect(mapper.current.map(\.references) == [2])
        try mapper.unmap(pool.region)
        #expect(domain.calls.count == 1 && pool.region.iova == first)
        try mapper.unmap(pool.region)
        #expect(domain.calls.last == "unmap 0x100000 \(pool.region.length)")
        #expect(pool.region.iova == nil && mapper.current.isEmpty)
        #expect(throws: VFIOError.regionNotMapped) { try mapper.unmap(pool.region) }
    }

    @Test func separateRegionsGetSeparateIOVAsAlignedToTheirPages() throws {
        let domain = RecordingDomain()
        let mapper = DMAMapper(domain: domain, ranges: IOVAAllocatorTests.qemuRanges)
        let rings = try DMAMemory(length: 8192, pages: .smallPages)
        let buffers = try DMAMemory(length: 1 << 20, pages: .smallPages)
        let a = try mapper.map(rings)
        let b = try mapper.map(buffers)
        #expect(a % UInt64(rings.pageSize) == 0 && b % UInt64(buffers.pageSize) == 0)
        #expect(a + UInt64(rings.length) <= b || b + UInt64(buffers.length) <= a)
        #expect(a < 1 << 39 && b < 1 << 39)
        mapper.unmapAll()
        #expect(rings.iova == nil && buffers.iova == nil)
        #expect(domain.calls.filter { $0.hasPrefix("unmap") }.count == 2)
    }

    @Test func theMappingLimitIsAClearError() throws {
        let mapper = DMAMapper(domain: RecordingDomain(), ranges: IOVAAllocatorTests.qemuRanges, mappingLimit: 1)
        let a = try DMAMemory(length: 4096, pages: .smallPages)
        let b = try DMAMemory(length: 4096, pages: .smallPages)
        try mapper.map(a)
        #expect(throws: VFIOError.dmaMappingLimit(limit: 1)) { try mapper.map(b) }
        #expect(VFIOError.dmaMappingLimit(limit: 1).description.contains("only 1 DMA mappings"))
    }

    @Test func aFailedKernelMappingGivesItsIOVABack() throws {
        let domain = RecordingDomain()
        let mapper = DMAMapper(domain: domain, ranges: IOVAAllocatorTests.qemuRanges)
        let region = try DMAMemory(length: 4096, pages: .smallPages)
        domain.failNextMap = .memlockLimit(nil, bytes: 4096, limit: "64 KiB")
        #expect(throws: VFIOError.memlockLimit(nil, bytes: 4096, limit: "64 KiB")) { try mapper.map(region) }
        #expect(region.iova == nil)
        #expect(try mapper.map(region) == 0x10_0000)
    }

    @Test func anIOVASpaceThatIsFullIsAClearError() throws {
        let mapper = DMAMapper(domain: RecordingDomain(), ranges: [0...0x1F_FFFF])
        let region = try DMAMemory(length: 2 << 20, pages: .smallPages)
        #expect(throws: VFIOError.iovaSpaceExhausted(bytes: 2 << 20)) { try mapper.map(region) }
    }
}
