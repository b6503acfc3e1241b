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

    @Test("a VLAN tag the PF stripped is in the rx mirror as received and in the tx mirror as sent; macswap's rewrite is in the tx mirror only")
    func tagsAndRewrite() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap", received = dir + "/rx.pcapng", sent = dir + "/tx.pcapng"
        let result = try runProcess(try vfpmdExecutable(), [
            "forward", "--duration", "20", "--mode", "macswap",
            "--port", "sim:igbvf,name=a,rx=\(samplePath("jumbo.pcap")),mac=02:00:00:00:00:02,vlan=7,mtu=9000",
            "--port", "sim:igbvf,name=b,spoofchk=off,mtu=9000,tx=\(out)",
            "--mirror", "a:rx=\(received)", "--mirror", "1:tx=\(sent),snaplen=2000", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let input = try frames(samplePath("jumbo.pcap"))
        let onTheWire = try frames(out)
        #expect(onTheWire.count == 3)
        // macswap: the wire's frames are the input's with their addresses swapped.
        #expect(onTheWire.map { Array($0[6..<12] + $0[0..<6] + $0[12...]) } == input)
        let rx = try PcapngTestReader(path: received), tx = try PcapngTestReader(path: sent)
        #expect(rx.packets.map(\.bytes) == input)
        #expect(tx.packets.map(\.bytes) == onTheWire.map { Array($0.prefix(2000)) })
        #expect(tx.packets.map(\.originalLength) == onTheWire.map(\.count))
        #expect(tx.packets.allSatisfy { $0.flags == 2 } && rx.packets.allSatisfy { $0.flags == 1 })
        // The summary object carries each mirror's counts.
        let summary = try #require(result.stdout.split(separator: "\n").last)
        let object = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any]
        let mirrors = try #require(object?["mirrors"] as? [[String: Any]])
        #expect(mirrors.map { $0["file"] as? String } == [received, sent])
        #expect(mirrors.map { $0["written"] as? Int } == [3, 3])
        let interfaces = mirrors.compactMap { ($0["interfaces"] as? [[String: Any]])?.first }
        #expect(interfaces.map { $0["seen"] as? Int } == [3, 3])
        #expect(interfaces.map { $0["filtered_out"] as? Int } == [0, 0])
        #expect(interfaces.map { $0["dropped"] as? Int } == [0, 0])
    }

    @Test("SIGINT ends a forward of an endless source with every mirror file whole, its ISB counts equal to the summary")
    func sigint() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let mirror = dir + "/m.pcapng"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = ["forward", "--duration", "20",
                             "--port", "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),loop=0,mac=02:00:00:00:00:02",
                             "--port", "sim:ixgbevf,name=b,spoofchk=off", "--mirror", "0:rx=\(mirror),filter=udp src port 1025"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, ((try? FileManager.default.attributesOfItem(atPath: mirror)[.size] as? Int) ?? 0) < 1 << 18 {
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        let port0 = try #require(portCounts(text, 0), "\(text)")
        let file = try PcapngTestReader(path: mirror)
        #expect(file.trailingBytes == 0)
        #expect(file.statistics.count == 1)
        #expect(statistic(file, interface: 0, 4) == port0.received)
        let kept = try #require(statistic(file, interface: 0, 6))
        #expect(kept == UInt64(file.packets.count) && kept > 0 && kept < port0.received)
        try expectReadableByTools(mirror, frames: file.packets.count)
    }

    @Test("a mirror into /dev/full: the forward goes on to its end, then exits 1 with the error line first and the mirror's true counts")
    func fullDisk() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let result = try runProcess(try vfpmdExecutable(), [
            "forward", "--duration", "20", "--count", "20000",
            "--port", "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),loop=0,mac=02:00:00:00:00:02",
            "--port", "sim:ixgbevf,name=b,spoofchk=off,tx=\(out)", "--mirror", "0:rx=/dev/full",
        ])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.first?.hasPrefix("error: --mirror /dev/full: ") == true, "\(result.stderr)")
        #expect(lines.filter { $0.hasPrefix("error: ") }.count == 1)
        #expect(try PcapReader(path: out).readAll().count == 20_000)
        let line = try #require(lines.first { $0.hasPrefix("  mirror /dev/full: ") })
        #expect(line.contains("seen 20000, filtered out 0, dropped "))
        // Nothing reached the device: every frame handed to the writer is counted not written.
        let dropped = UInt64(line.split(separator: ",").first { $0.contains("dropped") }?.split(separator: " ").last
            .flatMap { UInt64($0.prefix { $0.isNumber }) } ?? 0)
        #expect(line.hasSuffix("written 0, not written \(20_000 - dropped)"), "\(line)")
    }

    @Test("a mirror file given twice, equal to an input capture, or a port's direction mirrored twice is refused with one error line",
          arguments: [0, 1, 2])
    func refusedFiles(_ which: Int) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = dir + "/in.pcap"
        try FileManager.default.copyItem(atPath: samplePath("sizes.pcap"), toPath: input)
        let mirrors = switch which {
        case 0: ["--mirror", "0:rx=\(dir)/m.pcapng", "--mirror", "1:rx=\(dir)/m.pcapng"]
        case 1: ["--mirror", "0=\(dir)/../\(URL(fileURLWithPath: dir).lastPathComponent)/in.pcap.pcapng"]
        default: ["--mirror", "1:rx=\(dir)/m.pcapng", "--mirror", "1:both=\(dir)/n.pcapng"]
        }
        if which == 1 { try FileManager.default.createSymbolicLink(atPath: dir + "/in.pcap.pcapng", withDestinationPath: input) }
        let result = try runProcess(try vfpmdExecutable(), ["forward", "--port", "pcap:rx=\(input)", "--port", "pcap:tx=/dev/null"] + mirrors)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: --mirror "), "\(result.stderr)")
        #expect(result.stderr.contains(["holds the file's lock", "is also an input of this run", "both copy the rx frames of port 1"][which]))
        #expect(try frames(input).count == 14)
    }

    @Test("--json and a mirror to standard output are refused together: both would write there")
    func jsonAndMirrorToStandardOutput() throws {
        let result = try runProcess(try vfpmdExecutable(), ["forward", "--port", "pcap:rx=\(samplePath("sizes.pcap"))",
                                                             "--port", "pcap:tx=/dev/null", "--json", "--mirror", "0=-"])
        #expect(result.status != 0 && result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.first?.hasPrefix("error: --json and --mirror ...=- would both write to standard output") == true, "\(result.stderr)")
    }
}
