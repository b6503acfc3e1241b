import Foundation
import Testing

/// Bad input to the built `vfpmd`: every malformed capture in pcaps/bad and a list of bad port
/// specs. Each run ends with exit status 1, exactly one `Error:` line that names the input,
/// and no crash.
struct HostileInputTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Run {
        let status: Int32
        let stderr: String
        /// Lines that are not the driver's or the pcap port's log lines (timestamped).
        var messageLines: [Substring] {
            stderr.split(separator: "\n").filter { !$0.hasPrefix("20") && !$0.hasPrefix("  port ") && !$0.contains("forward: ") }
        }
    }

    static func binary() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vfpmd").path,
            root.appendingPathComponent(".build/debug/vfpmd").path,
        ]
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "vfpmd is not built: run `swift build --build-tests` first")
    }

    static func vfpmd(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        process.currentDirectoryURL = root
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A capture compared with itself, when it has frames under 60 bytes: the difference is
    /// the padding a wire adds, and the sentence says so and how to compare unpadded.
    @Test func comparingACaptureOfShortFramesWithItselfExplainsThePadding() throws {
        let padded = try Self.vfpmd(["compare", "pcaps/protocols.pcap", "pcaps/protocols.pcap"])
        #expect(padded.status == 1)
        let first = padded.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("error: frame 1 differs"), "\(padded.stderr)")
        #expect(first.contains("the reference frame has 42 bytes, padded with zeros to 60"), "\(first)")
        #expect(first.contains("--minimum-frame 0"), "\(first)")
        let unpadded = try Self.vfpmd(["compare", "pcaps/protocols.pcap", "pcaps/protocols.pcap", "--minimum-frame", "0"])
        #expect(unpadded.status == 0 && unpadded.stderr.isEmpty, "\(unpadded.stderr)")
    }

    static let badCaptures = (try? FileManager.default.contentsOfDirectory(
        atPath: root.appendingPathComponent("pcaps/bad").path))?.sorted() ?? []

    @Test func thereAreBadCapturesToTry() {
        #expect(Self.badCaptures.count >= 5)
    }

    @Test(arguments: badCaptures)
    func aMalformedCaptureOnAPcapPortIsOneLineAndExitStatus1(file: String) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vfpmd-hostile-\(getpid())-\(file)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Self.vfpmd(["forward", "--port", "pcap:rx=pcaps/bad/\(file)", "--port", "pcap:tx=\(out)"])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.messageLines.count == 1 && run.messageLines.first?.hasPrefix("error: ") == true, "\(run.stderr)")
        #expect(run.stderr.contains(file))
        #expect(!run.stderr.contains("Fatal error"))
    }

    @Test(arguments: badCaptures)
    func aMalformedCaptureFeedingASimulatedVFIsOneLineAndExitStatus1(file: String) throws {
        let run = try Self.vfpmd(["forward", "--port", "sim:ixgbevf,rx=pcaps/bad/\(file)", "--port", "sim:x550vf"])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.messageLines.count == 1 && run.messageLines.first?.hasPrefix("error: ") == true, "\(run.stderr)")
        #expect(run.stderr.contains(file))
        #expect(!run.stderr.contains("Fatal error"))
    }

    static let badSpecs = [
        "", "pci:", "pci:zz:00.0", "0000:03:20.0", "03:10.8", "pci:03:10.0,queues=0", "pci:03:10.0,rxd=100",
        "pci:03:10.0,mtu=20", "pci:03:10.0,vlan=4096", "pci:03:10.0,mac=01:02", "pci:03:10.0,promisc=maybe",
        "pci:03:10.0,,", "pci:03:10.0,unknown=1", "sim:", "sim:e1000", "sim:ixgbevf,loop=3", "sim:ixgbevf,loop=-1",
        "sim:ixgbevf,name=a b", "sim:ixgbevf,rx=/nonexistent/x.pcap", "sim:ixgbevf,queues=65", "pcap:",
        "pcap:tx=", "pcap:rx=pcaps/sizes.pcap,rx=pcaps/sizes.pcap", "usb:1", "sim:ixgbevf,trust=yes,",
        String(repeating: "x", count: 5000),
    ]

    @Test(arguments: badSpecs)
    func aBadPortSpecIsOneLineAndExitStatus1(spec: String) throws {
        let run = try Self.vfpmd(["forward", "--port", spec, "--port", "sim:x550vf"])
        #expect(run.status == 1, "\(spec): \(run.status) \(run.stderr)")
        // One sentence; a spec error may add the spec with the wrong part marked below it.
        #expect(run.messageLines.filter { $0.hasPrefix("error: ") }.count == 1, "\(spec): \(run.stderr)")
        #expect(run.messageLines.first?.hasPrefix("error: ") == true)
        #expect(run.messageLines.dropFirst().allSatisfy { $0.hasPrefix("  ") }, "\(spec): \(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"))
    }
}
