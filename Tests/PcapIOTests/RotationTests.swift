import Foundation
import Testing
import TestSupport
@testable import PcapIO

@Suite("Rotation as tcpdump -C and -G do it")
struct RotationTests {
    func writeAll(_ frames: [PcapFrame], to writer: RotatingPcapWriter, secondsPerBurst: UInt64 = 0) throws {
        for frame in frames {
            try writer.beginBurst(wallNanoseconds: frame.timestampNanoseconds)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.bytes.count, alignment: 8)
            defer { raw.deallocate() }
            raw.copyBytes(from: frame.bytes)
            try writer.write(raw.baseAddress!, length: raw.count, wallNanoseconds: frame.timestampNanoseconds)
        }
        try writer.close()
    }

    @Test("-C: file, file1, file2, each at most one record over the limit, all frames in order")
    func bySize() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let frames = syntheticFrames(Array(repeating: 1000, count: 2500))
        let writer = try RotatingPcapWriter(pattern: dir + "/cap.pcap", rotation: RotationPolicy(maxFileBytes: 1_000_000),
                                            wallNanoseconds: frames[0].timestampNanoseconds)
        try writeAll(frames, to: writer)
        #expect(writer.files == [dir + "/cap.pcap", dir + "/cap.pcap1", dir + "/cap.pcap2"])
        var back: [PcapFrame] = []
        for file in writer.files {
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
            #expect(size <= 1_000_000 + 16 + 1000)
            back += try PcapReader(path: file).readAll()
            try expectReadableByTools(file, frames: try PcapReader(path: file).readAll().count)
        }
        #expect(back == frames)
    }

    @Test("-G: a new file per interval, named by the strftime pattern at its start")
    func byTime() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let t0: UInt64 = 1_767_225_600_000_000_000
        // Frames 0.5 s apart: with -G 2 a new file at t0+2 s and t0+4 s.
        let frames = syntheticFrames(Array(repeating: 100, count: 10), firstNanoseconds: t0).enumerated().map { i, f in
            PcapFrame(bytes: f.bytes, timestampNanoseconds: t0 + UInt64(i) * 500_000_000)
        }
        let writer = try RotatingPcapWriter(pattern: dir + "/cap-%s.pcap", rotation: RotationPolicy(secondsPerFile: 2),
                                            wallNanoseconds: t0)
        try writeAll(frames, to: writer)
        #expect(writer.files == [dir + "/cap-1767225600.pcap", dir + "/cap-1767225602.pcap", dir + "/cap-1767225604.pcap"])
        let counts = try writer.files.map { try PcapReader(path: $0).readAll().count }
        #expect(counts == [4, 4, 2])
        #expect(try writer.files.flatMap { try PcapReader(path: $0).readAll() } == frames)
    }

    @Test("-G with -C: size rotations within an interval append 1, 2...; a new interval starts over")
    func bySizeAndTime() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let t0: UInt64 = 1_767_225_600_000_000_000
        let frames = (0..<6).map { i in
            PcapFrame(bytes: [UInt8](repeating: UInt8(i), count: 600), timestampNanoseconds: t0 + UInt64(i) * 400_000_000)
        }
        // Limit 1000 bytes: each file holds at most two 616-byte records after its 24-byte header.
        let writer = try RotatingPcapWriter(pattern: dir + "/c-%s.pcap",
                                            rotation: RotationPolicy(maxFileBytes: 1000, secondsPerFile: 2),
                                            wallNanoseconds: t0)
        try writeAll(frames, to: writer)
        #expect(writer.files == [dir + "/c-1767225600.pcap", dir + "/c-1767225600.pcap1", dir + "/c-1767225600.pcap2",
                                 dir + "/c-1767225602.pcap"])
        #expect(try writer.files.flatMap { try PcapReader(path: $0).readAll() } == frames)
    }

    @Test("-G without a time pattern is refused before anything is written")
    func timeNeedsPattern() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        #expect(throws: PcapError.self) {
            _ = try RotatingPcapWriter(pattern: dir + "/plain.pcap", rotation: RotationPolicy(secondsPerFile: 5), wallNanoseconds: 0)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/plain.pcap"))
    }

    @Test("tcpdump's names: index 0 is the name itself, then the index appended")
    func names() {
        #expect(RotatingPcapWriter.fileName(pattern: "x.pcap", expandTime: false, seconds: 0, index: 0) == "x.pcap")
        #expect(RotatingPcapWriter.fileName(pattern: "x.pcap", expandTime: false, seconds: 0, index: 12) == "x.pcap12")
        #expect(RotatingPcapWriter.fileName(pattern: "%s.pcap", expandTime: true, seconds: 42, index: 3) == "42.pcap3")
    }
}
