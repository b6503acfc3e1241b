import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// The pcapng files of `PcapFileWriter`, read back with a reader of the tests' own.
@Suite("PcapFileWriter: pcapng blocks and counters")
struct PcapngWriterTests {
    let sizes = [60, 64, 65, 128, 1514, 9000, 42, 1, 2, 3, 0]
    let description = PcapngDescription(application: "vfpmd 9.9.9", interfaceName: "pcap:rx=in.pcap",
                                        interfaceDescription: "capture files (pcap port)", filter: "udp port 53")

    @Test("a section header, the interface, one enhanced packet block per frame (padded, inbound), the statistics at close",
          arguments: [TimestampPrecision.nanosecond, .microsecond])
    func blocks(precision: TimestampPrecision) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/out.pcapng"
        let frames = syntheticFrames(sizes)
        let writer = try PcapFileWriter(path: path, snapLength: 1600, precision: precision, pcapng: description)
        #expect(writer.format == .pcapng)
        write(frames, to: writer)
        var statistics = InterfaceStatistics()
        (statistics.startNanoseconds, statistics.endNanoseconds) = (1_767_225_600_000_000_001, 1_767_225_700_000_000_002)
        (statistics.received, statistics.droppedByRing, statistics.acceptedByFilter, statistics.droppedByWriter) = (20, 3, 11, 0)
        try writer.close(statistics: [statistics])
        #expect(writer.recordsWritten == frames.count && writer.recordsDropped == 0)
        let file = try PcapngTestReader(path: path)
        #expect(file.trailingBytes == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == Int(writer.size))
        #expect(file.blocks.map(\.type) == [0x0A0D_0D0A, 1] + Array(repeating: 6, count: frames.count) + [5])

        let section = file.blocks[0]
        #expect(Array(section.body[0..<8]) == [0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0])
        #expect(Array(section.body[8..<16]) == Array(repeating: 0xFF, count: 8))
        #expect(section.text(4) == "vfpmd 9.9.9")
        #expect(section.text(2) == description.hardware && !description.hardware.isEmpty)
        #expect(section.text(3) == description.operatingSystem && description.operatingSystem.hasPrefix("Linux "))

        let interface = file.blocks[1]
        #expect(Array(interface.body[0..<8]) == [1, 0, 0, 0, 0x40, 0x06, 0, 0])
        #expect(interface.text(2) == "pcap:rx=in.pcap")
        #expect(interface.text(3) == "capture files (pcap port)")
        #expect(interface.options.first { $0.code == 9 }?.value == [precision == .nanosecond ? 9 : 6])
        #expect(interface.options.first { $0.code == 11 }?.value == [0] + Array("udp port 53".utf8))

        let units: (UInt64) -> UInt64 = { precision == .nanosecond ? $0 : $0 / 1000 }
        let expected = frames.map {
            PcapngTestReader.Packet(interface: 0, units: units($0.timestampNanoseconds), bytes: Array($0.bytes.prefix(1600)),
                                    originalLength: $0.bytes.count, flags: 1)
        }
        #expect(file.packets == expected)

        let isb = try #require(file.statistics.first)
        #expect(isb.counter(4) == 20 && isb.counter(5) == 3 && isb.counter(6) == 11 && isb.counter(7) == 0)
        let start = try #require(isb.options.first { $0.code == 2 }?.value)
        #expect(PcapngTestReader.Packet.units(start) == units(statistics.startNanoseconds))
        let end = try #require(isb.options.first { $0.code == 3 }?.value)
        #expect(PcapngTestReader.Packet.units(end) == units(statistics.endNanoseconds))
    }

    @Test("no filter, no description: no if_filter or if_description option")
    func noFilter() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/plain.pcapng"
        let writer = try PcapFileWriter(path: path, pcapng: PcapngDescription(application: "vfpmd", interfaceName: "port"))
        write(syntheticFrames([60]), to: writer)
        try writer.close()
        let file = try PcapngTestReader(path: path)
        #expect(file.blocks.map(\.type) == [0x0A0D_0D0A, 1, 6])
        #expect(file.interfaces[0].options.map(\.code) == [2, 9])
    }

    @Test("/dev/full takes no pcapng block: every frame dropped, the failure reported")
    func deviceFull() throws {
        let writer = try PcapFileWriter(path: "/dev/full", pcapng: description)
        write(syntheticFrames(Array(repeating: 60, count: 50)), to: writer)
        #expect(throws: PcapError.writeFailed(path: "/dev/full", reason: "No space left on device")) { try writer.flush() }
        #expect(writer.recordsWritten == 0 && writer.recordsDropped == 50 && writer.recordsPending == 0)
    }

    @Test("blocks cut short at any byte: only the whole packet blocks before the cut count, with their frame bytes")
    func wholeBlocksBeforeACut() throws {
        let sizes = [60, 1, 0, 1514, 3]
        var bytes: [UInt8] = []
        var ends: [(end: Int, packets: Int, captured: Int)] = []
        for (i, size) in sizes.enumerated() {
            let blockBytes = PcapngFormat.packetBlockBytes(captured: size)
            var block = [UInt8](repeating: 0xEE, count: blockBytes)
            block.withUnsafeMutableBytes {
                PcapngFormat.storePacketBlock(at: $0.baseAddress!, blockBytes: blockBytes, captured: size, originalLength: size, units: 7, interface: 0, flags: 1)
            }
            bytes += block
            ends.append((bytes.count, i + 1, (ends.last?.captured ?? 0) + size))
        }
        // A statistics block after the packets spans bytes but is no packet.
        var isb = [UInt8](repeating: 0, count: PcapngFormat.statisticsBlockBytes)
        isb.withUnsafeMutableBytes { PcapngFormat.storeStatisticsBlock(at: $0.baseAddress!, InterfaceStatistics(), interface: 0, precision: .nanosecond) }
        bytes += isb
        ends.append((bytes.count, sizes.count, ends.last!.captured))
        for cut in 0...bytes.count {
            let whole = bytes.withUnsafeBytes { PcapngFormat.wholeBlocks(in: $0.baseAddress!, length: cut) }
            let last = ends.last { $0.end <= cut }
            #expect(whole.count == (last?.packets ?? 0) && whole.bytes == (last?.end ?? 0) && whole.captured == (last?.captured ?? 0),
                    "cut at \(cut)")
        }
    }

    @Test("a name ending in .pcapng means pcapng; any other pcap")
    func formatByName() {
        #expect(CaptureFileFormat.forFileName("a.pcapng") == .pcapng)
        #expect(CaptureFileFormat.forFileName("a.pcap") == .pcap)
        #expect(CaptureFileFormat.forFileName("a.pcapng.gz") == .pcap)
        #expect(CaptureFileFormat.forFileName("-") == .pcap)
    }
}
