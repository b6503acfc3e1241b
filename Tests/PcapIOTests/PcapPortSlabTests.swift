import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// A `pcap:` port's RX file received straight into record slabs (`PcapPort.receive(into:_:filter:)`).
@Suite("PcapPort: records straight into record slabs")
struct PcapPortSlabTests {
    /// One slab record: frame bytes, original length, time, frames filtered out before it.
    struct SlabRecord: Equatable {
        var bytes: [UInt8]
        var originalLength: Int
        var time: UInt64
        var filteredBefore: UInt64
    }

    /// The records of `slab`, all on interface 0 with nothing dropped before them.
    func records(of slab: RecordSlab) -> [SlabRecord] {
        var out: [SlabRecord] = []
        slab.forEach { data, captured, original, time, interface, filtered, dropped in
            #expect(interface == 0 && dropped == 0)
            out.append(SlabRecord(bytes: Array(UnsafeRawBufferPointer(start: data, count: captured)), originalLength: original,
                                  time: time, filteredBefore: filtered))
        }
        return out
    }

    /// A reading with no limit but `recordLimit` and `appendLimit`.
    func reading(records: Int = .max, appending: Int = .max, snapLength: Int) -> RecordSlabReading {
        RecordSlabReading(recordLimit: records, appendLimit: appending, snapLength: snapLength, largestFrame: 0,
                          filteredSinceRecord: 0, droppedSinceRecord: 0)
    }

    @Test("every record becomes its frame's slab record, cut to the snap length, slab after slab, in either byte order and precision",
          arguments: [false, true], [false, true])
    func recordsIntoSlabs(swapped: Bool, nanosecond: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        var file = ClassicPcapFile(swapped: swapped, nanosecond: nanosecond)
        file.records = [60, 1514, 14, 200, 9000, 61, 64, 1500, 128, 60].enumerated().map { seed, length in
            .frame(length, seed: seed, fraction: UInt32(seed * 999))
        }
        try file.write(to: dir + "/in.pcap")
        let port = try PcapPort(name: "in", rxPath: dir + "/in.pcap", txPath: nil)
        try port.start()
        #expect(port.receivesIntoRecordSlabs)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: 1024)
        var read = reading(records: 3, snapLength: 100)
        port.receive(into: &slab, &read, filter: nil)
        #expect(read.read == 3 && read.appended == 3 && !read.slabIsFull && slab.count == 3)
        var back = records(of: slab)
        // The rest, a slab of 1024 bytes at a time (room for 7 records of 100 bytes at most).
        read = reading(snapLength: 100)
        var slabs = 1
        repeat {
            slab.removeAll()
            port.receive(into: &slab, &read, filter: nil)
            back += records(of: slab)
            slabs += 1
        } while read.slabIsFull
        #expect(slabs == 3)
        #expect(read.read == 7 && read.appended == 7)
        #expect(port.condition == .inputExhausted)
        let expected = file.frames.map { frame in
            SlabRecord(bytes: Array(frame.bytes.prefix(100)), originalLength: frame.bytes.count, time: frame.timestampNanoseconds,
                       filteredBefore: 0)
        }
        #expect(back == expected)
        port.updateStats()
        #expect(port.stats.rxPackets == 10)
        #expect(port.stats.rxBytes == UInt64(file.records.reduce(0) { $0 + $1.bytes.count }))
        #expect(port.pool?.inUse == 0 && port.pool?.available == PcapPort.defaultPoolCapacity)
        port.close()
    }

    @Test("a filter: frames it does not match are read, counted and carried by the next record; the append limit counts appended frames")
    func filteredAndLimited() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        var file = ClassicPcapFile()
        file.records = [60, 60, 200, 60, 300, 60].enumerated().map { seed, length in .frame(length, seed: seed) }
        try file.write(to: dir + "/in.pcap")
        let port = try PcapPort(name: "in", rxPath: dir + "/in.pcap", txPath: nil)
        try port.start()
        let filter = try PacketFilter(expression: "greater 100")
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: 16384)
        var read = reading(appending: 1, snapLength: 262_144)
        port.receive(into: &slab, &read, filter: filter)
        #expect(read.read == 3 && read.appended == 1 && read.filteredOut == 2 && read.filteredSinceRecord == 0)
        read.appendLimit = .max
        port.receive(into: &slab, &read, filter: filter)
        #expect(read.read == 6 && read.appended == 2 && read.filteredOut == 4)
        // The last frame was filtered out after the last record: the next reading carries it.
        #expect(read.filteredSinceRecord == 1)
        #expect(records(of: slab).map { [$0.bytes.count, Int($0.filteredBefore)] } == [[200, 2], [300, 1]])
        #expect(port.condition == .inputExhausted)
        port.close()
    }

    @Test("a cut file: the whole records come, then the error fails the port (counted once)")
    func cutFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        var file = ClassicPcapFile(swapped: true)
        file.records = (0..<4).map { .frame(100, seed: $0) }
        try file.write(to: dir + "/cut.pcap", length: 24 + 3 * 116 + 50)
        let port = try PcapPort(name: "in", rxPath: dir + "/cut.pcap", txPath: nil)
        try port.start()
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: 16384)
        var read = reading(snapLength: 262_144)
        port.receive(into: &slab, &read, filter: nil)
        #expect(read.read == 3 && slab.count == 3)
        #expect(port.condition == .running)
        port.receive(into: &slab, &read, filter: nil)
        #expect(read.read == 3)
        guard case .malformedRecord(_, 4, _) = port.failure else {
            Issue.record("expected record 4 to be malformed, got \(String(describing: port.failure))")
            return
        }
        if case .failed = port.condition {} else { Issue.record("the port should have failed: \(port.condition)") }
        port.updateStats()
        #expect(port.stats.rxErrors == 1 && port.stats.rxPackets == 3)
        port.close()
    }
}
