import PMDCore
import Testing
import TestSupport
@testable import Apps

/// The rate in forward's summary is over the time the frames came in, not the quiet wait that
/// ends a run once every input is exhausted.
@Suite(.serialized)
struct ForwardRateTests {
    @Test("inputs exhausted: the rate is over the seconds until the last frame came; the quiet wait is left out")
    func quietWaitIsLeftOut() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let specs = ["sim:ixgbevf,rx=\(samplePath("udp64x256.pcap")),loop=100,mac=02:00:00:00:00:02",
                     "sim:ixgbevf,tx=\(dir)/out.pcap,spoofchk=off"]
        let summary = try ModelLoadTests.forward(specs, lab: SimulatedLab())
        #expect(summary.reason == .inputExhausted && summary.forwarded == 25_600)
        #expect(summary.forwardingSeconds > 0 && summary.seconds - summary.forwardingSeconds >= 0.2,
                "\(summary.forwardingSeconds) of \(summary.seconds) s")
        let rate = Double(summary.forwarded) / summary.forwardingSeconds / 1e6
        let line = try #require(summary.text(names: specs).split(separator: "\n").first)
        #expect(line == String(format: "forward: every input is exhausted after %.2f s; 25600 packets forwarded in %.2f s (%.3f Mpps)",
                               summary.seconds, summary.forwardingSeconds, rate))
        #expect(summary.json(names: specs).contains("\"forwarding_seconds\":"))
    }

    @Test("a run that ends at its duration: the rate is over the whole run")
    func durationRunIsWhole() throws {
        let specs = ["sim:ixgbevf,name=a,link=b", "sim:ixgbevf,name=b,link=a"]
        let summary = try ModelLoadTests.forward(specs, lab: SimulatedLab(), duration: 0.2)
        #expect(summary.reason == .duration && summary.forwardingSeconds == summary.seconds)
        #expect(summary.text(names: specs).hasPrefix(String(format: "forward: %@ after %.2f s; 0 packets forwarded (0.000 Mpps)",
                                                            ForwardStopReason.duration.rawValue, summary.seconds)))
    }
}
