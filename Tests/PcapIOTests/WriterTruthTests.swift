import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// The writer's own format is the one the tools and the old libpcap writer made, and its
/// counters say what reached the file, also when a write fails.
@Suite("PcapFileWriter: the bytes of the file and counters that tell the truth")
struct WriterTruthTests {
    @Test("every sample capture read and written again is byte-identical to it",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func rewrittenIdentical(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let original = try Data(contentsOf: URL(fileURLWithPath: samplePath(name)))
        // The precision of the sample: its magic, as the file's first four bytes.
        let precision: TimestampPrecision = Array(original.prefix(4)) == [0x4d, 0x3c, 0xb2, 0xa1] ? .nanosecond : .microsecond
        let frames = try PcapReader(path: samplePath(name)).readAll()
        let path = dir + "/" + name
        let writer = try PcapFileWriter(path: path, precision: precision)
        write(frames, to: writer)
        try writer.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        #expect(writer.recordsWritten == frames.count && writer.recordsPending == 0 && writer.recordsDropped == 0)
    }

    @Test("a buffer smaller than the records written is written many times; every record arrives in order")
    func manyBufferWrites() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/small-buffer.pcap"
        let frames = syntheticFrames((0..<3000).map { [60, 1514, 9000, 1][$0 % 4] })
        // The buffer is one page more than a whole record of the snap length: 12 KiB.
        let writer = try PcapFileWriter(path: path, snapLength: 9100, bufferBytes: 1)
        write(frames, to: writer)
        #expect(writer.recordsWritten > 0 && writer.recordsPending > 0)
        #expect(writer.recordsWritten + writer.recordsPending == frames.count)
        try writer.close()
        #expect(writer.recordsWritten == frames.count && writer.recordsPending == 0)
        #expect(try PcapReader(path: path).readAll() == frames)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size.map(Int64.init) == writer.size)
    }

    @Test("/dev/full takes nothing: no record is written, every one is dropped, the error names the file")
    func deviceFull() throws {
        let writer = try PcapFileWriter(path: "/dev/full")
        let frames = syntheticFrames(Array(repeating: 60, count: 100))
        write(frames, to: writer)
        #expect(writer.recordsPending == 100 && !writer.hasFailed)
        let failure = PcapError.writeFailed(path: "/dev/full", reason: "No space left on device")
        #expect(throws: failure) { try writer.flush() }
        #expect(writer.recordsWritten == 0 && writer.recordsDropped == 100 && writer.recordsPending == 0)
        // Later records are dropped too, and closing reports the failure again.
        write(frames, to: writer)
        #expect(writer.recordsDropped == 200 && writer.recordsPending == 0)
        #expect(throws: failure) { try writer.close() }
        #expect(failure.description == "writing /dev/full: No space left on device")
    }

    @Test("records cut short at any byte: only the whole ones before the cut count")
    func wholeRecordsBeforeACut() throws {
        let sizes = [60, 1, 1514, 0, 64]
        var bytes: [UInt8] = []
        var ends: [Int] = []
        for size in sizes {
            var header = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt32(size)) { header.replaceSubrange(8..<12, with: $0) }
            withUnsafeBytes(of: UInt32(size)) { header.replaceSubrange(12..<16, with: $0) }
            bytes += header + [UInt8](repeating: 0xEE, count: size)
            ends.append(bytes.count)
        }
        for cut in 0...bytes.count {
            let whole = bytes.withUnsafeBytes { PcapFileFormat.wholeRecords(in: $0.baseAddress!, length: cut) }
            let expected = ends.filter { $0 <= cut }
            #expect(whole.count == expected.count && whole.bytes == (expected.last ?? 0), "cut at \(cut)")
        }
    }

    @Test("-C counts the records of every file it wrote")
    func rotationCounters() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let frames = syntheticFrames(Array(repeating: 1000, count: 2500))
        let writer = try RotatingPcapWriter(pattern: dir + "/cap.pcap", rotation: RotationPolicy(maxFileBytes: 1_000_000),
                                            wallNanoseconds: frames[0].timestampNanoseconds)
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 8)
        defer { raw.deallocate() }
        for frame in frames {
            raw.copyBytes(from: frame.bytes)
            try writer.write(raw.baseAddress!, length: frame.bytes.count, wallNanoseconds: frame.timestampNanoseconds)
        }
        try writer.close()
        #expect(writer.files.count == 3)
        let inFiles = try writer.files.reduce(0) { $0 + (try PcapReader(path: $1).readAll().count) }
        #expect(writer.recordsWritten == frames.count && inFiles == frames.count && writer.recordsDropped == 0)
    }
}
