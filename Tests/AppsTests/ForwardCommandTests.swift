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
}
