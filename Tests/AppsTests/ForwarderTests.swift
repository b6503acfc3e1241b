@testable import Apps
import Foundation
import PMDCore
import Testing

/// The forwarder engine on memory ports: what arrives on one port leaves the other, rewritten
/// as the mode says, nothing lost, every buffer back in its pool.
@Suite(.serialized)
struct ForwarderTests {
    let macA = MACAddress("02:00:00:00:00:0a")!
    let macB = MACAddress("02:00:00:00:00:0b")!
    let host = MACAddress("02:00:00:00:00:99")!

    func run(_ a: MemoryPort, _ b: MemoryPort, _ configure: (inout ForwardConfiguration) -> Void = { _ in }) throws -> ForwardSummary {
        var config = ForwardConfiguration()
        config.drainQuietSeconds = 0.02
        configure(&config)
        let fwd = try Forwarder(ports: [opened(a), opened(b)], configuration: config)
        return fwd.run(report: { _ in })
    }

    @Test func ioModeForwardsBothWaysByteExact() throws {
        let toB = makeFrames(500, length: 60, src: host, dst: macA)
        let toA = makeFrames(300, length: 1514, src: host, dst: macB, seed: 3)
        let a = try MemoryPort(name: "a", frames: toB, mac: macA)
        let b = try MemoryPort(name: "b", frames: toA, mac: macB)
        let summary = try run(a, b)
        #expect(summary.reason == .inputExhausted)
        #expect(b.sentFrames == toB)
        #expect(a.sentFrames == toA)
        #expect(summary.ports[0].received == 500 && summary.ports[1].sent == 500)
        #expect(summary.ports[1].received == 300 && summary.ports[0].sent == 300)
        #expect(summary.forwarded == 800)
        #expect(OpenedPort.closeAll([opened(a), opened(b)]).isEmpty)
        #expect(a.mappedForTransmit == ["b"] && b.mappedForTransmit == ["a"])
    }

