import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

/// The reader's own cursor over classic pcap files, checked against the files' known contents
/// and against libpcap reading the same file: the same frames, timestamps and error texts.
@Suite("PcapReader: classic pcap read in chunks, as libpcap reads it")
struct ClassicPcapReaderTests {
    /// What a reader made of a file: its frames, then the error that stopped it (if any).
    struct Outcome: Equatable, CustomStringConvertible {
        var frames: [PcapFrame] = []
        var error: String?
        var description: String { "\(frames.count) frames, error: \(error ?? "none")" }
    }

    /// Reads `path` frame by frame with `next()`.
    static func oneByOne(_ path: String, itself: Bool) -> Outcome {
        var outcome = Outcome()
        do {
            let reader = try PcapReader(path: path, readsClassicPcapItself: itself)
            while let frame = try reader.next() { outcome.frames.append(frame) }
        } catch {
            outcome.error = error.description
        }
        return outcome
    }

    /// Reads `path` in bursts into a small pool of buffers large enough for any record
    /// (original lengths are not kept there: they read as the captured ones).
    static func inBursts(_ path: String, itself: Bool) throws -> Outcome {
        let pool = try Mempool(name: "test", capacity: 8, dataRoom: 262_144, pages: .smallPages)
        var outcome = Outcome()
        do {
            let reader = try PcapReader(path: path, readsClassicPcapItself: itself)
            var batch = PacketBatch()
            while try reader.read(into: &batch, from: pool.ref) > 0 {
                for i in 0..<batch.count {
                    let packet = batch[i]
                    outcome.frames.append(PcapFrame(bytes: Array(UnsafeRawBufferPointer(packet.bytes)),
                                                    timestampNanoseconds: packet.metadata.pointee.timestamp))
                }
                batch.removeAll()
            }
        } catch {
            outcome.error = error.description
        }
        #expect(pool.inUse == 0)
        return outcome
    }

    static func withoutOriginalLengths(_ outcome: Outcome) -> Outcome {
        Outcome(frames: outcome.frames.map { PcapFrame(bytes: $0.bytes, timestampNanoseconds: $0.timestampNanoseconds) },
                error: outcome.error)
    }

    /// Records of every kind the cursor meets: short and full-size frames, an empty one, one cut
    /// by its capture (original length larger), a time before 1970 and the largest fraction.
    static func records(nanosecond: Bool) -> [ClassicPcapFile.Record] {
        var cut = ClassicPcapFile.Record.frame(96, seed: 3)
        cut.originalLength = 1514
        var early = ClassicPcapFile.Record.frame(60, seed: 4)
        early.seconds = 0x8000_0000
        return [
            .frame(60, seed: 1, fraction: nanosecond ? 999_999_999 : 999_999),
            .frame(1514, seed: 2, fraction: 17),
            cut,
            early,
            .frame(0, seed: 5),
            .frame(9000, seed: 6),
            .frame(42, seed: 7),
        ]
    }

    @Test("both byte orders, micro- and nanosecond magics: the frames as stored, as libpcap reads them",
          arguments: [(false, false), (false, true), (true, false), (true, true)])
    func byteOrdersAndPrecisions(swapped: Bool, nanosecond: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/in.pcap"
        let file = ClassicPcapFile(swapped: swapped, nanosecond: nanosecond, records: Self.records(nanosecond: nanosecond))
        try file.write(to: path)
        let reader = try PcapReader(path: path)
        #expect(!reader.isReadByLibpcap)
        #expect(reader.snapLength == 262_144)
        #expect(try reader.readAll() == file.frames)
        #expect(Self.oneByOne(path, itself: false) == Outcome(frames: file.frames))
        #expect(try Self.inBursts(path, itself: true) == Self.withoutOriginalLengths(Outcome(frames: file.frames)))
    }

    @Test("a file cut at every byte reads the same whole records and the same error as through libpcap",
          arguments: [(false, false), (true, true)])
    func cutAtEveryByte(swapped: Bool, nanosecond: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/cut.pcap"
        let file = ClassicPcapFile(swapped: swapped, nanosecond: nanosecond,
                                   records: [.frame(60, seed: 1), .frame(100, seed: 2), .frame(1514, seed: 3)])
        let total = file.bytes.count
        var errors = Set<String>()
        for length in 0...total {
            try file.write(to: path, length: length)
            let own = Self.oneByOne(path, itself: true)
            let libpcap = Self.oneByOne(path, itself: false)
            #expect(own == libpcap, "cut at \(length) of \(total) bytes")
            #expect(try Self.inBursts(path, itself: true) == Self.withoutOriginalLengths(libpcap), "cut at \(length) bytes")
            if let error = own.error { errors.insert(error.replacingOccurrences(of: path, with: "")) }
        }
        // Every boundary was met: no file header, a cut file header, cut record headers and data.
        #expect(errors.contains(": cannot open capture: truncated dump file; tried to read 4 file header bytes, only got 0"))
        #expect(errors.contains(": cannot open capture: truncated dump file; tried to read 24 file header bytes, only got 19"))
        #expect(errors.contains(": record 1 is truncated or malformed (truncated dump file; tried to read 16 header bytes, only got 15); the 0 records before it are whole"))
        #expect(errors.contains(": record 3 is truncated or malformed (truncated dump file; tried to read 1514 captured bytes, only got 1513); the 2 records before it are whole"))
        #expect(Self.oneByOne(path, itself: true) == Outcome(frames: file.frames))
    }

