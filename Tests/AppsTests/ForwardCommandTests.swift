import Apps
import Foundation
import PMDCore
import PcapIO
import Testing
import TestSupport
import VFSimulator

/// `vfpmd forward` run as users run it, and link loss under forwarding.
@Suite("vfpmd forward", .serialized)
struct ForwardCommandTests {
    /// Runs `vfpmd forward` with `arguments` (stopping after 20 s at the latest).
    func forward(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(try vfpmdExecutable(), ["forward", "--duration", "20"] + arguments)
    }

    @Test("pcap port to pcap port: every frame, unchanged")
    func pcapToPcap() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let result = try forward(["--port", "pcap:rx=" + samplePath("protocols.pcap"), "--port", "pcap:tx=" + out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("every input is exhausted"))
        var comparison = CaptureComparison(expected: samplePath("protocols.pcap"), actual: out)
        comparison.minimumFrame = 0
        #expect(try comparison.run() == .identical(frames: 10))
        try expectReadableByTools(out, frames: 10)
    }

    @Test("an igbvf VF whose PF strips VLAN 7: io forwarding sends the 9000-byte tagged frame whole, to a VF and to a pcap port",
          arguments: ["sim:igbvf,name=b,spoofchk=off,mtu=9000,tx=", "pcap:tx="])
    func strippedTagIsInsertedAgain(output: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let result = try forward(["--port", "sim:igbvf,name=a,rx=\(samplePath("jumbo.pcap")),mac=02:00:00:00:00:02,vlan=7,mtu=9000",
                                  "--port", output + out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try CaptureComparison(expected: samplePath("jumbo.pcap"), actual: out).run() == .identical(frames: 3))
        try expectReadableByTools(out, frames: 3)
        let tshark = try runProcess("/usr/bin/tshark", ["-r", out, "-Y", "vlan.id == 7", "-T", "fields", "-e", "frame.len"])
        #expect(tshark.stdout == "9000\n")
    }

    @Test("SIGINT ends a forward of an endless source with a clean summary and no buffer lost")
    func sigint() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = ["forward", "--duration", "20",
                             "--port", "sim:ixgbevf,name=a,rx=" + samplePath("udp64x256.pcap") + ",loop=0,mac=02:00:00:00:00:02",
                             "--port", "sim:ixgbevf,name=b,tx=" + out + ",spoofchk=off"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Forwarding: frames reach the output file.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, ((try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0) < 1 << 20 {
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("forward: interrupted"))
        #expect(!text.contains("not returned"))
        let forwarded = text.split(separator: "\n").first { $0.hasPrefix("forward: ") }
            .flatMap { $0.split(separator: ";").last?.split(separator: " ").first }.flatMap { UInt64($0) }
        let written = try PcapReader(path: out).readAll().count
        #expect(forwarded != nil && UInt64(written) == forwarded)
    }

    @Test("a link that goes down drops what is sent meanwhile, counted, and forwarding resumes")
    func linkDownAndUp() throws {
        let lab = SimulatedLab()
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let specs = ["sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),loop=400,mac=02:00:00:00:00:02",
                     "sim:ixgbevf,name=b,tx=\(out),spoofchk=off"]
        let ports = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
        let vfB = try #require(lab.simulatedVF(behind: ports[1].port))
        var config = ForwardConfiguration()
        config.drainQuietSeconds = 0.2
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        // Link down after the first frames went through, up again a moment later.
        let flapper = Thread {
            while vfB.counters.txFrames < 1000 { usleep(1000) }
            vfB.inject(.linkDown)
            usleep(100_000)
            vfB.inject(.linkUp(speedMbps: 10_000))
        }
        flapper.start()
        let summary = forwarder.run(report: { _ in })
        let counters = vfB.counters
        #expect(OpenedPort.closeAll(ports).isEmpty)
        let written = UInt64(try PcapReader(path: out).readAll().count)
        #expect(summary.reason == .inputExhausted)
        #expect(summary.forwarded == 256 * 400)
        #expect(counters.txLinkDown > 0)
        #expect(written + counters.txLinkDown == summary.forwarded)
        #expect(written > 1000)  // frames went out after the link came back
    }

    /// The numbers of the error line's "(K frames written to it, M dropped)".
    func fileCounts(in line: Substring) -> (written: Int, dropped: Int)? {
        guard let open = line.lastIndex(of: "(") else { return nil }
        let words = line[open...].dropFirst().split(separator: " ")
        guard words.count == 7, let written = Int(words[0]), let dropped = Int(words[5]) else { return nil }
        return (written, dropped)
    }

    @Test("an output wire or port that stops taking writes (a full device, the file size limit): exit 1, the error line first, its counts are the records in the file",
          arguments: [(false, "/dev/full"), (true, "/dev/full"), (false, "limited.pcap"), (true, "limited.pcap")])
    func outputFails(simulated: Bool, file: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = file.hasPrefix("/") ? file : dir + "/" + file
        let input = samplePath("udp64x256.pcap")
        let specs = simulated
            ? ["sim:ixgbevf,rx=\(input),loop=100,mac=02:00:00:00:00:02", "sim:ixgbevf,tx=\(out),spoofchk=off"]
            : ["pcap:rx=\(input),loop=100", "pcap:tx=\(out)"]
        // 64 blocks of the shell's ulimit: 32 or 64 KiB, not a whole number of 80-byte records.
        let run = try runProcess("/bin/sh", ["-c", "ulimit -f 64 && exec \"$0\" \"$@\"", try vfpmdExecutable(),
                                             "forward", "--duration", "20", "--port", specs[0], "--port", specs[1]])
        #expect(run.status == 1, "\(run.stderr)")
        // The per-second table comes before it when the failure took over a second to come.
        let first = run.stderr.split(separator: "\n")
            .drop { $0.range(of: #"^ *[0-9.]+s? "#, options: .regularExpression) != nil }.first ?? ""
        let reason = file.hasPrefix("/") ? "No space left on device" : "File too large"
        #expect(first.hasPrefix("error: \(specs[1]): writing \(out): \(reason) ("), "\(run.stderr)")
        let counts = try #require(fileCounts(in: first), "\(run.stderr)")
        #expect(counts.written + counts.dropped == 25_600)
        if file.hasPrefix("/") {
            #expect(counts.written == 0)
        } else {
            let frames = try PcapReader(path: out).readAll()
            #expect(counts.written == frames.count && frames.count > 0 && counts.dropped > 0)
            let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int
            #expect(size == 24 + 80 * frames.count)
            try expectReadableByTools(out, frames: frames.count)
        }
    }
}
