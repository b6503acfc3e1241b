import Foundation
import PMDCore
import PcapIO
import Testing
import TestSupport
@testable import Apps

/// A capture of a lone `pcap:` port reads its classic pcap file straight into the ring's slabs;
/// these tests hold it to what the same capture writes through the port's pool buffers (the
/// engine's `readsFileRecordsInPlace` off), byte for byte, counter for counter.
@Suite("Capture of a pcap file read in place")
struct CaptureInPlaceTests {
    /// What one capture of a file left.
    struct Outcome {
        var summary: CaptureSummary
        var files: [[UInt8]]
        var failure: PcapError?
        var portStats: PortStats
    }

    /// Captures `input` with `options` (its output in `dir`, named `name`), reading in place or
    /// through pool buffers; checks the path taken and that no buffer stayed out.
    func capture(_ input: String, _ options: CaptureOptions, inPlace: Bool, dataRoom: Int = PcapPort.defaultDataRoom,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let port = try PcapPort(name: "pcap", rxPath: input, txPath: nil, dataRoom: dataRoom)
        let engine = try CaptureEngine(port: port, options: options)
        engine.readsFileRecordsInPlace = inPlace
        let summary = try engine.run()
        port.close()
        #expect(engine.readFileRecordsInPlace == inPlace, sourceLocation: sourceLocation)
        #expect(port.pool?.inUse == 0, sourceLocation: sourceLocation)
        let files = try summary.files.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
        return Outcome(summary: summary, files: files, failure: port.failure, portStats: port.stats)
    }

    /// The capture's options to compare the two paths under: each changes what a record is.
    static let variants: [(name: String, change: @Sendable (inout CaptureOptions) -> Void)] = [
        ("defaults", { _ in }),
        ("micro", { $0.precision = .microsecond }),
        ("snaplen 60, micro", { $0.snapLength = 60; $0.precision = .microsecond }),
        ("filter udp", { $0.filter = "udp" }),
        ("filter vlan, snaplen 100", { $0.filter = "vlan"; $0.snapLength = 100 }),
        // Slabs of one page in a ring of two: a slab fills every few records and the reader
        // waits for the writer.
        ("small slabs", { $0.snapLength = 128; $0.ringSlabs = 2; $0.ringSlabBytes = 64 }),
    ]

    @Test("the files and counters are those of the path through pool buffers, in either byte order",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"], [false, true])
    func sameAsThroughBuffers(name: String, swapped: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = swapped ? try Self.byteSwappedCopy(of: samplePath(name), in: dir) : samplePath(name)
        let frames = try PcapReader(path: samplePath(name)).readAll()
        for (variant, change) in Self.variants {
            var options = CaptureOptions(output: dir + "/in-place.pcap")
            change(&options)
            let inPlace = try capture(input, options, inPlace: true)
            options.output = dir + "/buffers.pcap"
            let buffers = try capture(input, options, inPlace: false)
            #expect(inPlace.files == buffers.files, "\(variant)")
            #expect(inPlace.summary.counters == buffers.summary.counters, "\(variant)")
            #expect(inPlace.summary.reason == .sourceExhausted && buffers.summary.reason == .sourceExhausted, "\(variant)")
            #expect(inPlace.portStats.rxPackets == UInt64(frames.count) && inPlace.portStats.rxBytes == buffers.portStats.rxBytes,
                    "\(variant)")
            let written = try PcapReader(path: dir + "/in-place.pcap").readAll()
            #expect(inPlace.summary.counters.written == UInt64(written.count), "\(variant)")
            #expect(inPlace.summary.counters.received == UInt64(frames.count), "\(variant)")
            #expect(inPlace.summary.counters.addsUp, "\(variant)")
            #expect(written.allSatisfy { $0.bytes.count <= options.snapLength }, "\(variant)")
            if variant == "filter vlan, snaplen 100" { try expectReadableByTools(dir + "/in-place.pcap", frames: written.count) }
        }
        // The filters filter: the sample of many protocols has two VLAN frames among ten.
        if name == "protocols.pcap" {
            var options = CaptureOptions(output: dir + "/vlan.pcap")
            options.filter = "vlan"
            let vlan = try capture(input, options, inPlace: true)
            #expect(vlan.summary.counters.filteredOut == 8 && vlan.summary.counters.written == 2)
        }
    }

