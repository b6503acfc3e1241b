import PMDCore
import Testing

/// Mempool, Packet and PacketBatch: ownership moves, nothing is lost or returned twice.
struct MempoolTests {
    func makePool(_ capacity: Int = 256) throws -> Mempool {
        try Mempool(name: "test", capacity: capacity, pages: .smallPages)
    }

    @Test func takeAndReturnEveryBuffer() throws {
        let pool = try makePool(100)
        var indices: [UInt32] = []
        while let i = pool.ref.take() { indices.append(i) }
        #expect(indices.count == 100)
        #expect(Set(indices).count == 100)
        #expect(pool.available == 0 && pool.inUse == 100)
        for i in indices { pool.ref.give(i) }
        #expect(pool.available == 100 && pool.inUse == 0)
        #expect(pool.doubleFrees == 0)
    }

    @Test func buffersAreDisjointAndAligned() throws {
        let pool = try makePool(8)
        for i in 0..<UInt32(8) {
            let p = pool.ref.data(i)
            #expect(Int(bitPattern: p) % 64 == 0)
            #expect(pool.region.contains(p, length: pool.dataRoom))
            if i > 0 { #expect(p - pool.ref.data(i - 1) >= Mempool.defaultDataRoom + Mempool.defaultHeadroom) }
        }
    }

    @Test func iovaFollowsTheRegionMapping() throws {
        let pool = try makePool(4)
        pool.region.recordMapping(iova: 0x1_0000_0000)
        pool.regionWasMapped()
        let offset = pool.ref.data(3) - pool.region.address
        #expect(pool.ref.iova(3) == 0x1_0000_0000 + UInt64(offset))
    }

    @Test func exhaustionGivesAnEmptyResultNotACrash() throws {
        let pool = try makePool(3)
        var out = [UInt32](repeating: 0, count: 8)
        let got = out.withUnsafeMutableBufferPointer { pool.ref.take(into: $0.baseAddress!, count: 8) }
        #expect(got == 3)
        #expect(pool.ref.take() == nil)
        #expect(Bool(isNil(Packet(from: pool.ref))))
        let again = out.withUnsafeMutableBufferPointer { pool.ref.take(into: $0.baseAddress!, count: 8) }
        #expect(again == 0)
        for i in out.prefix(3) { pool.ref.give(i) }
        #expect(pool.available == 3)
    }

    @Test func doubleReturnIsCaughtAndIgnored() throws {
        let pool = try makePool(4)
        let i = pool.ref.take()!
        pool.ref.give(i)
        pool.ref.give(i)
        #if DEBUG
        #expect(pool.doubleFrees == 1)
        #expect(pool.available == 4)
        #endif
    }

    @Test func droppedPacketReturnsItsBuffer() throws {
        let pool = try makePool(4)
        do {
            let p = Packet(from: pool.ref)!
            p.length = 60
            #expect(pool.inUse == 1)
        }
        #expect(pool.inUse == 0)
    }

    @Test func batchDeinitReturnsWhatItStillHolds() throws {
        let pool = try makePool(64)
        do {
            var batch = PacketBatch(pool: pool.ref)
            for _ in 0..<10 { #expect(Bool(isNil(batch.append(Packet(from: pool.ref)!)))) }
            #expect(batch.count == 10 && pool.inUse == 10)
            #expect(Bool(!isNil(batch.popFirst())))
            #expect(pool.inUse == 9)
        }
        #expect(pool.inUse == 0)
    }

    @Test func batchHoldsAtMostItsCapacity() throws {
        let pool = try makePool(100)
        var batch = PacketBatch(pool: pool.ref)
        for _ in 0..<PacketBatch.capacity { #expect(Bool(isNil(batch.append(Packet(from: pool.ref)!)))) }
        #expect(Bool(!isNil(batch.append(Packet(from: pool.ref)!))))
        #expect(batch.count == PacketBatch.capacity)
        batch.removeAll()
        #expect(pool.inUse == 0)
    }

    @Test func packetsMovedBetweenBatchesKeepTheirBytes() throws {
        let pool = try makePool(32)
        var a = PacketBatch(pool: pool.ref)
        for n in 0..<5 {
            let p = Packet(from: pool.ref)!
            p.length = 64
            for k in 0..<64 { p.data.storeBytes(of: UInt8(truncatingIfNeeded: n * 64 + k), toByteOffset: k, as: UInt8.self) }
            #expect(Bool(isNil(a.append(p))))
        }
        var b = PacketBatch()
        while let p = a.popFirst() { #expect(Bool(isNil(b.append(p)))) }
        #expect(a.isEmpty && b.count == 5 && b.pool == pool.ref)
        for n in 0..<5 {
            let bytes = Array(b[n].bytes)
            #expect(bytes == (0..<64).map { UInt8(truncatingIfNeeded: n * 64 + $0) })
        }
    }

    @Test func transmitStyleRemovalLeavesTheRest() throws {
        let pool = try makePool(16)
        var batch = PacketBatch(pool: pool.ref)
        for _ in 0..<8 { #expect(Bool(isNil(batch.append(Packet(from: pool.ref)!)))) }
        let firstThree = (0..<3).map { batch.index(at: $0) }
        batch.removeFirstOwned(3)          // a ring took them
        #expect(batch.count == 5)
        for i in firstThree { pool.ref.give(i) }  // the ring completed them
        batch.compact()
        #expect(batch.freeCapacity == PacketBatch.capacity - 5)
        batch.removeAll()
        #expect(pool.inUse == 0)
    }

    @Test func batchRefusesPacketsOfAnotherPoolWhileNotEmpty() throws {
        let p1 = try makePool(4), p2 = try makePool(4)
        var batch = PacketBatch(pool: p1.ref)
        #expect(Bool(isNil(batch.append(Packet(from: p1.ref)!))))
        #expect(Bool(!isNil(batch.append(Packet(from: p2.ref)!))))
        batch.removeAll()
        #expect(Bool(isNil(batch.append(Packet(from: p2.ref)!))))
        #expect(batch.pool == p2.ref)
        batch.removeAll()
        #expect(p1.inUse == 0 && p2.inUse == 0)
    }
}

/// True when `leftover` is nil; a packet handed back is dropped, which returns it to its pool.
func isNil(_ leftover: consuming Packet?) -> Bool {
    guard let packet = leftover else { return true }
    _ = consume packet
    return false
}

/// A batch's burst size bounds what it takes in.
struct BatchBurstTests {
    @Test func freeCapacityFollowsTheBurstSize() throws {
        let pool = try Mempool(name: "burst", capacity: 64, pages: .smallPages)
        var batch = PacketBatch(pool: pool.ref, burst: 8)
        #expect(batch.freeCapacity == 8)
        for _ in 0..<8 { #expect(Bool(isNil(batch.append(Packet(from: pool.ref)!)))) }
        #expect(batch.freeCapacity == 0)
        #expect(Bool(!isNil(batch.append(Packet(from: pool.ref)!))))
        batch.removeAll()
        #expect(pool.inUse == 0)
    }
}
