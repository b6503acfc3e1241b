@testable import Apps
import Foundation
import PMDCore
import Testing
import TestSupport

/// A simulated port's filter drops in its statistics, their differences, and the advice worded
/// for the reason that dropped most.
struct FilterDropReportTests {
    @Test func theDeltaOfTheStatisticsSubtractsEveryReason() {
        var before = PortStats(), after = PortStats()
        before.filterDrops.unicastAddress = 10
        after.filterDrops.unicastAddress = 25
        after.filterDrops.vlan = 3
        let d = after.delta(since: before)
        #expect(d.filterDrops.unicastAddress == 15 && d.filterDrops.vlan == 3 && d.filterDrops.total == 18)
        #expect(d.filterDrops.mainReason == .unicastAddress && PortStats().filterDrops.mainReason == nil)
    }

    @Test func theIntervalJSONCarriesTheDropsOnlyWhenThereAreSome() {
        var dropping = PortStats()
        dropping.filterDrops.multicastGroup = 4
        let interval = ForwardInterval(
            seconds: 1, elapsed: 1, names: ["a", "b"], totals: [ForwardPortTotals(), ForwardPortTotals()],
            previousTotals: [ForwardPortTotals(), ForwardPortTotals()], stats: [dropping, PortStats()],
            previousStats: [PortStats(), PortStats()], links: [.down, .down], lanes: [])
        let report = ForwardReport(interval)
        #expect(report.ports[0].filterDrops?.multicastGroup == 4 && report.ports[1].filterDrops == nil)
        #expect(report.json.components(separatedBy: "\"filter_drops\"").count == 2)
    }

    @Test func aSimulatedPortCountsTheFramesToAnotherVLANAndAdvisesJoiningIt() throws {
        let lab = SimulatedLab()
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        // jumbo.pcap: three frames to 02:00:00:00:00:02, one of them tagged with VLAN 7.
        let specs = ["sim:x550vf,rx=\(samplePath("jumbo.pcap")),mac=02:00:00:00:00:02,mtu=9000",
                     "sim:x550vf,tx=\(dir)/out.pcap,spoofchk=off,mtu=9000"]
        let ports = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
        var config = ForwardConfiguration()
        config.drainQuietSeconds = 0.2
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let summary = forwarder.run(report: { _ in })
        #expect(OpenedPort.closeAll(ports).isEmpty)
        var expected = FilterDrops()
        expected.vlan = 1
        #expect(summary.portStats[0].filterDrops == expected && summary.ports[0].received == 2)
        #expect(summary.filterDrops[0]?.advice.hasPrefix("set vlan=7 on the port spec") == true)
        #expect(summary.filterDrops[1] == nil)
        #expect(summary.text(names: specs).contains("\n    not delivered by the PF's filters: 1 (1 VLAN not joined)\n"))
    }
}
