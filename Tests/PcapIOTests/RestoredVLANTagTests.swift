import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// A frame with its tag removed, and the same frame as it was on the wire.
private func strippedAndWire(length: Int, tci: UInt16) -> (stripped: [UInt8], wire: [UInt8]) {
    let stripped = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let wire = Array(stripped[0..<12]) + [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xFF)] + Array(stripped[12...])
    return (stripped, wire)
}

@Suite("A stripped VLAN tag written and matched as it was on the wire")
struct RestoredVLANTagTests {
    @Test("records with a restored tag read back as the wire frame, with both precisions and every snap length",
          arguments: [TimestampPrecision.nanosecond, .microsecond])
    func recordsReadBackAsTheWireFrame(precision: TimestampPrecision) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let time: UInt64 = 1_767_225_600_123_456_789
        let kept = precision == .nanosecond ? time : time / 1000 * 1000
        for snap in [1, 11, 12, 13, 15, 16, 17, 60, 64, 65, 9000, 262_144] {
            let path = dir + "/tagged-\(snap).pcap"
            let writer = try PcapFileWriter(path: path, snapLength: snap, precision: precision)
            let frames = [60, 56, 8996, 12].map { strippedAndWire(length: $0, tci: 0xE064) }
            for frame in frames {
                frame.stripped.withUnsafeBytes {
                    writer.sink.write($0.baseAddress!, length: $0.count, restoring: RestoredVLANTag(tci: 0xE064), wallNanoseconds: time)
                }
            }
            // Untagged records between them stay as they are.
            frames[0].stripped.withUnsafeBytes { writer.write($0.baseAddress!, length: $0.count, wallNanoseconds: time) }
            let size = writer.size
            try writer.close()
            let back = try PcapReader(path: path).readAll()
            let expected = frames.map(\.wire) + [frames[0].stripped]
            #expect(back.map(\.bytes) == expected.map { Array($0.prefix(snap)) }, "snap \(snap)")
            #expect(back.map(\.originalLength) == expected.map(\.count), "snap \(snap)")
            #expect(back.allSatisfy { $0.timestampNanoseconds == kept })
            let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            #expect(fileSize == Int(size), "the running size counts what was written")
            if snap == 262_144 { try expectReadableByTools(path, frames: expected.count) }
        }
    }

    @Test("a frame too short for its addresses is written as it is")
    func shortFrameIsWrittenAsItIs() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/short.pcap"
        let writer = try PcapFileWriter(path: path)
        let short: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        short.withUnsafeBytes { writer.sink.write($0.baseAddress!, length: $0.count, restoring: RestoredVLANTag(tci: 5), wallNanoseconds: 1) }
        try writer.close()
        #expect(try PcapReader(path: path).readAll().map(\.bytes) == [short])
    }

    @Test("a filter matches a stripped frame as it was on the wire, reading only the frame's bytes")
    func filterMatchesTheWireFrame() throws {
        let frame = strippedAndWire(length: 60, tci: 0x2064)
        // The stripped frame sits at the very end of an allocation: a read past it would be caught.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        defer { buffer.deallocate() }
        let start = buffer + 4096 - frame.stripped.count
        frame.stripped.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let tag = RestoredVLANTag(tci: 0x2064)
        let cases: [(String, Bool)] = [
            ("vlan 100", true), ("vlan 101", false), ("vlan", true), ("not vlan", false),
            ("len = 64", true), ("vlan and ether[63] = \(frame.wire[63])", true), ("ether[15] = 0x64", true),
        ]
        for (expression, expected) in cases {
            let filter = try PacketFilter(expression: expression)
            #expect(filter.matches(UnsafeRawPointer(start), length: frame.stripped.count, restoring: tag) == expected, "\(expression)")
            #expect(filter.matches(frame.wire) == expected, "\(expression) on the wire frame")
        }
        // The same filter without the tag sees the stripped frame.
        #expect(try PacketFilter(expression: "vlan").matches(UnsafeRawPointer(start), length: frame.stripped.count) == false)
    }

    @Test("a frame longer than the filter's buffer is matched as a cut frame, never read beyond")
    func longFrameIsCut() throws {
        let length = PacketFilter.restoredFrameCapacity + 100
        let frame = strippedAndWire(length: length, tci: 7)
        let filter = try PacketFilter(expression: "vlan 7 and len = \(length + 4)")
        let beyond = try PacketFilter(expression: "ether[\(PacketFilter.restoredFrameCapacity + 10)] = 0")
        frame.stripped.withUnsafeBytes {
            #expect(filter.matches($0.baseAddress!, length: length, restoring: RestoredVLANTag(tci: 7)))
            #expect(!beyond.matches($0.baseAddress!, length: length, restoring: RestoredVLANTag(tci: 7)))
        }
    }
}
