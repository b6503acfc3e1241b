import Testing
import VFIO

/// IOVAs stay inside the reported ranges, below 39 bits first, aligned, never overlapping.
struct IOVAAllocatorTests {
    static let qemuRanges: [ClosedRange<UInt64>] = [0...0xFEDF_FFFF, 0xFEF0_0000...0xFFFF_FFFF_FFFF]

    @Test func allocationsAreAlignedAboveTheFirstMegabyteAndDoNotOverlap() {
        var allocator = IOVAAllocator(ranges: Self.qemuRanges)
        let a = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        let b = allocator.allocate(length: 4096, alignment: 4096) ?? 0
        let c = allocator.allocate(length: 6 << 20, alignment: 2 << 20) ?? 0
        // First fit from the bottom: the small request fills the gap below the first region.
        #expect(a == 0x20_0000)
        #expect(b == 0x10_0000)
        #expect(c == 0x40_0000)
        #expect(allocator.allocated == [b..<(b + 4096), a..<(a + (2 << 20)), c..<(c + (6 << 20))])
    }

    @Test func theHoleBetweenRangesIsSkipped() {
        var allocator = IOVAAllocator(ranges: Self.qemuRanges)
        let gib: UInt64 = 1 << 30
        let first = allocator.allocate(length: gib, alignment: gib) ?? 0
        let second = allocator.allocate(length: gib, alignment: gib) ?? 0
        let third = allocator.allocate(length: gib, alignment: gib) ?? 0
        let fourth = allocator.allocate(length: gib, alignment: gib) ?? 0
        #expect([first, second, third, fourth] == [1 * gib, 2 * gib, 4 * gib, 5 * gib])
        // 3 GiB..4 GiB would cross 0xFEE00000-0xFEEFFFFF, which the IOMMU reserves for MSIs.
    }

    @Test func addressesBelow39BitsComeFirstAndHigherOnlyWhenLowIsFull() {
        let low: ClosedRange<UInt64> = 0...0x3F_FFFF
        let high: ClosedRange<UInt64> = (1 << 39)...((1 << 40) - 1)
        var allocator = IOVAAllocator(ranges: [high, low])
        let a = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        let b = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        #expect(a == 0x20_0000)
        #expect(b == 1 << 39)
        var wide = IOVAAllocator(ranges: [0...((1 << 48) - 1)])
        for _ in 0..<64 {
            let iova = wide.allocate(length: 1 << 30, alignment: 1 << 30) ?? UInt64.max
            #expect(iova < (1 << 39) - (1 << 30) + 1)
        }
    }

    @Test func freedSpaceIsReusedAndExhaustionIsNil() {
        var allocator = IOVAAllocator(ranges: [0...0x7F_FFFF])
        let a = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        let b = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        let c = allocator.allocate(length: 2 << 20, alignment: 2 << 20) ?? 0
        #expect([a, b, c] == [0x20_0000, 0x40_0000, 0x60_0000])
        let full = allocator.allocate(length: 2 << 20, alignment: 2 << 20)
        #expect(full == nil)
        allocator.free(b)
        let reused = allocator.allocate(length: 2 << 20, alignment: 2 << 20)
        let noMore = allocator.allocate(length: 2 << 20, alignment: 2 << 20)
        let small = allocator.allocate(length: 4096, alignment: 4096)
        #expect(reused == 0x40_0000)
        #expect(noMore == nil)
        #expect(small == 0x10_0000)
    }
}