    @Test("a record longer than the snap length is cut to it, as libpcap cuts it; one beyond any capture is an error")
    func capturedLengthBeyondSnapLength() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/snap.pcap"
        var file = ClassicPcapFile(snapLength: 64, records: [.frame(100, seed: 1), .frame(60, seed: 2), .frame(64, seed: 3)])
        try file.write(to: path)
        #expect(try PcapReader(path: path).snapLength == 64)
        let whole = Self.oneByOne(path, itself: true)
        #expect(whole == Outcome(frames: file.frames))
        #expect(whole.frames.map(\.bytes.count) == [64, 60, 64])
        // Cut inside the long record: before and after the snap length, libpcap's two texts.
        for length in 24...(24 + 16 + 100) {
            try file.write(to: path, length: length)
            #expect(Self.oneByOne(path, itself: true) == Self.oneByOne(path, itself: false), "cut at \(length) bytes")
        }
        try file.write(to: path, length: 24 + 16 + 99)
        #expect(Self.oneByOne(path, itself: true).error?.contains("tried to read 100 captured bytes, only got 99") == true)
        try file.write(to: path, length: 24 + 16 + 63)
        #expect(Self.oneByOne(path, itself: true).error?.contains("tried to read 64 captured bytes, only got 63") == true)

        file.records[1].capturedLengthField = 262_145
        try file.write(to: path)
        let absurd = Self.oneByOne(path, itself: true)
        #expect(absurd == Self.oneByOne(path, itself: false))
        #expect(absurd.frames.count == 1)
        #expect(absurd.error == path + ": record 2 is truncated or malformed (invalid packet capture length 262145, bigger than snaplen of 64); the 1 record before it is whole")

