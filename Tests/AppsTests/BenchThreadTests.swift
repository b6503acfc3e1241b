import PMDCore
import PcapIO
import Testing
import TestSupport
@testable import Apps

/// `bench --cores`: the lanes (port queues) take the CPUs in turn, and lanes given the same
/// CPU share one thread, which sends and measures them in turn, and sleeps on all their
/// interrupts at once when it only measures.
@Suite(.serialized)
struct BenchThreadTests {
    @Test("the plan: a thread per lane without CPUs; with CPUs, a thread per CPU listed, serving the lanes given it in turn")
    func plan() {
        #expect(BenchThreadPlan(laneCount: 3, cores: []).threads == [.init(core: nil, lanes: [0]), .init(core: nil, lanes: [1]),
                                                                  .init(core: nil, lanes: [2])])
        #expect(BenchThreadPlan(laneCount: 2, cores: [1, 1]).threads == [.init(core: 1, lanes: [0, 1])])
        #expect(BenchThreadPlan(laneCount: 3, cores: [7]).threads == [.init(core: 7, lanes: [0, 1, 2])])
        #expect(BenchThreadPlan(laneCount: 4, cores: [2, 3]).threads == [.init(core: 2, lanes: [0, 2]), .init(core: 3, lanes: [1, 3])])
        #expect(BenchThreadPlan(laneCount: 2, cores: [4, 5, 6]).threads == [.init(core: 4, lanes: [0]), .init(core: 5, lanes: [1])])
        #expect(BenchThreadPlan(laneCount: 0, cores: [1]).threads.isEmpty)
    }

    @Test("loop on one CPU: one thread sends on the first port and measures the last; every frame sent arrives, in order")
    func loopOnOneThread() throws {
        let a = try MemoryPort(name: "a", frames: [], mac: MACAddress("02:00:00:00:00:0a")!)
        let b = try MemoryPort(name: "b", frames: [], mac: MACAddress("02:00:00:00:00:0b")!)
        a.peer = b
        var config = BenchConfiguration()
        config.mode = .loop
        config.flows = 4
        config.packetsPerSecond = 100_000
        config.duration = 0.5
        config.cores = [0, 0]
        let bench = try Bench(ports: [opened(a), opened(b)], configuration: config)
        let summary = bench.run(stop: StopRequest(), report: { _ in })
        #expect(bench.threadCount == 1)
        let sent = summary.ports[0].queues.reduce(0) { $0 + $1.txPackets }
        let received = summary.ports[1].queues.reduce(0) { $0 + $1.rxPackets }
        #expect(sent > 1000 && received == sent, "sent \(sent), received \(received)")
        #expect(summary.ports[1].lost == 0 && summary.ports[1].reordered == 0)
        #expect(a.pool.inUse == 0)
        #expect(OpenedPort.closeAll([opened(a), opened(b)]).isEmpty)
    }

    @Test("two measuring ports on one CPU with --poll interrupt: their thread sleeps on both ports' interrupts and counts every frame each port received")
    func measuringPortsShareASleepingThread() throws {
        let policy = PollingPolicy(mode: .interrupt)
        let lab = SimulatedLab()
        let ports = try ForwardPollingTests.open(
            ["sim:ixgbevf,name=x,rx=\(samplePath("sizes.pcap")),mac=\(ForwardPollingTests.mac)",
             "sim:igbvf,name=y,rx=\(samplePath("udp64x256.pcap")),mac=\(ForwardPollingTests.mac)"], policy: policy, lab: lab)
        for p in ports { try p.port.start() }
        var config = BenchConfiguration()
        config.mode = .rx
        config.queues = 1
        config.duration = 1
        config.polling = policy
        config.cores = [0]
        let bench = try Bench(ports: ports, configuration: config)
        let summary = bench.run(stop: StopRequest(), report: { _ in })
        #expect(bench.threadCount == 1)
        let expected = [try PcapReader(path: samplePath("sizes.pcap")).readAll().count,
                        try PcapReader(path: samplePath("udp64x256.pcap")).readAll().count]
        for (port, count) in zip(summary.ports, expected) {
            #expect(port.queues.reduce(0) { $0 + $1.rxPackets } == UInt64(count), "\(port)")
            #expect(port.polling == "interrupt" && port.asleepSeconds > 0.5 && port.asleepSeconds < 1.5, "\(port)")
        }
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }

    @Test("loop over two simulated VFs on one CPU: nothing lost, and the summary states the share of the run the model's thread was busy")
    func simulatedLoopReportsTheModelsLoad() throws {
        let lab = SimulatedLab()
        // `b`'s ring holds all of `a`'s: an engine thread the machine left unscheduled for a
        // while moves `a`'s full transmit ring at once, and nothing overflows.
        let specs = ["sim:ixgbevf,name=a,link=b,txd=512", "sim:ixgbevf,name=b,link=a,rxd=4096"]
        let ports = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
        for p in ports { try p.port.start() }
        var config = BenchConfiguration()
        config.mode = .loop
        config.packetsPerSecond = 20_000
        config.duration = 0.5
        config.cores = [0, 0]
        let bench = try Bench(ports: ports, configuration: config)
        let summary = bench.run(stop: StopRequest(), report: { _ in })
        #expect(bench.threadCount == 1)
        let sent = summary.ports[0].queues.reduce(0) { $0 + $1.txPackets }
        let received = summary.ports[1].queues.reduce(0) { $0 + $1.rxPackets }
        #expect(sent > 1000 && received <= sent && received + 20 > sent && summary.ports[1].lost == 0,
                "sent \(sent), received \(received), lost \(summary.ports[1].lost)")
        let busy = try #require(summary.modelBusyPercent)
        #expect(busy > 0 && busy <= 100, "\(busy)")
        #expect(summary.table.contains("  simulated VFs: the model's thread was busy "))
        #expect(summary.json.contains("\"model_busy_percent\":"))
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }
}
