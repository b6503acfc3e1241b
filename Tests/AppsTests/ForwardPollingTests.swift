import Foundation
import PMDCore
import PcapIO
import Testing
import TestSupport
import VFSimulator
@testable import Apps

/// `forward --poll` and `bench --poll` on simulated VFs: an idle adaptive lane sleeps on its
/// ports' interrupts and forwards every frame that comes later byte for byte; a stop wakes a
/// sleeping lane or capture at once (no sleep runs to its time limit); a bench thread that only
/// measures sleeps between frames; interrupt polling refuses a pcap port with one sentence.
@Suite(.serialized)
struct ForwardPollingTests {
    static let mac = "02:00:00:00:00:02"

    /// Opens `specs` in interrupt mode for `policy`, in a lab of their own.
    static func open(_ specs: [String], policy: PollingPolicy, lab: SimulatedLab) throws -> [OpenedPort] {
        try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0).withInterrupts(policy.interruptSettings) }, lab: lab)
    }

    /// Three simulated VFs of `family` for an adaptive forward lane a → b: a receives what the
    /// test puts on `wire` (it is cabled to c, so it is no finite source), b sends to `out`; the
    /// configuration forwards the frames of sizes.pcap (`input`) and stops.
    struct IdleRig {
        let lab = SimulatedLab()
        let ports: [OpenedPort]
        let vf: SimulatedVF
        let wire = FrameQueue()
        let input: [[UInt8]]
        var config = ForwardConfiguration()

        init(family: String, out: String) throws {
            let policy = PollingPolicy(mode: .adaptive)
            ports = try ForwardPollingTests.open(["sim:\(family),name=a,link=c,mac=\(ForwardPollingTests.mac)",
                                                  "sim:\(family),name=b,tx=\(out),spoofchk=off", "sim:\(family),name=c,link=a"],
                                                 policy: policy, lab: lab)
            vf = try #require(lab.simulatedVF(behind: ports[0].port))
            vf.connect(rx: wire)
            input = try PcapReader(path: samplePath("sizes.pcap")).readAll().map(\.bytes)
            config.pairs = [(0, 1)]
            config.polling = policy
            config.packetLimit = UInt64(input.count)
            config.duration = 30
        }

        /// Puts `frame` on a's wire.
        func send(_ frame: [UInt8]) {
            frame.withUnsafeBytes { _ = wire.enqueue($0.baseAddress!, length: $0.count, timestamp: 0) }
        }
    }

    /// A forward run on a thread of its own.
    final class Run: @unchecked Sendable {
        // @unchecked: written by the forward thread before `done` is signalled, read after.
        var summary: ForwardSummary?
        var timeouts: [UInt64] = []
        let done = DispatchSemaphore(value: 0)
    }

    /// A capture run on a thread of its own.
    final class CaptureRun: @unchecked Sendable {
        // @unchecked: written by the capture thread before `done` is signalled, read after.
        let engine: CaptureEngine
        var summary: CaptureSummary?
        var timeouts: UInt64 = 0
        var polling: [PollingActivity] = []
        let done = DispatchSemaphore(value: 0)
        init(engine: CaptureEngine) { self.engine = engine }
    }

    static func start(_ forwarder: Forwarder, stop: StopRequest) -> Run {
        let run = Run()
        Thread {
            run.summary = forwarder.run(stop: stop, report: { _ in })
            run.timeouts = forwarder.laneSleepTimeouts
            run.done.signal()
        }.start()
        return run
    }

    @Test("an adaptive lane between two simulated VFs sleeps while idle, then forwards every frame sent later byte for byte",
          arguments: ["ixgbevf", "igbvf"])
    func adaptiveLaneSleepsThenForwards(family: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let rig = try IdleRig(family: family, out: out)
        let (lab, ports, vf, input) = (rig.lab, rig.ports, rig.vf, rig.input)
        let forwarder = try Forwarder(ports: ports, configuration: rig.config)
        for p in ports { try p.port.start() }
        let run = Self.start(forwarder, stop: StopRequest())
        // In two halves, each to a sleeping lane (or one between two sleeps, whose re-check
        // before the next sleep finds it).
        for (index, frame) in input.enumerated() {
            if index == 0 { Thread.sleep(forTimeInterval: 1) }
            if index == input.count / 2 { Thread.sleep(forTimeInterval: 0.3) }
            rig.send(frame)
        }
        #expect(run.done.wait(timeout: .now() + 20) == .success)
        let summary = try #require(run.summary)
        #expect(summary.reason == .count && summary.forwarded == UInt64(input.count))
        let lane = try #require(summary.lanes.first)
        #expect(lane.polling == "adaptive" && lane.asleepSeconds > 0.5 && lane.wakeUps >= 1, "\(lane)")
        #expect(vf.interruptMessages(vector: 0) >= 1)
        for p in ports {
            let model = try #require(lab.simulatedVF(behind: p.port))
            #expect(model.violations.isEmpty && model.dmaFaults == 0)
        }
        // Every buffer back in its pool.
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(try PcapReader(path: out).readAll().map(\.bytes) == input)
    }

    @Test("a PF reset while the lane sleeps: its mailbox interrupt has the port re-initialised before any report, and the lane forwards what comes after",
          arguments: ["ixgbevf", "igbvf"])
    func pfResetWhileAsleep(family: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        var rig = try IdleRig(family: family, out: out)
        let (ports, vf, input) = (rig.ports, rig.vf, rig.input)
        // No report (and no maintenance of its own) before the run ends.
        rig.config.reportInterval = 60
        let forwarder = try Forwarder(ports: ports, configuration: rig.config)
        for p in ports { try p.port.start() }
        let run = Self.start(forwarder, stop: StopRequest())
        Thread.sleep(forTimeInterval: 0.5)
        vf.inject(.pfReset(microseconds: 5000))
        Thread.sleep(forTimeInterval: 1)
        for frame in input { rig.send(frame) }
        #expect(run.done.wait(timeout: .now() + 20) == .success)
        let summary = try #require(run.summary)
        #expect(summary.reason == .count && summary.forwarded == UInt64(input.count))
        #expect(summary.portStats[0].resets >= 1, "\(summary.portStats.map(\.resets))")
        let lane = try #require(summary.lanes.first)
        #expect(lane.parks >= 1 && lane.wakeUps >= 1 && lane.asleepSeconds > 0.5, "\(lane)")
        #expect(vf.interruptMessages(vector: 1) >= 1)
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(try PcapReader(path: out).readAll().map(\.bytes) == input)
    }

    @Test("a stop wakes a sleeping forward lane at once: no sleep runs to its limit", arguments: [PollingMode.adaptive, .interrupt])
    func stopWakesASleepingLane(mode: PollingMode) throws {
        let policy = PollingPolicy(mode: mode)
        let lab = SimulatedLab()
        let ports = try Self.open(["sim:ixgbevf,name=a,link=b", "sim:ixgbevf,name=b,link=a"], policy: policy, lab: lab)
        var config = ForwardConfiguration()
        config.polling = policy
        // A sleep would last a minute if nothing woke it; so would the run.
        config.longestSleepMilliseconds = 60_000
        config.reportInterval = 60
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let stop = StopRequest()
        let run = Self.start(forwarder, stop: stop)
        Thread.sleep(forTimeInterval: 0.5)
        stop.request()
        #expect(run.done.wait(timeout: .now() + 120) == .success)
        let summary = try #require(run.summary)
        #expect(summary.reason == .signal)
        #expect(summary.lanes.first?.asleepSeconds ?? 0 > 0.2, "\(summary.lanes)")
        #expect(run.timeouts == [0])
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }

    @Test("a stop wakes a sleeping capture at once: no sleep runs to its limit")
    func stopWakesASleepingCapture() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let policy = PollingPolicy(mode: .adaptive)
        let lab = SimulatedLab()
        let ports = try Self.open(["sim:igbvf,name=a,link=b", "sim:igbvf,name=b"], policy: policy, lab: lab)
        var options = CaptureOptions(output: dir + "/o.pcap")
        options.polling = policy
        // With a stop descriptor only the next report bounds a sleep: a minute away.
        options.reportIntervalSeconds = 60
        let run = CaptureRun(engine: try CaptureEngine(port: ports[0].port, options: options))
        let stop = StopRequest()
        Thread {
            run.summary = try? run.engine.run(shouldStop: { stop.isRequested }, stopDescriptor: stop.descriptor)
            run.timeouts = run.engine.sleepTimeouts
            run.polling = run.engine.polling
            run.done.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.5)
        stop.request()
        #expect(run.done.wait(timeout: .now() + 120) == .success)
        #expect(run.summary?.reason == .interrupted)
        #expect(run.polling.first?.asleepSeconds ?? 0 > 0.2, "\(run.polling)")
        #expect(run.timeouts == 0)
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }

    @Test("bench --poll adaptive: the measuring thread sleeps between frames, loses none and reports its polling")
    func benchAdaptive() throws {
        let policy = PollingPolicy(mode: .adaptive)
        let lab = SimulatedLab()
        let ports = try Self.open(["sim:ixgbevf,name=a,link=b", "sim:ixgbevf,name=b,link=a"], policy: policy, lab: lab)
        for p in ports { try p.port.start() }
        var config = BenchConfiguration()
        config.mode = .loop
        config.packetsPerSecond = 200
        config.duration = 1.5
        config.polling = policy
        let bench = try Bench(ports: ports, configuration: config)
        let summary = bench.run(stop: StopRequest(), report: { _ in })
        let sender = summary.ports[0], meter = summary.ports[1]
        #expect(sender.polling == "busy" && sender.asleepSeconds == 0)
        #expect(meter.polling == "adaptive" && meter.asleepSeconds > 0.3 && meter.wakeUps >= 10, "\(meter)")
        let sent = sender.queues.reduce(0) { $0 + $1.txPackets }, received = meter.queues.reduce(0) { $0 + $1.rxPackets }
        // No gap in any flow's sequence: nothing lost. The last frames may still be on the
        // simulated wire when the bench stops waiting for quiet (60 ms on a loaded machine).
        #expect(sent > 100 && received <= sent && received + 20 > sent && meter.lost == 0,
                "sent \(sent), received \(received), lost \(meter.lost)")
        #expect(summary.table.contains("    polling: adaptive, "))
        #expect(summary.json.contains("\"polling\":\"adaptive\""))
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }

    @Test("interrupt polling refuses a pcap port in forward and bench with one sentence; adaptive keeps its lane busy")
    func pcapPortCannotInterrupt() throws {
        let pcap = try OpenedPort.open(PortSpec(parsing: "pcap:rx=\(samplePath("sizes.pcap"))"), lab: SimulatedLab())
        let lab = SimulatedLab()
        let vf = try Self.open(["sim:igbvf,name=v,spoofchk=off"], policy: PollingPolicy(mode: .interrupt), lab: lab)[0]
        defer { _ = OpenedPort.closeAll([pcap, vf]) }
        var config = ForwardConfiguration()
        config.polling = PollingPolicy(mode: .interrupt)
        let sentence = "--poll interrupt: port pcap:rx=\(samplePath("sizes.pcap")) cannot wake its forwarding lane by an interrupt "
            + "(only pci: and sim: ports opened in interrupt mode can); use --poll adaptive, which polls it busily"
        #expect { _ = try Forwarder(ports: [pcap, vf], configuration: config) } throws: { "\($0)" == sentence }
        var bench = BenchConfiguration()
        bench.polling = PollingPolicy(mode: .interrupt)
        #expect { _ = try Bench(ports: [pcap], configuration: bench) } throws: {
            "\($0)" == sentence.replacingOccurrences(of: "its forwarding lane", with: "its bench thread")
        }
        config.polling = PollingPolicy(mode: .adaptive)
        config.drainQuietSeconds = 0.1
        let forwarder = try Forwarder(ports: [pcap, vf], configuration: config)
        for p in [pcap, vf] { try p.port.start() }
        let summary = forwarder.run(stop: StopRequest(), report: { _ in })
        #expect(summary.lanes.map(\.polling) == ["busy"] && summary.lanes[0].asleepSeconds == 0)
        #expect(summary.ports[0].received == 14)
    }
}

