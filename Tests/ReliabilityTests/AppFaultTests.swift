import Apps
import Foundation
import DriverTestSupport
import PMDCore
import Synchronization
import Testing
import VFSimulator

/// Faults under the forwarder, on simulated VFs run by an engine thread: the forwarder keeps
/// running through what the driver recovers from, and finishes with a summary when a device
/// is removed.
@Suite(.serialized)
struct AppFaultTests {
    /// Two simulated VFs, the first fed from a looped capture, the second forwarding out.
    static func openPair(_ lab: SimulatedLab, tag: String) throws -> [OpenedPort] {
        let root = HostileInputTests.root.path
        let texts = ["sim:ixgbevf,name=in\(tag),rx=\(root)/pcaps/udp64x256.pcap,loop=0,mac=02:00:00:00:00:02",
                     "sim:igbvf,name=out\(tag),spoofchk=off"]
        return try OpenedPort.openAll(texts.map { try PortSpec(parsing: $0) }, lab: lab)
    }

    /// Runs `action` on another thread after `seconds`.
    static func after(_ seconds: Double, _ action: @escaping @Sendable () -> Void) {
        let thread = Thread {
            usleep(UInt32(seconds * 1e6))
            action()
        }
        thread.start()
    }

    @Test func surpriseRemovalEndsTheForwarderWithASummary() throws {
        let lab = SimulatedLab()
        let ports = try Self.openPair(lab, tag: "r")
        var config = ForwardConfiguration()
        config.reportInterval = 0.05
        config.duration = 20
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let vf = try #require(lab.simulatedVF(behind: ports[1].port))
        let removedAt = Mutex<UInt64>(0)
        Self.after(0.3) {
            removedAt.withLock { $0 = MonotonicClock.nanoseconds() }
            vf.inject(.surpriseRemoval)
        }
        let summary = forwarder.run { _ in }
        let stoppedAt = MonotonicClock.nanoseconds()
        #expect(summary.reason == .portRemoved)
        #expect(summary.reason.rawValue == "a port's device was removed")
        // Seen at the next poll: one report interval, plus the time to park the lanes.
        let latency = Double(stoppedAt - removedAt.withLock { $0 }) / 1e9
        #expect(latency < 0.05 + 0.5, "stopped \(latency) s after the removal")
        #expect(ports[1].isRemoved && !ports[0].isRemoved)
        #expect(summary.ports[0].received > 0)
        #expect(summary.ports[0].received == summary.ports[1].sent + summary.ports[1].dropped)
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(lab.container.mappedRegionCount == 0)
    }

    /// On two simulated 82599 VFs (whose link is read five times, 100 µs apart, and whose
    /// counters are registers), fifty statistics rounds in a second never park a lane.
    @Test func statisticsNeverParkTheLanesOfHealthyPorts() throws {
        let lab = SimulatedLab()
        let root = HostileInputTests.root.path
        let texts = ["sim:ixgbevf,name=q1,rx=\(root)/pcaps/udp64x256.pcap,loop=0,mac=02:00:00:00:00:02",
                     "sim:ixgbevf,name=q2,spoofchk=off"]
        let ports = try OpenedPort.openAll(texts.map { try PortSpec(parsing: $0) }, lab: lab)
        var config = ForwardConfiguration()
        config.reportInterval = 0.02
        config.duration = 1
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        var reports = 0
        var lastStats: [PortStats] = []
        let summary = forwarder.run { interval in
            reports += 1
            lastStats = interval.stats
        }
        #expect(reports >= 10)
        #expect(summary.lanes.allSatisfy { $0.parks == 0 }, "\(summary.lanes)")
        // The counters moved while the lanes ran: they were read beside them.
        #expect(lastStats.count == 2 && lastStats[0].rxPackets > 0 && lastStats[1].txPackets > 0)
        #expect(ports.allSatisfy { $0.port.link.isUp })
        #expect(OpenedPort.closeAll(ports).isEmpty)
    }

