import Foundation
import PMDCore
import Testing
import VFIO

/// /proc/self/pagemap decoding for no-IOMMU mode, on a fake pagemap file and on the real one.
struct PagemapTests {
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

    /// A sparse file with the entries of `region`'s pages at the offsets the kernel uses.
    static func fakePagemap(for region: DMAMemory, frames: [UInt64]) throws -> String {
        let path = NSTemporaryDirectory() + "pagemap-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        let firstPage = UInt64(UInt(bitPattern: region.address)) / UInt64(DMAMemory.smallPageSize)
        try handle.seek(toOffset: firstPage * 8)
        var data = Data()
        for frame in frames { withUnsafeBytes(of: ((1 << 63) | frame).littleEndian) { data.append(contentsOf: $0) } }
        try handle.write(contentsOf: data)
        return path
    }

    @Test func aContiguousRegionHasThePhysicalAddressOfItsFirstPage() throws {
        let region = try DMAMemory(length: 3 * DMAMemory.smallPageSize, pages: .smallPages)
        let path = try Self.fakePagemap(for: region, frames: [0x5000, 0x5001, 0x5002])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Pagemap.physicalAddress(of: region, pagemap: path) == 0x5000 * UInt64(DMAMemory.smallPageSize))
    }

    @Test func aScatteredRegionIsRefusedForNoIOMMUMode() throws {
        let region = try DMAMemory(length: 2 * DMAMemory.smallPageSize, pages: .smallPages)
        let path = try Self.fakePagemap(for: region, frames: [0x5000, 0x9000])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.notPhysicallyContiguous(bytes: region.length)) {
            try Pagemap.physicalAddress(of: region, pagemap: path)
        }
        #expect(VFIOError.notPhysicallyContiguous(bytes: 8192).description.contains("use 2 MiB hugepages"))
    }

    @Test func hiddenFrameNumbersSayWhatIsNeeded() throws {
        let region = try DMAMemory(length: DMAMemory.smallPageSize, pages: .smallPages)
        let path = try Self.fakePagemap(for: region, frames: [0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: VFIOError.physicalAddressUnavailable(reason: "the page frame numbers read as 0")) {
            try Pagemap.physicalAddress(of: region, pagemap: path)
        }
        #expect(VFIOError.physicalAddressUnavailable(reason: "x").description.contains("run as root (CAP_SYS_ADMIN)"))
    }

    /// This machine runs the tests as root with CAP_SYS_ADMIN, so the real pagemap shows frames.
    @Test func theRealPagemapGivesALockedPageAPhysicalAddress() throws {
        let region = try DMAMemory(length: DMAMemory.smallPageSize, pages: .smallPages)
        let physical = try Pagemap.physicalAddress(of: region)
        #expect(physical != 0 && physical % UInt64(DMAMemory.smallPageSize) == 0)
    }
}