/// The sleeper and the simulated VF's MSI-X together: a thread that re-arms as soon as a
/// message woke it gets a message for every frame that comes while it sleeps (the VF's
/// auto-mask takes effect with the message, never after the thread's next arm).
@Suite(.serialized)
struct SleeperWakeUpTests {
    /// Counters of the receiving thread, read once it ended.
    final class Tally: @unchecked Sendable {
        // @unchecked: written by the receiving thread before `done` is signalled, read after.
        var received = 0
        let stop = StopRequest()
        let done = DispatchSemaphore(value: 0)
    }

    @Test("a frame every 5 ms to a thread that sleeps after every empty poll: no sleep runs to its limit, every frame arrives",
          arguments: ["ixgbevf", "igbvf"])
    func everyFrameWakesTheSleeper(family: String) throws {
        let lab = SimulatedLab()
        let settings = PollingPolicy(mode: .interrupt).interruptSettings
        let opened = try OpenedPort.open(PortSpec(parsing: "sim:\(family),name=a,mac=\(ForwardPollingTests.mac)").withInterrupts(settings), lab: lab)
        let vf = try #require(lab.simulatedVF(behind: opened.port))
        let wire = FrameQueue()
        vf.connect(rx: wire)
        try opened.port.start()
        let tally = Tally()
        let sleeper = try #require(InterruptSleeper(ports: [opened.port], mailbox: .handOver(MaintenanceRequest()),
                                                    wakeDescriptors: [tally.stop.descriptor]))
        let port = opened.port
        Thread {
            var batch = PacketBatch()
            while !tally.stop.isRequested {
                let n = port.receive(queue: 0, into: &batch)
                tally.received += n
                batch.removeAll()
                // A lost message would leave the thread asleep for a second: a timeout.
                if n == 0 { _ = sleeper.sleep(timeoutMilliseconds: 1000) }
            }
            while true {
                let n = port.receive(queue: 0, into: &batch)
                batch.removeAll()
                if n == 0 { break }
                tally.received += n
            }
            tally.done.signal()
        }.start()
        let frame = try PcapReader(path: samplePath("sizes.pcap")).readAll()[0].bytes
        for _ in 0..<100 {
            Thread.sleep(forTimeInterval: 0.005)
            frame.withUnsafeBytes { _ = wire.enqueue($0.baseAddress!, length: $0.count, timestamp: 0) }
        }
        let deadline = Date().addingTimeInterval(10)
        while wire.count > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        Thread.sleep(forTimeInterval: 0.05)
        tally.stop.request()
        #expect(tally.done.wait(timeout: .now() + 10) == .success)
        #expect(tally.received == 100)
        #expect(sleeper.timeouts == 0, "\(sleeper.wakeUps) wake-ups, \(vf.interruptMessages(vector: 0)) messages")
        #expect(sleeper.wakeUps >= 1 && sleeper.wakeUps <= 100)
        #expect(OpenedPort.closeAll([opened]).isEmpty)
    }
}