    @Test("pcapng output: the same packets and interface statistics",
          arguments: ["sizes.pcap", "protocols.pcap"])
    func pcapngSameAsThroughBuffers(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        var options = CaptureOptions(output: dir + "/in-place.pcapng")
        options.pcapng = PcapngDescription(application: "test", interfaceName: "pcap")
        options.filter = "not vlan"
        let inPlace = try capture(samplePath(name), options, inPlace: true)
        options.output = dir + "/buffers.pcapng"
        let buffers = try capture(samplePath(name), options, inPlace: false)
        let a = try PcapngTestReader(path: dir + "/in-place.pcapng")
        let b = try PcapngTestReader(path: dir + "/buffers.pcapng")
        #expect(a.packets == b.packets && !a.packets.isEmpty)
        #expect(inPlace.summary.counters == buffers.summary.counters)
        // The statistics block's counters (its times are each run's own).
        let counters: [UInt16] = [4, 5, 6, 7, 8]
        #expect(a.statistics.map { block in counters.map { block.counter($0) } }
                == b.statistics.map { block in counters.map { block.counter($0) } })
        #expect(a.statistics.first?.counter(4) == UInt64(try PcapReader(path: samplePath(name)).readAll().count))
        try expectReadableByTools(dir + "/in-place.pcapng", frames: a.packets.count)
    }

    @Test("with --micro the file is tcpdump's copy of it, byte for byte, in either byte order",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap"], [false, true])
    func sameAsTcpdump(name: String, swapped: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = swapped ? try Self.byteSwappedCopy(of: samplePath(name), in: dir) : samplePath(name)
        var options = CaptureOptions(output: dir + "/vfpmd.pcap")
        options.precision = .microsecond
        let outcome = try capture(input, options, inPlace: true)
        let tcpdump = try runProcess("/usr/bin/tcpdump", ["-r", input, "-w", dir + "/tcpdump.pcap"])
        #expect(tcpdump.status == 0, "\(tcpdump.stderr)")
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/tcpdump.pcap")))
        #expect(outcome.files == [expected])
    }

    @Test("-c, -C and an endless file: the counts are exact and the files hold them")
    func countRotationAndLoops() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        var options = CaptureOptions(output: dir + "/c.pcap")
        options.count = 1000
        options.rotation = RotationPolicy(maxFileBytes: 20_000)
        let port = try PcapPort(name: "pcap", rxPath: samplePath("udp64x256.pcap"), txPath: nil, loop: 0)
        let engine = try CaptureEngine(port: port, options: options)
        let summary = try engine.run()
        port.close()
        #expect(engine.readFileRecordsInPlace)
        #expect(summary.reason == .countReached)
        // Nothing is read past the count: a file has no ring to leave frames in.
        #expect(summary.counters.received == 1000 && summary.counters.written == 1000 && summary.counters.leftAtStop == 0)
        let back = try summary.files.flatMap { try PcapReader(path: $0).readAll() }
        let input = try PcapReader(path: samplePath("udp64x256.pcap")).readAll()
        #expect(back == Array((0..<4).flatMap { _ in input }.prefix(1000)))
        #expect(summary.files.count > 1)
        #expect(port.pool?.inUse == 0)
    }

    @Test("a malformed or cut input: the same records, error and counters as through pool buffers",
          arguments: ["truncated-record.pcap", "truncated-header.pcap", "huge-caplen.pcap"])
    func malformedInput(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let inPlace = try capture(samplePath("bad/" + name), CaptureOptions(output: dir + "/a.pcap"), inPlace: true)
        let buffers = try capture(samplePath("bad/" + name), CaptureOptions(output: dir + "/b.pcap"), inPlace: false)
        #expect(inPlace.failure != nil)
        #expect(inPlace.failure == buffers.failure)
        #expect(inPlace.files == buffers.files)
        #expect(inPlace.summary.counters == buffers.summary.counters)
        #expect(inPlace.portStats.rxErrors == 1 && inPlace.portStats.rxPackets == buffers.portStats.rxPackets)
    }

    @Test("a frame larger than the port's buffers fails the port as it does through them")
    func frameTooLarge() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = samplePath("jumbo.pcap")
        let inPlace = try capture(input, CaptureOptions(output: dir + "/a.pcap"), inPlace: true, dataRoom: 2048)
        let buffers = try capture(input, CaptureOptions(output: dir + "/b.pcap"), inPlace: false, dataRoom: 2048)
        guard case .frameTooLarge(_, _, _, 2048) = inPlace.failure else {
            Issue.record("expected a frame too large for 2048-byte buffers, got \(String(describing: inPlace.failure))")
            return
        }
        #expect(inPlace.failure == buffers.failure)
        #expect(inPlace.files == buffers.files)
        #expect(inPlace.summary.counters == buffers.summary.counters)
    }

    /// A copy of the classic pcap file at `path` (in the host's byte order) with every header
    /// field in the other byte order, written into `dir`.
    static func byteSwappedCopy(of path: String, in dir: String) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func swap(_ offset: Int, _ width: Int) { bytes[offset..<offset + width].reverse() }
        for (offset, width) in [(0, 4), (4, 2), (6, 2), (8, 4), (12, 4), (16, 4), (20, 4)] { swap(offset, width) }
        var offset = 24
        while offset + 16 <= bytes.count {
            let captured = bytes[offset + 8..<offset + 12].withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
            for field in 0..<4 { swap(offset + 4 * field, 4) }
            offset += 16 + captured
        }
        let copy = dir + "/swapped-" + URL(fileURLWithPath: path).lastPathComponent
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        #expect(bytes[0] == 0xA1, "the copy starts with the magic of the other byte order")
        return copy
    }
}