    /// Statistics are read beside the lanes: with a port whose statistics take 300 ms to read,
    /// no lane is parked and no lane pauses anywhere near that long; a port that owes
    /// maintenance (a re-initialisation after a PF reset) parks every lane, once.
    @Test func statisticsReadsNeverStopTheLanes() throws {
        let a = try MemoryPort(name: "a", frames: makeFrames(100, src: host, dst: macA), mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        a.live = true
        b.statsReadMicroseconds = 300_000
        let slow = try run(a, b) { $0.duration = 1; $0.reportInterval = 0.1 }
        #expect(b.updates >= 2, "\(b.updates) statistics reads")
        #expect(slow.lanes.count == 1 && slow.lanes[0].parks == 0, "\(slow.lanes)")
        // The lane went on polling `b` itself while its statistics were being read (all but the
        // final read, after the lanes stopped): a bound on the lane's gaps in time would measure
        // the machine's scheduler, not the forwarder.
        #expect(b.receivesDuringStatsRead >= b.updates - 1, "\(b.receivesDuringStatsRead) polls during \(b.updates) reads")
        #expect(b.sentFrames.count == 100)

        b.statsReadMicroseconds = 0
        b.owesMaintenance = true
        let owed = try run(a, b) { $0.duration = 0.5; $0.reportInterval = 0.1 }
        #expect(owed.lanes.count == 1 && owed.lanes[0].parks == 1, "\(owed.lanes)")
        #expect(OpenedPort.closeAll([opened(a), opened(b)]).isEmpty)
    }

    @Test func backPressureLosesNothing() throws {
        let frames = makeFrames(1000, src: host, dst: macA)
        let a = try MemoryPort(name: "a", frames: frames, mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB, txLimit: 5)
        let summary = try run(a, b)
        #expect(b.sentFrames == frames)
        #expect(summary.ports[1].dropped == 0)
        #expect(a.pool.inUse == 0)
    }

    @Test func macswapChangesExactlyTheAddresses() throws {
        let frames = makeFrames(64, src: host, dst: macA)
        let a = try MemoryPort(name: "a", frames: frames, mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        _ = try run(a, b) { $0.mode = .macswap }
        #expect(b.sentFrames.count == 64)
        for (out, input) in zip(b.sentFrames, frames) {
            #expect(Array(out[0..<6]) == Array(input[6..<12]))
            #expect(Array(out[6..<12]) == Array(input[0..<6]))
            #expect(Array(out[12...]) == Array(input[12...]))
        }
    }

    @Test func macModeSetsOutputPortAndPeer() throws {
        let frames = makeFrames(64, src: host, dst: macA)
        let peerOfB = MACAddress("02:00:00:00:00:bb")!
        let a = try MemoryPort(name: "a", frames: frames, mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        _ = try run(a, b) {
            $0.mode = .mac
            $0.peerMACs = [MACAddress("02:00:00:00:00:aa")!, peerOfB]
        }
        for (out, input) in zip(b.sentFrames, frames) {
            #expect(Array(out[0..<6]) == peerOfB.array)
            #expect(Array(out[6..<12]) == macB.array)
            #expect(Array(out[12...]) == Array(input[12...]))
        }
    }

    /// `--count N` forwards exactly N, whatever the burst and the direction of the frames;
    /// nothing is left in hand as dropped. (One queue: the memory ports share one pool between
    /// their queues, which only one thread may use.)
    @Test(arguments: [(1, 32, 1), (100, 8, 1), (1000, 32, 1), (4099, 7, 1)])
    func stopsAtExactlyTheCount(limit: UInt64, burst: Int, queues: Int) throws {
        let frames = makeFrames(20_000, src: host, dst: macA)
        let a = try MemoryPort(name: "a", frames: frames, mac: macA, queues: queues, burst: 8)
        let b = try MemoryPort(name: "b", frames: makeFrames(20_000, src: host, dst: macB), mac: macB, queues: queues)
        var config = ForwardConfiguration()
        config.packetLimit = limit
        config.burst = burst
        let fwd = try Forwarder(ports: [opened(a), opened(b)], configuration: config)
        let summary = fwd.run(report: { _ in })
        #expect(summary.reason == .count)
        #expect(summary.forwarded == limit)
        #expect(summary.ports.allSatisfy { $0.dropped == 0 })
        #expect(UInt64(a.sentFrames.count + b.sentFrames.count) == limit)
        #expect(a.pool.inUse == 0 && b.pool.inUse == 0)
    }

    /// A lane claims a whole burst from the budget and gives back what did not arrive: the
    /// budget reads 0 while the lane receives the last packets. Here that receive is held
    /// until the controller has looked twice (the port delivers 8 a call, the lane claims up
    /// to 32: after 80 of 100 the lane claims the last 20), and the run still ends at 100.
    @Test func stopsAtTheCountAndReportsEachInterval() throws {
        let frames = makeFrames(20_000, src: host, dst: macA)
        let a = try MemoryPort(name: "a", frames: frames, mac: macA, burst: 8)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        let controllerLooks = LookCounter()
        a.conditionRead = { controllerLooks.look() }
        a.willReceive = { delivered in
            if delivered == 80 { controllerLooks.hold(until: 2) }
        }
        var config = ForwardConfiguration()
        config.packetLimit = 100
        let fwd = try Forwarder(ports: [opened(a), opened(b)], configuration: config)
        let summary = fwd.run(report: { _ in })
        #expect(controllerLooks.heldUntilCounted, "the controller stopped looking while the lane received the last packets")
        #expect(summary.reason == .count)
        #expect(summary.forwarded == 100)
        #expect(summary.forwarded == UInt64(b.sentFrames.count))
        #expect(a.pool.inUse == 0)
        #expect(a.updates >= 1)
    }

    @Test func stopsAtTheDurationWithNoInput() throws {
        let a = try MemoryPort(name: "a", frames: [], mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        final class Intervals: @unchecked Sendable { var n = 0 }
        let seen = Intervals()
        var config = ForwardConfiguration()
        config.duration = 0.25
        config.reportInterval = 0.1
        config.drainQuietSeconds = 10  // inputs are "exhausted" from the start: the duration must win
        let fwd = try Forwarder(ports: [opened(a), opened(b)], configuration: config)
        let summary = fwd.run(report: { _ in seen.n += 1 })
        #expect(summary.reason == .duration)
        #expect(summary.seconds >= 0.25 && summary.seconds < 5)
        #expect(seen.n >= 1)
    }

    @Test func badConfigurationsAreClearErrors() throws {
        let a = try MemoryPort(name: "a", frames: [], mac: macA)
        let b = try MemoryPort(name: "b", frames: [], mac: macB)
        #expect(throws: ForwardError.self) { try Forwarder(ports: [opened(a)], configuration: .init()) }
        var pairs = ForwardConfiguration()
        pairs.pairs = [(0, 2)]
        #expect { try Forwarder(ports: [opened(a), opened(b)], configuration: pairs) } throws: {
            "\($0)".contains("0:2")
        }
        // A port in two pairs: its queues would have two owners.
        for twice in [[(0, 1), (0, 1)], [(0, 1), (1, 0)], [(0, 1), (2, 1)]] {
            var config = ForwardConfiguration()
            config.pairs = twice
            let c = try MemoryPort(name: "c", frames: [], mac: macA)
            #expect { try Forwarder(ports: [opened(a), opened(b), opened(c)], configuration: config) } throws: {
                "\($0)".contains("one pair only")
            }
        }
        var mac = ForwardConfiguration()
        mac.mode = .mac
        #expect { try Forwarder(ports: [opened(a), opened(b)], configuration: mac) } throws: {
            "\($0)".contains("--peer-mac")
        }
    }
}

/// The per-interval report: rates from counter differences, JSON keys as documented.
struct ForwardReportTests {
    @Test func ratesComeFromTheIntervalsDifferences() throws {
        var before = PortStats(), after = PortStats()
        before.rxPackets = 1_000; before.rxBytes = 64_000
        after.rxPackets = 3_001_000; after.rxBytes = 64_000 + 3_000_000 * 64
        after.txPackets = 1_500_000; after.txBytes = 1_500_000 * 1514
        after.rxMissed = 7
        let interval = ForwardInterval(
            seconds: 2, elapsed: 10, names: ["a"], totals: [ForwardPortTotals(received: 3, sent: 2, dropped: 1)],
            previousTotals: [ForwardPortTotals()], stats: [after], previousStats: [before],
            links: [LinkStatus(isUp: true, speedMbps: 10_000)],
            lanes: [LaneActivity(pair: "0:1", queue: 0, longestGapMicroseconds: 12.5, parks: 0,
                                 polling: "adaptive", asleepSeconds: 1.5, wakeUps: 3)])
        let report = ForwardReport(interval)
        let line = report.ports[0]
        #expect(abs(line.rxMpps - 1.5) < 1e-9)
        #expect(abs(line.rxGbps - 0.768) < 1e-9)
        #expect(abs(line.txGbps - 1_500_000.0 * 1514 * 8 / 2 / 1e9) < 1e-9)
        #expect(line.missed == 7 && line.dropped == 1 && line.link == "up 10G")
        #expect(report.json.contains("\"rx_mpps\":1.5"))
        #expect(report.json.contains("\"link\":\"up 10G\""))
        #expect(report.table.contains("up 10G"))
        #expect(report.json.contains("\"lanes\":[{\"asleep_seconds\":1.5,\"longest_gap_microseconds\":12.5,\"pair\":\"0:1\",\"parks\":0,"
                                     + "\"polling\":\"adaptive\",\"queue\":0,\"wake_ups\":3}]"))
        #expect(report.table.hasSuffix("\n  lane 0:1 queue 0: adaptive, 1.50 s asleep, 3 wake-ups\n"))
    }
}

/// Holds a thread until another one has counted a number of looks.
final class LookCounter: @unchecked Sendable {
    // @unchecked: every field is accessed under `condition`.
    private let condition = NSCondition()
    private var counting = false
    private var looks = 0
    private var target = 0
    private var counted = false

    /// Whether the last `hold` ended because the looks were counted (not at its bound).
    var heldUntilCounted: Bool { condition.withLock { counted } }

    /// Counts one look while a thread is held.
    func look() {
        condition.withLock {
            guard counting else { return }
            looks += 1
            if looks >= target { condition.broadcast() }
        }
    }

    /// Returns after `n` looks from now; a bound of 10 s keeps a failing run from hanging
    /// (the caller checks `heldUntilCounted`).
    func hold(until n: Int) {
        condition.withLock {
            counting = true
            looks = 0
            target = n
            let bound = Date().addingTimeInterval(10)
            while looks < target && condition.wait(until: bound) {}
            counted = looks >= target
            counting = false
        }
    }
}
