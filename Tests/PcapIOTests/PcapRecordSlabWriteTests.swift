import Foundation
import Testing
import TestSupport
@testable import PcapIO

/// Slabs of pcap file records (`RecordSlab.appendPcapRecord`), which a pcap file's writer
/// writes as they lie.
@Suite("Slabs of pcap file records")
struct PcapRecordSlabWriteTests {
    /// Frames of every length from 1 to 300 bytes, each with its own time.
    let frames: [(bytes: [UInt8], time: UInt64)] = (1...300).map { length in
        ((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }, 1_767_225_600_123_456_789 + UInt64(length) * 1_000_001)
    }

    /// Appends `frames` to `slab` as pcap records; every one fits.
    func fill(_ slab: inout RecordSlab, snapLength: Int, precision: TimestampPrecision) {
        slab.holdsPcapRecords = true
        for frame in frames {
            let appended = frame.bytes.withUnsafeBytes {
                slab.appendPcapRecord($0.baseAddress!, length: frame.bytes.count, snapLength: snapLength,
                                      wallNanoseconds: frame.time, nanosecond: precision == .nanosecond)
            }
            #expect(appended)
        }
    }

    @Test("the file is byte for byte the one the writer makes of the same frames, at either precision and any snap length",
          arguments: [TimestampPrecision.nanosecond, .microsecond], [262_144, 100])
    func sameFileAsRecordByRecord(precision: TimestampPrecision, snapLength: Int) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let byRecord = try RotatingPcapWriter(pattern: dir + "/by-record.pcap", snapLength: snapLength, precision: precision,
                                              wallNanoseconds: 0)
        for frame in frames {
            try frame.bytes.withUnsafeBytes { try byRecord.write($0.baseAddress!, length: frame.bytes.count, wallNanoseconds: frame.time) }
        }
        try byRecord.close()
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: 1 << 20)
        fill(&slab, snapLength: snapLength, precision: precision)
        let bySlab = try RotatingPcapWriter(pattern: dir + "/by-slab.pcap", snapLength: snapLength, precision: precision,
                                            wallNanoseconds: 0)
        bySlab.write(slab)
        #expect(bySlab.recordsWritten == frames.count && bySlab.recordsPending == 0)
        try bySlab.close()
        #expect(bySlab.current.sink.capturedBytes == Int64(frames.reduce(0) { $0 + min($1.bytes.count, snapLength) }))
        let expected = try Data(contentsOf: URL(fileURLWithPath: dir + "/by-record.pcap"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/by-slab.pcap")) == expected)
        try expectReadableByTools(dir + "/by-slab.pcap", frames: frames.count)
    }

    @Test("a file that takes no write: the slab's records are dropped, the next slab's lost, none written")
    func failedWrite() throws {
        let writer = try RotatingPcapWriter(pattern: "/dev/full", wallNanoseconds: 0)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { memory.deallocate() }
        var slab = RecordSlab(base: memory, capacity: 1 << 20)
        fill(&slab, snapLength: 262_144, precision: .nanosecond)
        writer.write(slab)
        #expect(writer.recordsWritten == 0 && writer.recordsDropped == frames.count)
        #expect(writer.failure == .writeFailed(path: "/dev/full", reason: "No space left on device"))
        writer.write(slab)
        #expect(writer.recordsLost == frames.count && writer.recordsDropped == frames.count)
        #expect(throws: PcapError.self) { try writer.close() }
    }
}
