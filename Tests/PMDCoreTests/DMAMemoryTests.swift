import Foundation
import PMDCore
import Testing

/// DMA memory: alignment, locking, the 4 KiB fallback and the hugepage error.
struct DMAMemoryTests {
    /// Free 2 MiB hugepages on this machine, from /proc/meminfo.
    static func freeHugepages() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("HugePages_Free:") {
            return Int(line.split(separator: " ").last ?? "0") ?? 0
        }
        return 0
    }

    @Test func smallPagesArePageAlignedAndRoundedUp() throws {
        let m = try DMAMemory(length: 5000, pages: .smallPages)
        #expect(Int(bitPattern: m.address) % DMAMemory.smallPageSize == 0)
        #expect(m.length == 8192 || m.length == 2 * DMAMemory.smallPageSize)
        #expect(!m.usesHugepages)
        m.address.storeBytes(of: 0xAB, toByteOffset: m.length - 1, as: UInt8.self)
        #expect(m.address.load(fromByteOffset: m.length - 1, as: UInt8.self) == 0xAB)
    }

    @Test func preferringHugepagesFallsBackToSmallPagesWhenThereAreNone() throws {
        let m = try DMAMemory(length: 3 << 20, pages: .preferHugepages)
        if Self.freeHugepages() >= 2 {
            #expect(m.usesHugepages && Int(bitPattern: m.address) % DMAMemory.hugepageSize == 0)
        } else {
            #expect(!m.usesHugepages && m.pageSize == DMAMemory.smallPageSize)
        }
        #expect(m.length >= 3 << 20)
    }

    /// How many of the region's pages are in memory (mincore(2)).
    static func residentPages(_ m: DMAMemory) -> Int {
        let pages = m.length / m.pageSize
        var vector = [UInt8](repeating: 0, count: m.length / DMAMemory.smallPageSize)
        guard mincore(m.address, m.length, &vector) == 0 else { return -1 }
        return m.usesHugepages ? pages : vector.filter { $0 & 1 != 0 }.count
    }

    @Test func lazySmallPagesAreTouchedOnlyWhereUsedWhileLockedOnesAreAllThere() throws {
        let lazy = try DMAMemory(length: 1 << 20, pages: .preferHugepagesElseLazySmallPages)
        if Self.freeHugepages() >= 1 {
            #expect(lazy.usesHugepages)
            return
        }
        #expect(!lazy.usesHugepages && lazy.length == 1 << 20)
        #expect(Self.residentPages(lazy) == 0)
        lazy.address.storeBytes(of: 0xAB, toByteOffset: 3 * DMAMemory.smallPageSize + 5, as: UInt8.self)
        #expect(Self.residentPages(lazy) == 1)
        let locked = try DMAMemory(length: 1 << 20, pages: .smallPages)
        #expect(Self.residentPages(locked) == (1 << 20) / DMAMemory.smallPageSize)
    }

    @Test func requiringHugepagesSaysHowToReserveThem() throws {
        if Self.freeHugepages() >= 1 {
            let m = try DMAMemory(length: 1 << 20, pages: .requireHugepages)
            #expect(m.usesHugepages && m.length == DMAMemory.hugepageSize)
        } else {
            #expect {
                _ = try DMAMemory(length: 1 << 20, pages: .requireHugepages)
            } throws: { error in
                "\(error)".contains("/proc/sys/vm/nr_hugepages")
            }
        }
    }

    @Test func regionRecordsItsIOVA() throws {
        let m = try DMAMemory(length: 4096, pages: .smallPages)
        #expect(m.iova == nil && m.iova(at: 16) == nil)
        m.recordMapping(iova: 0x4000_0000)
        #expect(m.iova(at: 16) == 0x4000_0010)
        m.clearMapping()
        #expect(m.iova == nil)
    }

    @Test func lockErrorNamesTheLimitAndTheRemedy() {
        let e = DMAMemoryError.cannotLock(bytes: 1 << 20, reason: .resourceTemporarilyUnavailable)
        #expect("\(e)".contains("ulimit -l"))
    }
}
