import PMDCore
import Testing

/// DMA regions addressed one segment at a time (no IOMMU: one physical address per hugepage):
/// the layout that keeps every buffer inside one segment, and the table lookup that gives the
/// device each buffer's address.
struct SegmentedAddressTests {
    @Test func aContiguousRegionIsOneSegment() {
        let addresses = DeviceAddresses.contiguous(0x1_0000_0000)
        #expect(addresses.segmentSize == nil && addresses.first == 0x1_0000_0000)
        #expect(addresses.address(at: 5 << 30) == 0x1_0000_0000 + (5 << 30))
    }

    @Test func eachSegmentHasItsOwnBase() {
        let addresses = DeviceAddresses.segmented([0x9000_0000, 0x3000_0000, 0x7000_0000], segmentSize: 4096)
        #expect(addresses.segmentSize == 4096 && addresses.first == 0x9000_0000)
        #expect(addresses.address(at: 0) == 0x9000_0000)
        #expect(addresses.address(at: 4095) == 0x9000_0FFF)
        #expect(addresses.address(at: 4096) == 0x3000_0000)
        #expect(addresses.address(at: 2 * 4096 + 100) == 0x7000_0064)
    }

    @Test func withoutSegmentsBuffersFollowEachOther() {
        let layout = MempoolLayout(capacity: 5, stride: 2176, segmentSize: nil)
        #expect(layout.usableSlots == [0, 1, 2, 3, 4] && layout.slotCount == 5 && layout.regionLength == 5 * 2176)
    }

    @Test func aSlotAcrossASegmentBoundaryIsLeftUnused() {
        // 4 KiB segments, 2176-byte slots: slot 1 spans 2176..4351 and crosses 4096.
        let layout = MempoolLayout(capacity: 3, stride: 2176, segmentSize: 4096)
        #expect(layout.usableSlots == [0, 2, 4])
        #expect(layout.slotCount == 5)
        for slot in layout.usableSlots {
            let start = Int(slot) * layout.stride
            #expect(start / 4096 == (start + layout.stride - 1) / 4096)
        }
    }

    @Test func hugepageSegmentsLoseOneSlotInAbout964() {
        let layout = MempoolLayout(capacity: 8192, stride: 2176, segmentSize: DMAMemory.hugepageSize)
        #expect(layout.usableSlots.count == 8192)
        #expect(layout.slotCount - 8192 == 8)
        var lastSegment = -1
        for slot in layout.usableSlots {
            let start = Int(slot) * layout.stride, segment = start / DMAMemory.hugepageSize
            #expect(segment == (start + layout.stride - 1) / DMAMemory.hugepageSize)
            lastSegment = max(lastSegment, segment)
        }
        #expect(lastSegment == 8)
    }

    /// A pool laid out for 4 KiB segments, its region given a scattered physical address per
    /// page: every buffer's address is its page's base plus its offset in the page, and the
    /// buffer (headroom and data room) lies inside that page.
    @Test func aPoolGivesTheDeviceTheTranslatedAddressOfEveryBuffer() throws {
        let page = DMAMemory.smallPageSize
        let pool = try Mempool(name: "segmented", capacity: 6, dataRoom: 1024, headroom: 128, pages: .smallPages, segmentSize: page)
        let pages = pool.region.length / page
        let bases = (0..<pages).map { UInt64(0x7F00_0000 - $0 * 0x10_0000) }
        pool.region.recordMapping(.segmented(bases, segmentSize: page))
        pool.regionWasMapped()
        var seen = 0
        while let index = pool.ref.take() {
            let offset = pool.ref.data(index) - pool.region.address
            let start = offset - 128
            #expect(start / page == (start + 1152 - 1) / page, "buffer \(index) crosses a page")
            #expect(pool.ref.iova(index) == bases[offset / page] + UInt64(offset % page))
            #expect(pool.ref.iova(index) == pool.region.iova(at: offset))
            seen += 1
        }
        #expect(seen == 6 && pool.capacity == 6)
    }

    @Test func unusedSlotsAreNeverHandedOutAndTheCountsStayWhole() throws {
        let page = DMAMemory.smallPageSize
        let pool = try Mempool(name: "gaps", capacity: 4, pages: .smallPages, segmentSize: page)
        let taken = (0..<4).compactMap { _ in pool.ref.take() }
        #expect(taken == pool.layout.usableSlots && pool.ref.take() == nil)
        #expect(pool.inUse == 4 && pool.available == 0)
        for index in taken { pool.ref.give(index) }
        #expect(pool.available == 4 && pool.doubleFrees == 0)
    }
}
