import Foundation
import Testing
import TestSupport

/// `vfpmd forward --poll` and `vfpmd bench --poll` through the executable: interrupt mode
/// refuses a pcap port with one sentence, a stop signal ends a sleeping forward with 0 and a
/// summary saying how its lane slept, an adaptive bench reports its measuring thread's sleeps.
@Suite struct ForwardPollingCommandTests {
    @Test("--poll interrupt with a pcap port: one error sentence, exit 1, for forward and bench",
          arguments: [(["forward", "--port", "pcap:rx=\(samplePath("sizes.pcap"))", "--port", "sim:igbvf"], "its forwarding lane"),
                      (["bench", "--mode", "rx", "--duration", "1", "--port", "pcap:rx=\(samplePath("sizes.pcap"))"], "its bench thread")])
    func interruptRefusesAPcapPort(arguments: [String], waking: String) throws {
        let result = try runProcess(try vfpmdExecutable(), arguments + ["--poll", "interrupt"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: --poll interrupt: port pcap:rx=\(samplePath("sizes.pcap")) cannot wake \(waking) by an interrupt"),
                "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 1)
    }

    @Test("SIGINT ends an adaptive forward whose lane sleeps: exit 0, the JSON summary says it slept",
          arguments: ["adaptive", "interrupt"])
    func sigintWhileAsleep(mode: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = ["forward", "--json", "--duration", "60", "--poll", mode,
                             "--port", "sim:ixgbevf,name=a,link=b", "--port", "sim:igbvf,name=b,link=a"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The first per-second report: the lane has been idle, and asleep, for a second.
        let firstLine = out.fileHandleForReading.availableLine(within: 15)
        #expect(firstLine?.contains("\"polling\":\"\(mode)\"") == true, "\(firstLine ?? "")")
        kill(process.processIdentifier, SIGINT)
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data((rest.split(separator: "\n").last ?? "").utf8)) as? [String: Any]
        #expect(summary?["reason"] as? String == "interrupted")
        let lane = (summary?["lanes"] as? [[String: Any]])?.first
        #expect(lane?["polling"] as? String == mode)
        #expect(((lane?["asleep_seconds"] as? NSNumber)?.doubleValue ?? 0) > 0.5, "\(rest)")
        #expect(stderr.contains("  lane 0:1 queue 0: \(mode), "), "\(stderr)")
    }

    @Test("bench --poll adaptive over two cabled simulated VFs: exit 0, the measuring port's line says it slept and woke")
    func benchAdaptive() throws {
        let result = try runProcess(try vfpmdExecutable(), ["bench", "--mode", "loop", "--rate", "1000", "--duration", "1.5", "--poll", "adaptive",
                                                            "--port", "sim:ixgbevf,name=a,link=b", "--port", "sim:ixgbevf,name=b,link=a"])
        #expect(result.status == 0, "\(result.stderr)")
        // "    polling: adaptive, 1.21 s asleep, 1350 wake-ups" under port 1 in the summary.
        let summary = result.stderr.components(separatedBy: "summary after").last ?? ""
        let line = summary.split(separator: "\n").first { $0.hasPrefix("    polling: adaptive, ") }
        let words = line?.split(separator: " ") ?? []
        #expect(words.count == 7 && (Double(words[2]) ?? 0) > 0 && (Int(words[5]) ?? 0) > 0, "\(result.stderr)")
    }
}

extension FileHandle {
    /// The first line written to the handle, waiting at most `seconds` (nil: none came).
    func availableLine(within seconds: Double) -> String? {
        var text = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let chunk = availableData
            if chunk.isEmpty { return nil }
            text += String(decoding: chunk, as: UTF8.self)
            if let end = text.firstIndex(of: "\n") { return String(text[..<end]) }
        }
        return nil
    }
}
