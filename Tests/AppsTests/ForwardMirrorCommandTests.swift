import Apps
import Foundation
import PcapIO
import Testing
import TestSupport

/// `vfpmd forward --mirror`: the frames a port receives and sends, in pcapng files read back
/// by an independent reader and by tshark, with the counts the summary gives.
@Suite("vfpmd forward --mirror", .serialized)
struct ForwardMirrorCommandTests {
    /// The summary's numbers of port `index`: received and sent.
    func portCounts(_ stderr: String, _ index: Int) -> (received: UInt64, sent: UInt64)? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("  port \(index) ") }) else { return nil }
        func number(after word: String) -> UInt64? {
            guard let range = line.range(of: word + " ") else { return nil }
            return UInt64(line[range.upperBound...].prefix { $0.isNumber })
        }
        guard let received = number(after: "received"), let sent = number(after: "sent") else { return nil }
        return (received, sent)
    }

    /// The frames of a classic pcap file.
    func frames(_ path: String) throws -> [[UInt8]] {
        try PcapReader(path: path).readAll().map(\.bytes)
    }

    /// Counter option `code` of the statistics block of `interface`.
    func statistic(_ file: PcapngTestReader, interface: UInt32, _ code: UInt16) -> UInt64? {
        file.statistics.first { PcapngTestReader.load32($0.body, 0) == interface }?.counter(code)
    }

    @Test("rx of port 0 through a filter and both directions of port 1: every forwarded frame, byte-exact, with directions and ISB counts equal to the summary")
    func rxFilteredAndBoth() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let outA = dir + "/a-out.pcap", outB = dir + "/b-out.pcap"
        let mirror0 = dir + "/m0.pcapng", mirror1 = dir + "/m1.pcapng"
        let result = try runProcess(try vfpmdExecutable(), [
            "forward", "--duration", "20",
            "--port", "sim:ixgbevf,name=a,rx=\(samplePath("protocols.pcap")),mac=02:00:00:00:00:02,tx=\(outA),spoofchk=off",
            "--port", "sim:ixgbevf,name=b,rx=\(samplePath("sizes.pcap")),mac=02:00:00:00:00:02,tx=\(outB),spoofchk=off",
            "--mirror", "0:rx=\(mirror0),filter=udp and not vlan",
            "--mirror", "b:both=\(mirror1)",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let port0 = try #require(portCounts(result.stderr, 0), "\(result.stderr)")
        let port1 = try #require(portCounts(result.stderr, 1), "\(result.stderr)")
        // Forwarded a→b: what b's wire carries away; b→a: what a's does.
        let aToB = try frames(outB), bToA = try frames(outA)
        #expect(UInt64(aToB.count) == port0.received && UInt64(bToA.count) == port1.received)
        #expect(aToB.count >= 5 && bToA.count == 14, "\(result.stderr)")

        let filter = try PacketFilter(expression: "udp and not vlan")
        let first = try PcapngTestReader(path: mirror0)
        #expect(first.interfaces.count == 1)
        #expect(first.interfaces.first?.text(2) == "sim:ixgbevf,name=a,rx=\(samplePath("protocols.pcap")),mac=02:00:00:00:00:02,tx=\(outA),spoofchk=off rx")
        #expect(first.interfaces.first?.text(3) == "simulated 82599 VF")
        let kept = aToB.filter { filter.matches($0) }
        #expect(kept.count > 0 && kept.count < aToB.count)
        #expect(first.packets.map(\.bytes) == kept)
        #expect(first.packets.allSatisfy { $0.interface == 0 && $0.flags == 1 })
        #expect(statistic(first, interface: 0, 4) == port0.received)
        #expect(statistic(first, interface: 0, 6) == UInt64(kept.count))
        #expect(statistic(first, interface: 0, 7) == 0)

        let second = try PcapngTestReader(path: mirror1)
        #expect(second.interfaces.count == 2)
        #expect(second.interfaces.map { $0.text(2)?.suffix(3) } == [" rx", " tx"])
        #expect(second.packets.filter { $0.interface == 0 }.map(\.bytes) == bToA)
        #expect(second.packets.filter { $0.interface == 1 }.map(\.bytes) == aToB)
        #expect(second.packets.allSatisfy { $0.flags == ($0.interface == 0 ? 1 : 2) })
        #expect(statistic(second, interface: 0, 4) == port1.received)
        #expect(statistic(second, interface: 1, 4) == port1.sent)
        #expect(statistic(second, interface: 1, 6) == port1.sent)
        #expect(result.stderr.contains("mirror \(mirror1): "))
        #expect(result.stderr.contains("written \(bToA.count + aToB.count)"))

        // tshark reads the same interfaces and directions.
        let tshark = try runProcess("/usr/bin/tshark", ["-r", mirror1, "-T", "fields", "-e", "frame.interface_id",
                                                        "-e", "frame.packet_flags_direction"])
        #expect(tshark.status == 0, "\(tshark.stderr)")
        let lines = tshark.stdout.split(separator: "\n")
        #expect(lines.count == bToA.count + aToB.count)
        #expect(lines.filter { $0 == "0\t0x00000001" }.count == bToA.count)
        #expect(lines.filter { $0 == "1\t0x00000002" }.count == aToB.count)
    }

    @Test("a mirror whose reader does not read drops and counts, while the forward loses nothing")
    func slowMirrorDropsNotTheForward() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let fifo = dir + "/slow.pcapng", out = dir + "/out.pcap"
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader that holds the FIFO open but reads nothing until the forward has ended.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = ["forward", "--duration", "20", "--count", "200000",
                             "--port", "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),loop=0,mac=02:00:00:00:00:02",
                             "--port", "sim:ixgbevf,name=b,tx=\(out),spoofchk=off",
                             "--mirror", "0:rx=\(fifo)"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The FIFO is read once the output holds 100 000 frames (8 MB): by then the mirror got
        // 10 MB of records, more than its 4 MiB ring and the pipe's buffer take.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0) < 8_000_000 {
            usleep(20_000)
        }
        var mirrored: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        _ = fcntl(reader, F_SETFL, 0)
        while true {
            let n = read(reader, &chunk, chunk.count)
            if n <= 0 { break }
            mirrored += chunk[..<n]
        }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        let port0 = try #require(portCounts(text, 0), "\(text)")
        let port1 = try #require(portCounts(text, 1), "\(text)")
        #expect(port0.received == 200_000 && port1.sent == 200_000)
        #expect(text.contains("dropped 0, missed 0"))
        #expect(try PcapReader(path: out).readAll().count == 200_000)

        let copy = dir + "/copy.pcapng"
        #expect(FileManager.default.createFile(atPath: copy, contents: Data(mirrored)))
        let file = try PcapngTestReader(path: copy)
        let dropped = try #require(statistic(file, interface: 0, 7))
        #expect(dropped > 0)
        #expect(statistic(file, interface: 0, 4) == 200_000)
        #expect(UInt64(file.packets.count) + dropped == 200_000)
        #expect(text.contains("seen 200000, filtered out 0, dropped \(dropped); written \(file.packets.count)"))
    }
}
