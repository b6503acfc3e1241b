import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// Frames of every size class with distinct bytes.
func syntheticFrames(_ sizes: [Int], firstNanoseconds: UInt64 = 1_767_225_600_123_456_789) -> [PcapFrame] {
    sizes.enumerated().map { i, size in
        PcapFrame(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) },
                  timestampNanoseconds: firstNanoseconds + UInt64(i) * 1_000_000_321)
    }
}

func write(_ frames: [PcapFrame], to writer: PcapFileWriter) {
    for frame in frames {
        frame.bytes.withUnsafeBytes { writer.write($0.baseAddress!, length: $0.count, wallNanoseconds: frame.timestampNanoseconds) }
    }
}

@Suite("PcapFileWriter and PcapReader")
struct PcapWriterTests {
    let sizes = [60, 64, 65, 128, 1514, 9000, 42, 1]

    @Test("nanosecond file reads back byte-exact with its timestamps, and the tools read it")
    func nanosecondRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/ns.pcap"
        let frames = syntheticFrames(sizes)
        let writer = try PcapFileWriter(path: path)
        write(frames, to: writer)
        try writer.close()
        let back = try PcapReader(path: path).readAll()
        #expect(back == frames)
        try expectReadableByTools(path, frames: frames.count)
        // The nanosecond magic, as the file header's first four bytes (little endian).
        let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)
        #expect(Array(header) == [0x4d, 0x3c, 0xb2, 0xa1])
    }

    @Test("microsecond file keeps the microseconds of each timestamp")
    func microsecondRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/us.pcap"
        let frames = syntheticFrames(sizes)
        let writer = try PcapFileWriter(path: path, precision: .microsecond)
        write(frames, to: writer)
        try writer.close()
        let back = try PcapReader(path: path).readAll()
        #expect(back.map(\.bytes) == frames.map(\.bytes))
        #expect(back.map(\.timestampNanoseconds) == frames.map { $0.timestampNanoseconds / 1000 * 1000 })
        try expectReadableByTools(path, frames: frames.count)
        let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)
        #expect(Array(header) == [0xd4, 0xc3, 0xb2, 0xa1])
    }

    @Test("the snap length cuts frames and keeps their wire length")
    func snapLength() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/snap.pcap"
        let frames = syntheticFrames([60, 100, 1514])
        let writer = try PcapFileWriter(path: path, snapLength: 96)
        write(frames, to: writer)
        try writer.close()
        let back = try PcapReader(path: path).readAll()
        #expect(back.map(\.bytes) == frames.map { Array($0.bytes.prefix(96)) })
        #expect(back.map(\.originalLength) == [60, 100, 1514])
        try expectReadableByTools(path, frames: 3)
    }

    @Test("files are created with the process umask")
    func umaskRespected() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/mode.pcap"
        let old = umask(0o027)
        defer { umask(old) }
        let writer = try PcapFileWriter(path: path)
        try writer.close()
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    @Test("a file that cannot be created is a clear error")
    func cannotCreate() throws {
        #expect(throws: PcapError.cannotCreate(path: "/nonexistent-dir/x.pcap", reason: "No such file or directory")) {
            _ = try PcapFileWriter(path: "/nonexistent-dir/x.pcap")
        }
    }

    @Test("TSC timestamps become wall clock: one reading per burst, age subtracted")
    func tscToWallClock() {
        var stamper = WallClockStamper()
        stamper.refresh(wallNanoseconds: 2_000_000_000_000)
        var meta = PacketMetadata()
        let ticksPerMillisecond = UInt64(TSC.frequency / 1000)
        meta.timestamp = stamper.tscNow - ticksPerMillisecond
        let stamped = withUnsafePointer(to: meta) { stamper.wallNanoseconds(of: $0) }
        #expect(stamped > 2_000_000_000_000 - 1_001_000 && stamped < 2_000_000_000_000 - 999_000)
        meta.flags = .wallClockTimestamp
        meta.timestamp = 1234
        #expect(withUnsafePointer(to: meta) { stamper.wallNanoseconds(of: $0) } == 1234)
        meta = PacketMetadata()
        #expect(withUnsafePointer(to: meta) { stamper.wallNanoseconds(of: $0) } == 2_000_000_000_000)
    }
}
