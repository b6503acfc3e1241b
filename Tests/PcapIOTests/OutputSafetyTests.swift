import Foundation
import Testing
import TestSupport
@testable import PcapIO

/// An output never destroys an input of the same run, and two writers never share a file.
@Suite("output files: never onto an input, one writer at a time")
struct OutputSafetyTests {
    @Test("a file being read cannot be written (under its own name or a hard link), and is left intact")
    func outputOntoInputIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/in.pcap", link = dir + "/link.pcap"
        try FileManager.default.copyItem(atPath: samplePath("sizes.pcap"), toPath: path)
        #expect(Glibc.link(path, link) == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try PcapReader(path: path)
        for target in [path, link] {
            #expect(throws: PcapError.outputIsInput(path: target)) { _ = try PcapFileWriter(path: target) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        reader.close()
        // Once nothing reads it, it can be written.
        let writer = try PcapFileWriter(path: path)
        try writer.close()
    }

    @Test("a second writer on a file another writer holds is refused with the file's name")
    func secondWriterIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/out.pcap"
        let first = try PcapFileWriter(path: path)
        let frames = syntheticFrames([64, 128])
        write(frames, to: first)
        #expect(throws: PcapError.outputInUse(path: path)) { _ = try PcapFileWriter(path: path) }
        try first.close()
        #expect(try PcapReader(path: path).readAll().count == 2)  // the first writer's file is whole
        let second = try PcapFileWriter(path: path)
        try second.close()
    }

    @Test("devices are not locked or checked: /dev/null takes any number of writers")
    func devicesAreNotFiles() throws {
        let a = try PcapFileWriter(path: "/dev/null"), b = try PcapFileWriter(path: "/dev/null")
        try a.close()
        try b.close()
    }
}
