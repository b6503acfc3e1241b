import Foundation
import PMDCore
import Testing
import VFIO

/// /proc/self/pagemap decoding for no-IOMMU mode (one physical address per segment of a
/// region), on a fake pagemap file and on the real one.
struct PagemapTests {
    static let page = UInt64(DMAMemory.smallPageSize)
    /// Where the fake regions lie: 1 GiB, hugepage aligned.
    static let virtualAddress: UInt = 0x4000_0000

    @Test func entriesDecodePresentSwappedAndFrameNumber() {
        let entry = Pagemap.Entry(raw: (1 << 63) | 0x12345)
        #expect(entry.present && !entry.swapped && entry.frameNumber == 0x12345)
        #expect(entry.physicalAddress(offset: 0x10, pageSize: 4096) == 0x1234_5010)
        // Bits 55-61 (soft-dirty, exclusive, file-page flags) are not part of the frame number.
        #expect(Pagemap.Entry(raw: (1 << 63) | (1 << 55) | (1 << 61) | 7).frameNumber == 7)
        #expect(Pagemap.Entry(raw: 0x12345).physicalAddress(offset: 0, pageSize: 4096) == nil)
        #expect(Pagemap.Entry(raw: (1 << 63) | (1 << 62) | 5).physicalAddress(offset: 0, pageSize: 4096) == nil)
        // An unprivileged reader sees present pages with frame number 0.
        #expect(Pagemap.Entry(raw: 1 << 63).physicalAddress(offset: 0, pageSize: 4096) == nil)
    }

    /// A sparse file with `entries` (raw) for the pages from `virtualAddress` on, at the offsets
    /// the kernel uses.
    static func fakePagemap(raw entries: [UInt64], at virtualAddress: UInt = virtualAddress) throws -> String {
        let path = NSTemporaryDirectory() + "pagemap-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(virtualAddress) / page * 8)
        var data = Data()
        for entry in entries { withUnsafeBytes(of: entry.littleEndian) { data.append(contentsOf: $0) } }
        try handle.write(contentsOf: data)
        return path
    }

    /// Present pages with these frame numbers.
    static func fakePagemap(frames: [UInt64]) throws -> String {
        try fakePagemap(raw: frames.map { (1 << 63) | $0 })
    }

    static func segments(_ path: String, pages: Int, pagesPerSegment: Int, limit: UInt64 = 1 << 39) throws(VFIOError) -> [UInt64] {
        try Pagemap.segmentAddresses(virtualAddress: virtualAddress, length: pages * Int(page),
                                     segmentSize: pagesPerSegment * Int(page), pagemap: path, limit: limit)
    }

    @Test func eachSegmentGetsThePhysicalAddressOfItsFirstPage() throws {
        // Three segments of two pages, physically out of order and apart.
        let path = try Self.fakePagemap(frames: [0x900, 0x901, 0x500, 0x501, 0x700, 0x701])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Self.segments(path, pages: 6, pagesPerSegment: 2) == [0x900 * Self.page, 0x500 * Self.page, 0x700 * Self.page])
    }

    @Test func twoHugepagesAreTwoSegments() throws {
        let perHugepage = DMAMemory.hugepageSize / Int(Self.page)
        let high = (0..<UInt64(perHugepage)).map { 0x40_0000 + $0 }, low = (0..<UInt64(perHugepage)).map { 0x1_2000 + $0 }
        let path = try Self.fakePagemap(frames: high + low)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Self.segments(path, pages: 2 * perHugepage, pagesPerSegment: perHugepage)
            == [0x40_0000 * Self.page, 0x1_2000 * Self.page])
    }

    @Test func aSegmentWhosePagesAreScatteredIsRefused() throws {
        let path = try Self.fakePagemap(frames: [0x500, 0x501, 0x700, 0x900])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.notPhysicallyContiguous(bytes: 2 * Int(Self.page))) {
            try Self.segments(path, pages: 4, pagesPerSegment: 2)
        }
        #expect(VFIOError.notPhysicallyContiguous(bytes: 8192).description.contains("2 MiB hugepages"))
    }

    @Test func hiddenFrameNumbersSayThatRootIsNeeded() throws {
        let path = try Self.fakePagemap(frames: [0, 0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.physicalAddressesHidden) { try Self.segments(path, pages: 2, pagesPerSegment: 2) }
        #expect(VFIOError.physicalAddressesHidden.description
            == "no-IOMMU mode gives the device physical addresses, and /proc/self/pagemap shows them only to root: run vfpmd as root (it needs CAP_SYS_ADMIN)")
    }

    @Test func aPageNotInMemoryIsRefused() throws {
        let path = try Self.fakePagemap(raw: [0, 0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.physicalAddressUnavailable(reason: "page 0 of a DMA region is not in memory")) {
            try Self.segments(path, pages: 2, pagesPerSegment: 2)
        }
    }

    @Test func aSegmentBeyondThirtyNineBitsIsRefusedWithItsAddress() throws {
        let limit: UInt64 = 1 << 39
        // The last two pages below 2^39 are still addressable; the two at 2^39 are not.
        let below = limit / Self.page - 2
        let path = try Self.fakePagemap(frames: [below, below + 1, limit / Self.page, limit / Self.page + 1])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.physicalAddressBeyondReach(address: limit, limit: limit)) {
            try Self.segments(path, pages: 4, pagesPerSegment: 2)
        }
        #expect(try Self.segments(path, pages: 2, pagesPerSegment: 2) == [below * Self.page])
        let sentence = VFIOError.physicalAddressBeyondReach(address: limit, limit: limit).description
        #expect(sentence.contains("0x8000000000") && sentence.contains("39-bit") && sentence.contains("hugepages=512"))
    }

    @Test func smallPagesAreRefusedWithHowToReserveHugepages() throws {
        let region = try DMAMemory(length: 2 * Int(Self.page), pages: .smallPages)
        #expect(throws: VFIOError.noIOMMUNeedsHugepages) { try Pagemap.deviceAddresses(of: region) }
        #expect(VFIOError.noIOMMUNeedsHugepages.description
            == "no-IOMMU mode needs free 2 MiB hugepages for its DMA memory (4 KiB pages are neither physically contiguous nor pinned against migration): reserve them with `echo 512 > /proc/sys/vm/nr_hugepages` as root")
    }

    /// This machine runs the tests as root with CAP_SYS_ADMIN, so the real pagemap shows frames.
    @Test func theRealPagemapGivesALockedPageAPhysicalAddress() throws {
        let region = try DMAMemory(length: Int(Self.page), pages: .smallPages)
        let bases = try Pagemap.segmentAddresses(virtualAddress: UInt(bitPattern: region.address), length: region.length,
                                                 segmentSize: region.length, limit: .max)
        #expect(bases.count == 1 && bases[0] != 0 && bases[0] % Self.page == 0)
    }
}
