import Foundation
import PcapIO
import Testing
import TestSupport

/// `vfpmd capture --poll` through the executable: the summary says how each port was polled,
/// interrupt mode refuses a port that cannot interrupt with one sentence, bad values are one
/// error line.
@Suite struct CapturePollingCommandTests {
    @Test("an adaptive capture of a simulated VF fed from a file writes every frame and says it slept; busy says busy",
          arguments: ["adaptive", "busy"])
    func summaryShowsThePolling(mode: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/o.pcap"
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "sim:igbvf,rx=\(samplePath("sizes.pcap")),mac=02:00:00:00:00:02",
                                                            "-w", out, "--poll", mode, "--duration", "1.5"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try PcapReader(path: out).readAll().map(\.bytes) == PcapReader(path: samplePath("sizes.pcap")).readAll().map(\.bytes))
        let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("  polling: ") }
        if mode == "busy" {
            #expect(line == "  polling: busy", "\(result.stderr)")
        } else {
            // "  polling: adaptive, 0.01 s asleep, 0 wake-ups"
            let words = line?.split(separator: " ") ?? []
            #expect(words.count == 7 && words[1] == "adaptive," && Double(words[2]) != nil && words[4] == "asleep,", "\(result.stderr)")
        }
    }

    @Test("two idle cabled simulated VFs captured adaptively for 1.5 s: each port's line says it slept most of the time")
    func idlePortsSleep() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "sim:ixgbevf,name=a,link=b", "--port", "sim:ixgbevf,name=b",
                                                            "-w", dir + "/o.pcapng", "--duration", "1.5"])
        #expect(result.status == 0, "\(result.stderr)")
        // The live line of the first second names each port's polling too.
        let live = result.stderr.split(separator: "\n").first { $0.hasPrefix("capture 1.") }
        #expect(live?.contains("; polling sim:ixgbevf,name=a,link=b: adaptive, ") == true
                    && live?.contains(", sim:ixgbevf,name=b: adaptive, ") == true, "\(result.stderr)")
        for name in ["sim:ixgbevf,name=a,link=b", "sim:ixgbevf,name=b"] {
            let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("  polling \(name): adaptive, ") }
            let asleep = line.flatMap { Double($0.split(separator: " ")[3]) } ?? 0
            #expect(asleep > 0.75, "\(result.stderr)")
        }
    }

    @Test("--poll interrupt with a pcap port: one error sentence, exit 1, no file")
    func interruptRefusesAPcapPort() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=\(samplePath("sizes.pcap"))",
                                                            "-w", dir + "/o.pcap", "--poll", "interrupt"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: --poll interrupt: port pcap:rx=\(samplePath("sizes.pcap")) cannot wake the capture by an interrupt"),
                "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 1)
    }

    @Test("bad --poll, --poll-idle and --moderation values: one error line, exit 64",
          arguments: [["--poll", "spin"], ["--poll-idle", "0"], ["--poll-idle=-5"], ["--poll-idle", "1e300"],
                      ["--poll-idle", "inf"], ["--poll-idle", "18446744073709551616"], ["--moderation", "1001"],
                      ["--moderation=-1"], ["--poll", "busy", "--moderation", "10"], ["--poll", "interrupt", "--poll-idle", "10"]])
    func badValues(_ options: [String]) throws {
        let result = try runProcess(try vfpmdExecutable(), ["capture", "--port", "pcap:rx=\(samplePath("sizes.pcap"))", "-w", "/dev/null"] + options)
        #expect(result.status == 64, "\(options): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: --"), "\(options): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 1, "\(options): \(result.stderr)")
    }
}