        file = ClassicPcapFile(snapLength: 0, records: [.frame(70_000, seed: 1)])
        try file.write(to: path)
        #expect(try PcapReader(path: path).snapLength == PcapReader(path: path, readsClassicPcapItself: false).snapLength)
        #expect(Self.oneByOne(path, itself: true) == Outcome(frames: file.frames))
    }

    @Test("a burst that the file ends takes only the buffers it filled: the rest are back in the pool in their order")
    func buffersLeftOverGoBack() throws {
        let pool = try Mempool(name: "test", capacity: 32, dataRoom: 2048, pages: .smallPages)
        let reader = try PcapReader(path: samplePath("sizes.pcap"))
        #expect(!reader.isReadByLibpcap)
        var batch = PacketBatch()
        #expect(try reader.read(into: &batch, from: pool.ref) == 14)
        #expect((0..<batch.count).map { batch.index(at: $0) } == Array(0..<14))
        #expect(pool.inUse == 14)
        // Buffers are handed out in address order; the 18 the burst did not fill come next.
        let next = (0..<18).compactMap { _ in pool.ref.take() }
        #expect(next == Array(14..<32))
        for index in next.reversed() { pool.ref.give(index) }
        batch.removeAll()
        #expect(pool.inUse == 0)
    }

    @Test("a file larger than the chunk buffer reads whole across chunk boundaries, in both ways")
    func acrossChunks() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/big.pcap"
        // 3 MiB and more of records whose sizes do not divide the buffer: every record header
        // and frame is cut by a chunk boundary somewhere.
        let sizes = [60, 1514, 577, 9000, 61]
        let file = ClassicPcapFile(swapped: true, records: (0..<1200).map { .frame(sizes[$0 % sizes.count], seed: $0) })
        try file.write(to: path)
        #expect(Self.oneByOne(path, itself: true) == Outcome(frames: file.frames))
        #expect(try Self.inBursts(path, itself: true) == Self.withoutOriginalLengths(Outcome(frames: file.frames)))
    }

    @Test("headers the cursor does not take go to libpcap, which reads or refuses them as before")
    func headersForLibpcap() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/header.pcap"
        let cases: [(ClassicPcapFile, String?)] = [
            (ClassicPcapFile(version: (2, 3), records: [.frame(60, seed: 1)]), nil),
            (ClassicPcapFile(linkType: 113, records: [.frame(60, seed: 1)]),
             "link type LINUX_SLL is not Ethernet; vfpmd reads only Ethernet (DLT_EN10MB) captures"),
            (ClassicPcapFile(version: (1, 0)), "cannot open capture: archaic pcap savefile format"),
            (ClassicPcapFile(version: (3, 0)), "cannot open capture: unsupported pcap savefile version 3.0"),
            (ClassicPcapFile(magic: 0x1234_5678), "cannot open capture: unknown file format"),
        ]
        for (file, error) in cases {
            try file.write(to: path)
            let outcome = Self.oneByOne(path, itself: true)
            #expect(outcome == Self.oneByOne(path, itself: false))
            #expect(outcome.error == error.map { path + ": " + $0 })
            if error == nil {
                #expect(try PcapReader(path: path).isReadByLibpcap)
                #expect(outcome.frames == file.frames)
            }
        }
    }

    @Test("pcapng input is still read by libpcap: the same frames as the pcap it was made from",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap"])
    func pcapng(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/in.pcapng"
        let converted = try runProcess("/usr/bin/editcap", ["-F", "pcapng", samplePath(name), path])
        #expect(converted.status == 0, "\(converted.stderr)")
        let reader = try PcapReader(path: path)
        #expect(reader.isReadByLibpcap)
        #expect(try reader.readAll() == PcapReader(path: samplePath(name)).readAll())
    }

    @Test("an empty file, /dev/null and a directory are refused with libpcap's words")
    func notCaptures() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let empty = dir + "/empty.pcap"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let header = "cannot open capture: truncated dump file; tried to read 4 file header bytes, only got 0"
        #expect(Self.oneByOne(empty, itself: true).error == empty + ": " + header)
        #expect(Self.oneByOne("/dev/null", itself: true).error == "/dev/null: " + header)
        #expect(Self.oneByOne(dir, itself: true).error == dir + ": cannot open capture: error reading dump file: Is a directory")
    }

    @Test("a FIFO is read through libpcap, whole")
    func fifo() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/fifo"
        #expect(mkfifo(path, 0o600) == 0)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "cat \"$0\" > \"$1\"", samplePath("udp64x256.pcap"), path]
        try writer.run()
        let reader = try PcapReader(path: path)
        #expect(reader.isReadByLibpcap)
        let frames = try reader.readAll()
        writer.waitUntilExit()
        #expect(frames == (try PcapReader(path: samplePath("udp64x256.pcap")).readAll()))
    }

    @Test("a file that shrinks while it is read ends at a cut record, and one that grows reads on: no crash")
    func changingUnderTheReader() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/changing.pcap"
        let file = ClassicPcapFile(records: (0..<3000).map { .frame(1514, seed: $0) })
        let bytes = file.bytes
        try file.write(to: path)
        let reader = try PcapReader(path: path)
        var frames = [try #require(try reader.next())]
        #expect(truncate(path, off_t(2 << 20) + 100) == 0)
        var caught: PcapError?
        do {
            while let frame = try reader.next() { frames.append(frame) }
        } catch {
            caught = error
        }
        let whole = (2 << 20) + 100 - 24
        let recordBytes = 16 + 1514
        #expect(frames == Array(file.frames.prefix(whole / recordBytes)))
        #expect(caught == .malformedRecord(path: path, record: whole / recordBytes + 1,
                                           reason: "truncated dump file; tried to read 1514 captured bytes, only got \(whole % recordBytes - 16)"))

        try Data(bytes.prefix(1 << 20)).write(to: URL(fileURLWithPath: path))
        let growing = try PcapReader(path: path)
        _ = try growing.next()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes.dropFirst(1 << 20)))
        try handle.close()
        #expect(try 1 + growing.readAll().count == file.records.count)
    }

    @Test("read through the pcap port into a file, a capture is byte for byte what tcpdump -r -w makes of it",
          arguments: [(false, false), (true, true)])
    func sameBytesAsTcpdump(swapped: Bool, nanosecond: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = dir + "/in.pcap", ours = dir + "/ours.pcap", theirs = dir + "/theirs.pcap"
        let records = (0..<500).map { ClassicPcapFile.Record.frame([60, 576, 1514][$0 % 3], seed: $0, fraction: UInt32($0) * 1000) }
        try ClassicPcapFile(swapped: swapped, nanosecond: nanosecond, snapLength: 1514, records: records).write(to: input)
        let tcpdump = try runProcess("/usr/bin/tcpdump", ["-r", input, "-w", theirs])
        #expect(tcpdump.status == 0, "\(tcpdump.stderr)")

        // tcpdump writes microseconds in the host's byte order with the input's snap length.
        let rx = try PcapPort(name: "in", rxPath: input, txPath: nil)
        let writer = try PcapFileWriter(path: ours, snapLength: 1514, precision: .microsecond)
        try rx.start()
        var batch = PacketBatch()
        while rx.condition == .running {
            _ = rx.receive(queue: 0, into: &batch)
            for i in 0..<batch.count {
                let packet = batch[i]
                writer.write(UnsafeRawPointer(packet.bytes.baseAddress!), length: packet.length,
                             wallNanoseconds: packet.metadata.pointee.timestamp)
            }
            batch.removeAll()
        }
        try writer.close()
        rx.close()
        #expect(rx.failure == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: ours)) == Data(contentsOf: URL(fileURLWithPath: theirs)))
    }
}
