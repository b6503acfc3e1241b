import PMDCore
import Testing
import TestSupport
@testable import Apps

/// The summaries of forward (and bench, in `BenchThreadTests`) state how busy the simulator's
/// engine thread was, with simulated ports only.
@Suite(.serialized)
struct ModelLoadTests {
    /// Forwards between the ports of `specs` until every input is exhausted (a quiet wait of
    /// 0.2 s) or `duration` seconds pass.
    static func forward(_ specs: [String], lab: SimulatedLab, duration: Double? = nil) throws -> ForwardSummary {
        let ports = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
        var config = ForwardConfiguration()
        config.drainQuietSeconds = 0.2
        config.duration = duration
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let summary = forwarder.run(stop: StopRequest(), report: { _ in })
        #expect(OpenedPort.closeAll(ports).isEmpty)
        return summary
    }

    @Test("forward between simulated VFs: the summary states the share of the run the model's thread was busy")
    func simulatedPorts() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let specs = ["sim:ixgbevf,rx=\(samplePath("udp64x256.pcap")),loop=200,mac=02:00:00:00:00:02",
                     "sim:ixgbevf,tx=\(dir)/out.pcap,spoofchk=off"]
        let summary = try Self.forward(specs, lab: SimulatedLab())
        #expect(summary.forwarded == 256 * 200)
        let busy = try #require(summary.modelBusyPercent)
        #expect(busy > 0 && busy <= 100, "\(busy)")
        #expect(summary.text(names: specs).contains("\n  simulated VFs: the model's thread was busy ") && summary.text(names: specs).hasSuffix(" of the forwarding time\n"))
        #expect(summary.json(names: specs).contains("\"model_busy_percent\":"))
    }

    @Test("forward between pcap ports: no model, no such line")
    func pcapPorts() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let specs = ["pcap:rx=\(samplePath("sizes.pcap"))", "pcap:tx=\(dir)/out.pcap"]
        let summary = try Self.forward(specs, lab: SimulatedLab())
        #expect(summary.forwarded == 14)
        #expect(summary.modelBusyPercent == nil)
        #expect(!summary.text(names: specs).contains("simulated VFs"))
        #expect(!summary.json(names: specs).contains("model_busy_percent"))
    }
}
