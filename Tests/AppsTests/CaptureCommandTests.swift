import Foundation
import PcapIO
import Testing
import TestSupport

/// `vfpmd capture` run as users run it: the built executable in a child process.
@Suite("vfpmd capture (the executable)", .serialized)
struct CaptureCommandTests {
    /// Starts `vfpmd capture` with `arguments`; standard error goes to a file.
    func start(_ arguments: [String], stderrPath: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = ["capture"] + arguments
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits until `path` holds `needle` (live counters appear once a second).
    func waitFor(_ needle: String, in path: String, seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains(needle) { return true }
            usleep(50_000)
        }
        return false
    }

    /// Waits until the file at `path` holds at least `bytes`.
    func waitForSize(of path: String, atLeast bytes: Int, seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size >= bytes { return true }
            usleep(10_000)
        }
        return false
    }

    /// The number on the summary row `label`.
    func summaryValue(_ label: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("  " + label + " ") {
            return line.dropFirst(2 + label.count).split(separator: " ").first.flatMap { UInt64($0) }
        }
        return nil
    }

    @Test("SIGINT, SIGTERM and SIGHUP stop a capture of an endless source: exit 0, the summary adds up, the file holds every frame written",
          arguments: [SIGINT, SIGTERM, SIGHUP])
    func stopSignal(_ signalNumber: Int32) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/stopped-\(signalNumber).pcap"
        let log = dir + "/stderr.txt"
        let process = try start(["--port", "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=0", "-w", out, "--duration", "20"],
                                stderrPath: log)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Capturing: the first 4 MB buffer of records reached the file.
        #expect(waitForSize(of: out, atLeast: 4 << 20, seconds: 10))
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(text)")
        #expect(text.contains("capture stopped (interrupted)"))
        #expect(text.contains("received = written + filtered out + dropped by writer"))
        let received = summaryValue("received", in: text)
        let written = summaryValue("written", in: text)
        #expect(received != nil && received == written && (written ?? 0) > 0)
        let frames = try PcapReader(path: out).readAll()
        #expect(UInt64(frames.count) == written)
        let input = try PcapReader(path: samplePath("udp64x256.pcap")).readAll()
        #expect(frames.enumerated().allSatisfy { $0.element == input[$0.offset % input.count] })
        try expectReadableByTools(out, frames: frames.count)
    }

    @Test("-w - writes the capture to standard output, read back by the tools; -C and -G with it are refused")
    func standardOutput() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/stdout.pcap"
        let vfpmd = try vfpmdExecutable()
        let run = try runProcess("/bin/sh", ["-c", "'\(vfpmd)' capture --port pcap:rx=\(samplePath("sizes.pcap")) -w - > '\(out)'"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "-"))
        let input = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        #expect(try PcapReader(path: out).readAll() == input)
        try expectReadableByTools(out, frames: input.count)
        let rotated = try runProcess(vfpmd, ["capture", "--port", "pcap:rx=" + samplePath("sizes.pcap"), "-w", "-", "-C", "1"])
        #expect(rotated.status == 1 && rotated.stderr.hasPrefix("error: -w - writes one stream"))
    }

    @Test("a capture killed with SIGKILL reads back up to its last whole record")
    func sigkill() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/killed.pcap"
        let log = dir + "/stderr.txt"
        let process = try start(["--port", "pcap:rx=" + samplePath("sizes.pcap") + ",loop=0", "-w", out, "--duration", "20"],
                                stderrPath: log)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // After the first line of counters the file was flushed at least once.
        #expect(waitFor("received", in: log, seconds: 10))
        usleep(300_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let reader = try PcapReader(path: out)
        var frames: [PcapFrame] = []
        var failure: PcapError?
        do { while let frame = try reader.next() { frames.append(frame) } } catch { failure = error }
        #expect(frames.count > 0)
        if let failure {
            guard case .malformedRecord(_, let record, _) = failure else {
                Issue.record("unexpected error \(failure)")
                return
            }
            #expect(record == frames.count + 1)
        }
        let input = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        #expect(frames.enumerated().allSatisfy { $0.element == input[$0.offset % input.count] })
    }

    @Test("an invalid filter expression: libpcap's text, exit non-zero")
    func badFilter() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("sizes.pcap"),
                                                            "-w", dir + "/x.pcap", "udp", "port"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("invalid filter expression 'udp port': can't parse filter expression: syntax error"))
    }

    @Test("a bad port spec: the spec, a caret line, what is allowed; exit non-zero")
    func badSpec() throws {
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=a.pcap,lop=2", "-w", "/dev/null"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bad port spec: unknown setting 'lop'\n  pcap:rx=a.pcap,lop=2\n                 ^^^\n  pcap options:"))
    }

    @Test("a malformed or non-Ethernet input: one clear sentence, exit non-zero; whole records kept",
          arguments: [("truncated-record.pcap", 2, "record 3 is truncated or malformed"),
                      ("linux-sll.pcap", -1, "link type LINUX_SLL is not Ethernet"),
                      ("bad-magic.pcap", -1, "cannot open capture: unknown file format")])
    func badInput(name: String, whole: Int, message: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/x.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("bad/" + name), "-w", out])
        #expect(result.status != 0)
        #expect(result.stderr.contains(samplePath("bad/" + name) + ": " + message), "\(result.stderr)")
        if whole >= 0 { #expect(try PcapReader(path: out).readAll().count == whole) }
    }

    @Test("-c, -s, --micro and a filter together, read back by the tools")
    func options() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/o.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("protocols.pcap") + ",loop=0",
                                                            "-w", out, "-c", "25", "-s", "64", "--micro", "udp"])
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try PcapReader(path: out).readAll()
        #expect(frames.count == 25)
        #expect(frames.allSatisfy { $0.bytes.count <= 64 && $0.timestampNanoseconds % 1000 == 0 })
        try expectReadableByTools(out, frames: 25)
    }

    @Test("-s 0 keeps whole frames, as tcpdump's: the file says snap length 262144 and jumbo frames come through uncut")
    func snapLengthZeroKeepsWholeFrames() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/o.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("jumbo.pcap"), "-w", out, "-s", "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let header = try #require(FileManager.default.contents(atPath: out)).prefix(24)
        let snapLength = header.dropFirst(16).prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(snapLength == 262_144)
        let input = try PcapReader(path: samplePath("jumbo.pcap")).readAll()
        let frames = try PcapReader(path: out).readAll()
        #expect(frames.map(\.bytes) == input.map(\.bytes) && frames.contains { $0.bytes.count == 9000 })
        try expectReadableByTools(out, frames: input.count)
    }

    @Test("a negative number is refused as a number out of range, naming the option, not as a missing value",
          arguments: [["-c", "-5"], ["-s", "-1"], ["-G", "-3"], ["--duration", "-2"]])
    func negativeNumberIsOutOfRange(option: [String]) throws {
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("sizes.pcap"), "-w", "/dev/null"] + option)
        #expect(result.status == 64)
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("error: ") && first.contains(option[0]) && !first.contains("Missing value"), "\(result.stderr)")
    }

    @Test("--log-level trace shows the driver's mailbox exchange, one write-back line per captured frame as the device wrote it, and the device's counters at close",
          arguments: ["igbvf", "ixgbevf"])
    func traceShowsMailboxAndWriteBacks(family: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/t.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "sim:\(family),rx=" + samplePath("sizes.pcap") + ",mac=02:00:00:00:00:02",
                                                            "-w", out, "--log-level", "trace"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        let sent = lines.filter { $0.contains("mailbox sim:vf0: sent ") }
        #expect(sent.first?.contains("sent RESET [0x00000001]") == true, "\(sent)")
        // Every request the driver sent got its reply (a word with ACK or NACK, bit 31 or 30).
        let replies = lines.filter { $0.contains("mailbox sim:vf0: received for ") }
        #expect(replies.count == sent.count && !sent.isEmpty)
        let captured = try PcapReader(path: out).readAll()
        let writeBacks = lines.filter { $0.contains("write-back port 0: length ") }
        #expect(writeBacks.count == captured.count && !captured.isEmpty)
        for (line, frame) in zip(writeBacks, captured) {
            #expect(line.contains("length \(frame.bytes.count) status 0x"), "\(line)")
        }
        let counters = lines.filter { $0.contains("device counters at close: received \(captured.count) packets ") }
        #expect(counters.count == 1, "\(lines.suffix(12))")
    }

    @Test("an igbvf VF whose PF strips VLAN 100: the capture holds the tag, `vlan 100` matches, -s cuts the tagged frame")
    func strippedTagOnIgbvf() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = "sim:igbvf,rx=\(samplePath("protocols.pcap")),mac=02:00:00:00:00:02,vlan=100"
        let input = try PcapReader(path: samplePath("protocols.pcap")).readAll()
        let whole = dir + "/vlan.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", port, "-w", whole, "vlan 100"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try PcapReader(path: whole).readAll().map(\.bytes) == [input[5].bytes])
        try expectReadableByTools(whole, frames: 1)
        let tcpdump = try runProcess("/usr/bin/tcpdump", ["-nner", whole])
        #expect(tcpdump.stdout.contains("ethertype 802.1Q (0x8100), length 64: vlan 100, p 0, ethertype IPv4"), "\(tcpdump.stdout)")
        let cut = dir + "/cut.pcap"
        let snapped = try runProcess(try vfpmdExecutable(), ["capture", "--port", port, "-w", cut, "-s", "18", "vlan 100"])
        #expect(snapped.status == 0, "\(snapped.stderr)")
        let frames = try PcapReader(path: cut).readAll()
        #expect(frames.map(\.bytes) == [Array(input[5].bytes.prefix(18))] && frames.map(\.originalLength) == [64])
    }

    @Test("-G 1 for 2.5 seconds: a file per second named by the pattern, together holding every frame written")
    func timeRotation() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("protocols.pcap") + ",loop=0",
                                                            "-w", dir + "/cap-%s.pcap", "-G", "1", "--duration", "2.5", "arp"])
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("cap-") }.sorted()
        #expect(files.count >= 3 && files.count <= 4)
        let seconds = files.compactMap { Int($0.dropFirst(4).dropLast(5)) }
        #expect(seconds.count == files.count)
        #expect(zip(seconds, seconds.dropFirst()).allSatisfy { $1 - $0 >= 1 })
        var total = 0
        for file in files {
            let frames = try PcapReader(path: dir + "/" + file).readAll()
            #expect(frames.allSatisfy { $0.bytes.count == 42 })
            total += frames.count
            try expectReadableByTools(dir + "/" + file, frames: frames.count)
        }
        #expect(UInt64(total) == summaryValue("written", in: result.stderr))
    }

    @Test("a sample captured to the end is written byte-identical to it (--micro for the microsecond ones)",
          arguments: [("sizes.pcap", true), ("protocols.pcap", false), ("jumbo.pcap", true), ("udp64x256.pcap", true)])
    func byteIdentical(name: String, micro: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/" + name
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath(name), "-w", out] + (micro ? ["--micro"] : []))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: samplePath(name))))
    }

    @Test("-w /dev/full: exit 1, the error line first, nothing written, every frame received dropped by the writer")
    func deviceFull() throws {
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=4", "-w", "/dev/full"])
        #expect(run.status == 1)
        #expect(run.stderr.split(separator: "\n").first == "error: writing /dev/full: No space left on device", "\(run.stderr)")
        let received = summaryValue("received", in: run.stderr)
        #expect(received != nil && received! > 0)
        #expect(summaryValue("written", in: run.stderr) == 0)
        #expect(summaryValue("dropped by writer", in: run.stderr) == received)
    }

    @Test("a file stopped by the file size limit (EFBIG): exit 1, the error line first, the file holds exactly the whole records counted written")
    func fileSizeLimit() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/limited.pcap"
        // 64 blocks of the shell's ulimit: 32 or 64 KiB, not a whole number of 80-byte records.
        let run = try runProcess("/bin/sh", ["-c", "ulimit -f 64 && exec \"$0\" \"$@\"", try vfpmdExecutable(),
                                             "capture", "--port", "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=100", "-w", out])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").first == "error: writing \(out): File too large", "\(run.stderr)")
        let frames = try PcapReader(path: out).readAll()
        let written = summaryValue("written", in: run.stderr)
        #expect(frames.count > 0 && written == UInt64(frames.count))
        // The capture stops at the failed write: what it received and did not write is dropped.
        let received = summaryValue("received", in: run.stderr), dropped = summaryValue("dropped by writer", in: run.stderr)
        #expect(received != nil && dropped != nil && dropped! > 0 && received == dropped! + UInt64(frames.count))
        let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int
        #expect(size == 24 + 80 * frames.count && (size ?? 0) <= 64 * 1024)
        let input = try PcapReader(path: samplePath("udp64x256.pcap")).readAll()
        #expect(frames.enumerated().allSatisfy { $0.element == input[$0.offset % input.count] })
        try expectReadableByTools(out, frames: frames.count)
    }

    @Test("-w - into a pipe its reader closes early: exit 1 with the broken pipe as the error line, the summary adds up")
    func standardOutputClosedEarly() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let (out, log, status) = (dir + "/head.bin", dir + "/stderr.txt", dir + "/status")
        let script = "(\"$0\" capture --port \"$1\" -w - 2>\"$2\"; echo $? >\"$3\") | head -c 100 >\"$4\""
        let run = try runProcess("/bin/sh", ["-c", script, try vfpmdExecutable(),
                                             "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=0", log, status, out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: status, encoding: .utf8) == "1\n")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.split(separator: "\n").first == "error: writing standard output: Broken pipe", "\(text)")
        #expect(text.contains("received = written + filtered out + dropped by writer"), "\(text)")
        #expect((summaryValue("dropped by writer", in: text) ?? 0) > 0)
        // The reader got the start of a nanosecond capture: the file header, then records.
        let head = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(head.count == 100 && Array(head.prefix(4)) == [0x4d, 0x3c, 0xb2, 0xa1])
    }
}
