import Foundation
import PcapIO
import Testing
import TestSupport

/// `vfpmd capture` writing pcapng, run as users run it and read back by the tools and by the
/// tests' own reader.
extension CaptureCommandTests {
    /// The version `vfpmd version` prints, as `vfpmd VERSION`.
    func versionLine() throws -> String {
        let run = try runProcess(try vfpmdExecutable(), ["version"])
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The file's statistics block against the summary's counters.
    func expectStatistics(_ block: PcapngTestReader.Block?, match summary: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let written = summaryValue("written", in: summary), filtered = summaryValue("filtered out", in: summary)
        #expect(block?.counter(4) == summaryValue("received", in: summary), sourceLocation: sourceLocation)
        #expect(block?.counter(5) == summaryValue("dropped by ring", in: summary), sourceLocation: sourceLocation)
        #expect(block?.counter(6) == written, sourceLocation: sourceLocation)
        #expect(block?.counter(7) == summaryValue("dropped by writer", in: summary), sourceLocation: sourceLocation)
        #expect(written.map { $0 + (filtered ?? 0) } == summaryValue("received", in: summary), sourceLocation: sourceLocation)
    }

    @Test("-w FILE.pcapng for every sample: the tools read the same frames without a warning, capinfos names the interface, the statistics match the summary",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func pcapngSample(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcapng"
        let spec = "pcap:rx=" + samplePath(name)
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", spec, "-w", out])
        #expect(run.status == 0, "\(run.stderr)")
        let input = try PcapReader(path: samplePath(name)).readAll()
        try expectReadableByTools(out, frames: input.count)
        let got = try runProcess("/usr/bin/tshark", ["-r", out, "-x"]), want = try runProcess("/usr/bin/tshark", ["-r", samplePath(name), "-x"])
        #expect(warnings(in: got.stderr).isEmpty, "\(got.stderr)")
        #expect(got.stdout == want.stdout && !got.stdout.isEmpty)
        let capinfos = try runProcess("/usr/bin/capinfos", ["-M", out])
        #expect(capinfos.status == 0 && warnings(in: capinfos.stderr).isEmpty, "\(capinfos.stderr)")
        #expect(capinfos.stdout.contains("File type:           pcapng"))
        #expect(capinfos.stdout.contains("Number of interfaces in file: 1"))
        #expect(capinfos.stdout.contains("Name = " + spec))
        #expect(capinfos.stdout.contains("Capture application: " + (try versionLine())))

        let file = try PcapngTestReader(path: out)
        #expect(file.trailingBytes == 0 && file.blocks.first?.type == 0x0A0D_0D0A && file.blocks.last?.type == 5)
        #expect(file.interfaces.count == 1 && file.interfaces[0].text(2) == spec)
        #expect(file.interfaces[0].text(3) == "capture files (pcap port)")
        #expect(file.interfaces[0].options.contains { $0.code == 11 } == false)
        #expect(file.packets.map(\.bytes) == input.map(\.bytes))
        #expect(file.packets.map(\.units) == input.map(\.timestampNanoseconds))
        #expect(file.packets.allSatisfy { $0.flags == 1 && $0.interface == 0 })
        #expect(UInt64(file.packets.count) == summaryValue("written", in: run.stderr))
        expectStatistics(file.statistics.last, match: run.stderr)
    }

    @Test("a filter's expression is the interface's if_filter; the statistics count what it kept and what it did not")
    func pcapngFilter() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/udp.pcapng"
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("protocols.pcap"), "-w", out, "udp", "and", "not", "vlan"])
        #expect(run.status == 0, "\(run.stderr)")
        let file = try PcapngTestReader(path: out)
        #expect(file.interfaces.first?.options.first { $0.code == 11 }?.value == [0] + Array("udp and not vlan".utf8))
        let filtered = try #require(summaryValue("filtered out", in: run.stderr))
        #expect(filtered > 0 && UInt64(file.packets.count) == summaryValue("written", in: run.stderr))
        expectStatistics(file.statistics.last, match: run.stderr)
        try expectReadableByTools(out, frames: file.packets.count)
    }

    @Test("-C into .pcapng files: each starts with its own section and interface, ends with the totals so far, and the tools read it")
    func pcapngRotation() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=100",
                                                         "-w", dir + "/rot.pcapng", "-C", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let names = ["rot.pcapng", "rot.pcapng1", "rot.pcapng2"]
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == names)
        var total = 0
        var statistics: [PcapngTestReader.Block] = []
        for name in names {
            let file = try PcapngTestReader(path: dir + "/" + name)
            #expect(file.blocks.map(\.type).prefix(2) == [0x0A0D_0D0A, 1] && file.blocks.last?.type == 5, "\(name)")
            total += file.packets.count
            let block = try #require(file.statistics.first)
            #expect(block.counter(6) == UInt64(total) && block.counter(4) == UInt64(total), "\(name): the totals so far")
            statistics.append(block)
            try expectReadableByTools(dir + "/" + name, frames: file.packets.count)
        }
        #expect(UInt64(total) == summaryValue("written", in: run.stderr) && total == 25_600)
        expectStatistics(statistics.last, match: run.stderr)
    }

    @Test("--pcapng -w - streams pcapng into a pipe that tshark reads")
    func pcapngStandardOutput() throws {
        let vfpmd = try vfpmdExecutable()
        let run = try runProcess("/bin/sh", ["-c", "'\(vfpmd)' capture --port pcap:rx=\(samplePath("jumbo.pcap")) --pcapng -w - 2>/dev/null"
                                             + " | /usr/bin/tshark -r - -T fields -e frame.len -e frame.cap_len"])
        #expect(run.status == 0 && warnings(in: run.stderr).isEmpty, "\(run.stderr)")
        let input = try PcapReader(path: samplePath("jumbo.pcap")).readAll()
        #expect(run.stdout.split(separator: "\n").map(String.init) == input.map { "\($0.originalLength)\t\($0.bytes.count)" })
        let head = try runProcess("/bin/sh", ["-c", "'\(vfpmd)' capture --port pcap:rx=\(samplePath("sizes.pcap")) --pcapng -w - 2>/dev/null | od -An -tx1 -N4"])
        #expect(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0a 0d 0d 0a")
    }

    @Test("a .pcapng file stopped by the file size limit: exit 1, the file ends with the whole packet blocks counted written")
    func pcapngFileSizeLimit() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/limited.pcapng"
        let run = try runProcess("/bin/sh", ["-c", "ulimit -f 64 && exec \"$0\" \"$@\"", try vfpmdExecutable(),
                                             "capture", "--port", "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=100", "-w", out])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").first == "error: writing \(out): File too large", "\(run.stderr)")
        let file = try PcapngTestReader(path: out)
        #expect(file.trailingBytes == 0 && file.statistics.isEmpty)
        #expect(file.packets.count > 0 && UInt64(file.packets.count) == summaryValue("written", in: run.stderr))
        let received = summaryValue("received", in: run.stderr), dropped = summaryValue("dropped by writer", in: run.stderr)
        #expect(received != nil && dropped != nil && dropped! > 0 && received == dropped! + UInt64(file.packets.count))
        let input = try PcapReader(path: samplePath("udp64x256.pcap")).readAll()
        #expect(file.packets.enumerated().allSatisfy { $0.element.bytes == input[$0.offset % input.count].bytes })
        try expectReadableByTools(out, frames: file.packets.count)
    }

    @Test("a .pcapng capture killed with SIGKILL reads back up to its last whole block")
    func pcapngSigkill() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/killed.pcapng"
        let log = dir + "/stderr.txt"
        let process = try start(["--port", "pcap:rx=" + samplePath("sizes.pcap") + ",loop=0", "-w", out, "--duration", "20"],
                                stderrPath: log)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(waitFor("received", in: log, seconds: 10))
        usleep(300_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let file = try PcapngTestReader(path: out)
        #expect(file.packets.count > 0 && file.statistics.isEmpty)
        let input = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        #expect(file.packets.enumerated().allSatisfy { $0.element.bytes == input[$0.offset % input.count].bytes })
    }
}