    @Test func theForwarderRunsThroughPFResetsAndLostClearToSend() throws {
        let lab = SimulatedLab()
        let ports = try Self.openPair(lab, tag: "p")
        var config = ForwardConfiguration()
        config.reportInterval = 0.05
        config.duration = 2
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let vfs = ports.compactMap { lab.simulatedVF(behind: $0.port) }
        Self.after(0.3) { vfs[0].inject(.pfReset(microseconds: 5000)) }
        Self.after(0.8) { vfs[1].inject(.pfReset(microseconds: 20_000)) }
        Self.after(1.3) { vfs[0].inject(.clearToSendLoss); vfs[1].inject(.clearToSendLoss) }
        let summary = forwarder.run { _ in }
        #expect(summary.reason == .duration)
        #expect(summary.portStats[0].resets >= 2 && summary.portStats[1].resets >= 2,
                "resets \(summary.portStats.map(\.resets))")
        // The lanes were parked for the re-initialisations, and only for them.
        #expect(summary.lanes.allSatisfy { $0.parks >= 1 && $0.parks < 20 }, "\(summary.lanes)")
        #expect(summary.ports[0].received == summary.ports[1].sent + summary.ports[1].dropped)
        // The summary names what a reset took out of a TX ring, when it did.
        let text = summary.text(names: ports.map(\.spec))
        for (i, stats) in summary.portStats.enumerated() {
            let line = text.split(separator: "\n").first { $0.contains("port \(i) ") }.map(String.init) ?? ""
            #expect(line.contains("discarded from the TX ring at reset \(stats.txDiscarded)") == (stats.txDiscarded > 0), "\(line)")
        }
        #expect(ports.allSatisfy { $0.port.link.isUp })
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(lab.container.mappedRegionCount == 0)
        #expect(lab.container.faults.isEmpty)
        #expect(vfs.allSatisfy { $0.violations.isEmpty })
    }
    /// CPU time of the calling thread (ns).
    static func threadCPUNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// A stalled TX engine while the app stops: the stop waits a bounded time for the ring to
    /// drain, sleeping rather than spinning, and takes every buffer back.
    @Test func stoppingWithAStalledTXEngineWaitsBoundedWithoutSpinning() throws {
        let lab = SimulatedLab()
        let ports = try Self.openPair(lab, tag: "s")
        var config = ForwardConfiguration()
        config.reportInterval = 0.05
        config.duration = 0.5
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let vf = try #require(lab.simulatedVF(behind: ports[1].port))
        Self.after(0.2) { vf.inject(.txStall(true)) }
        let summary = forwarder.run { _ in }
        #expect(summary.ports[0].received == summary.ports[1].sent + summary.ports[1].dropped)
        let wallStart = MonotonicClock.nanoseconds(), cpuStart = Self.threadCPUNanoseconds()
        ports[1].port.stop()
        let wall = Double(MonotonicClock.nanoseconds() - wallStart) / 1e9
        let cpu = Double(Self.threadCPUNanoseconds() - cpuStart) / 1e9
        // Frames sat in the stalled ring: the stop waited its bound (1 s), then gave up.
        #expect(wall > 0.5 && wall < 3, "stop took \(wall) s")
        #expect(cpu < 0.25 * max(wall, 0.1), "stop used \(cpu) s of CPU in \(wall) s")
        // What the ring still held is counted: every frame sent reached the wire or was
        // discarded (a burst the device had begun counts whole: its completion was never reported).
        ports[1].port.updateStats()
        let discarded = ports[1].port.stats.txDiscarded
        #expect(discarded > 0)
        #expect(vf.counters.txFrames <= summary.ports[1].sent)
        #expect(vf.counters.txFrames + discarded >= summary.ports[1].sent,
                "wire \(vf.counters.txFrames) + discarded \(discarded) < sent \(summary.ports[1].sent)")
        vf.inject(.txStall(false))
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(lab.container.mappedRegionCount == 0)
    }
}
