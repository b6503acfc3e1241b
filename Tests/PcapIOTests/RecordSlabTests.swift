import Foundation
import Testing
import TestSupport
@testable import PcapIO

/// The slabs that carry a capture's records from its receive thread to its writer.
@Suite("RecordSlab")
struct RecordSlabTests {
    /// Calls `body` with an empty slab of `capacity` bytes.
    func withSlab<R>(capacity: Int, _ body: (inout RecordSlab) throws -> R) rethrows -> R {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: capacity)
        return try body(&slab)
    }

    /// The records of `slab` as (bytes, original length, time, interface, filtered, dropped).
    func records(of slab: RecordSlab) -> [([UInt8], Int, UInt64, UInt32, UInt64, UInt64)] {
        var out: [([UInt8], Int, UInt64, UInt32, UInt64, UInt64)] = []
        slab.forEach { data, captured, original, time, interface, filtered, dropped in
            out.append((Array(UnsafeRawBufferPointer(start: data, count: captured)), original, time, interface, filtered, dropped))
        }
        return out
    }

    @Test("a frame whose tag was stripped comes back with it after its addresses, cut at every snap length")
    func restoredTagAtEverySnapLength() throws {
        let frame = (0..<70).map { UInt8($0) }
        let tag = RestoredVLANTag(tci: 0x2064)
        let onWire = Array(frame[0..<12]) + [0x81, 0x00, 0x20, 0x64] + Array(frame[12...])
        for snap in 1...80 {
            try withSlab(capacity: 4096) { slab in
                let appended = frame.withUnsafeBytes {
                    slab.append($0.baseAddress!, length: frame.count, restoring: tag, snapLength: snap, wallNanoseconds: 5,
                                interface: 1, filteredBefore: 2, droppedBefore: 3)
                }
                #expect(appended)
                let back = try #require(records(of: slab).first)
                #expect(back.0 == Array(onWire.prefix(snap)), "snap \(snap)")
                #expect(back.1 == 74 && back.2 == 5 && back.3 == 1 && back.4 == 2 && back.5 == 3)
            }
        }
    }

    @Test("records go in back to back until one does not fit; then nothing is appended")
    func full() {
        let frame = [UInt8](repeating: 0xAB, count: 64)
        withSlab(capacity: 3 * 104 + 50) { slab in
            var appended = 0
            while frame.withUnsafeBytes({ slab.append($0.baseAddress!, length: 64, restoring: nil, snapLength: 262_144,
                                                      wallNanoseconds: UInt64(appended), interface: 0, filteredBefore: 0,
                                                      droppedBefore: 0) }) {
                appended += 1
            }
            #expect(appended == 3 && slab.count == 3 && slab.bytes == 3 * 104)
            #expect(records(of: slab).map(\.2) == [0, 1, 2] && records(of: slab).allSatisfy { $0.0 == frame })
        }
    }

    @Test("a slab written as pcapng: each record on its interface, each interface's statistics counting the frames filtered out and dropped before its records")
    func writtenAsPcapng() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/slab.pcapng"
        let description = PcapngDescription(application: "test", interfaces: [PcapngInterface(name: "a"), PcapngInterface(name: "b", description: "second")])
        let writer = try RotatingPcapWriter(pattern: path, pcapng: description, wallNanoseconds: 1)
        let frame = [UInt8](repeating: 7, count: 60)
        try withSlab(capacity: 4096) { slab in
            for (interface, filtered, dropped) in [(UInt32(0), UInt64(0), UInt64(0)), (1, 4, 0), (0, 1, 2), (1, 0, 0)] {
                let appended = frame.withUnsafeBytes {
                    slab.append($0.baseAddress!, length: 60, restoring: nil, snapLength: 262_144, wallNanoseconds: 10,
                                interface: interface, filteredBefore: filtered, droppedBefore: dropped)
                }
                #expect(appended)
            }
            writer.write(slab)
            try writer.close()
        }
        #expect(writer.failure == nil && writer.recordsWritten == 4 && writer.recordsLost == 0)
        let file = try PcapngTestReader(path: path)
        #expect(file.interfaces.map { $0.text(2) } == ["a", "b"] && file.interfaces[1].text(3) == "second")
        #expect(file.packets.map(\.interface) == [0, 1, 0, 1])
        #expect(file.statistics.count == 2)
        let a = file.statistics[0], b = file.statistics[1]
        #expect(PcapngTestReader.load32(a.body, 0) == 0 && PcapngTestReader.load32(b.body, 0) == 1)
        // a: 2 records, 1 filtered out, 2 dropped before them; b: 2 records, 4 filtered out.
        #expect(a.counter(4) == 5 && a.counter(6) == 4 && a.counter(7) == 2)
        #expect(b.counter(4) == 6 && b.counter(6) == 2 && b.counter(7) == 0)
        try expectReadableByTools(path, frames: 4)
    }
}
