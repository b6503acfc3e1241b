import Atomics
import CShims
import Foundation
import PMDCore

/// What `vfpmd forward` is asked to do.
public struct ForwardConfiguration: Sendable {
    /// Header rewrite.
    public var mode: ForwardMode = .io
    /// Peer MAC per port index (mode `mac`: destination of frames leaving that port).
    public var peerMACs: [MACAddress] = []
    /// Port pairs forwarded both ways; default 0↔1, 2↔3, …
    public var pairs: [(Int, Int)] = []
    /// Queues per port to poll; nil = every queue both ports of a pair have.
    public var queues: Int?
    /// Packets per burst.
    public var burst: Int = 32
    /// CPUs to pin polling threads to, in lane order (cycled).
    public var cores: [Int] = []
    /// Stop after exactly this many packets were forwarded (the lanes receive no more).
    public var packetLimit: UInt64?
    /// Stop after this many seconds.
    public var duration: Double?
    /// Seconds between reports.
    public var reportInterval: Double = 1
    /// How long the ports must be quiet, once every input is exhausted, before stopping.
    public var drainQuietSeconds: Double = 0.2
    /// How the lanes wait for frames (the ports must be opened with the policy's
    /// `interruptSettings` for a lane to sleep). Adaptive with a port that cannot interrupt (a
    /// `pcap:` port) keeps that port's lane busy; interrupt mode refuses such a port.
    public var polling = PollingPolicy.busy
    /// The longest sleep of a lane, in milliseconds: a stop wakes it at once, but its reported
    /// time asleep and the drain at the end of finite inputs wait for it to wake.
    var longestSleepMilliseconds: Int32 = 100

    /// The defaults.
    public init() {}
}

/// Why a forwarding run ended.
public enum ForwardStopReason: String, Sendable {
    case signal = "interrupted"
    case count = "packet count reached"
    case duration = "duration reached"
    case inputExhausted = "every input is exhausted"
    case portRemoved = "a port's device was removed"
}

/// Counters of one port over a run, as the forwarder saw them.
public struct ForwardPortTotals: Sendable, Equatable {
    /// Packets the forwarder received from the port.
    public var received: UInt64 = 0
    /// Packets the forwarder sent out of the port.
    public var sent: UInt64 = 0
    /// Packets received elsewhere for this port but never sent (held when the run stopped).
    public var dropped: UInt64 = 0
}

/// The end of a run.
public struct ForwardSummary: Sendable {
    /// Why it ended.
    public var reason: ForwardStopReason
    /// Seconds the lanes ran.
    public var seconds: Double
    /// Seconds until the last frame came: `seconds` less the quiet wait that ends a run once
    /// every input is exhausted (the whole run otherwise). The summary's rate is over these.
    public var forwardingSeconds: Double
    /// Per port index.
    public var ports: [ForwardPortTotals]
    /// Port statistics at the end.
    public var portStats: [PortStats]
    /// Per port index: the frames its PF's filters did not deliver, with advice; nil when none.
    public var filterDrops: [FilterDropReport?]
    /// Per lane: the longest pause between two polls, and the parks.
    public var lanes: [LaneActivity]
    /// Per mirror, in the order given.
    public var mirrors: [MirrorTotals] = []
    /// With simulated ports: the share of `forwardingSeconds`, in percent, that the
    /// simulator's engine thread spent in passes that did work (`ModelLoadMeter`).
    public var modelBusyPercent: Double?
    /// Packets forwarded (sum of `sent`).
    public var forwarded: UInt64 { ports.reduce(0) { $0 + $1.sent } }
}

/// The forwarder: one polling thread per (port pair, queue), a controller that reports,
/// maintains the ports once per interval and decides when to stop.
public final class Forwarder: @unchecked Sendable {
    private let ports: [OpenedPort]
    private let configuration: ForwardConfiguration
    private let control: LaneControl
    private var lanes: [ForwardLane] = []
    private var pairs: [(Int, Int)] = []
    private let mirrors: [ForwardMirror]
    /// Per lane direction with mirrors: what it feeds (the lanes hold them unretained).
    private var taps: [MirrorTap] = []

    /// A forwarder over `ports` feeding `mirrors` (opened, not started); fails with a clear
    /// message when the configuration does not fit.
    public init(ports: [OpenedPort], configuration: ForwardConfiguration, mirrors: [ForwardMirror] = []) throws(ForwardError) {
        self.ports = ports
        self.mirrors = mirrors
        self.configuration = configuration
        control = LaneControl(packetLimit: configuration.packetLimit)
        pairs = configuration.pairs.isEmpty
            ? stride(from: 0, to: ports.count - 1, by: 2).map { ($0, $0 + 1) }
            : configuration.pairs
        guard ports.count >= 2, !pairs.isEmpty else { throw .needTwoPorts }
        if configuration.polling.mode == .interrupt, let port = ports.first(where: { InterruptSleeper.cannotWake($0.port) }) {
            throw .polling(PollingOptionError.cannotInterrupt(port: port.spec, waking: "its forwarding lane"))
        }
        // A lane owns its queues on both ports of its pair: a port in two pairs would give
        // one queue two owners (frames lost and duplicated between two threads).
        var pairOf: [Int: (Int, Int)] = [:]
        for (x, y) in pairs {
            guard x != y, ports.indices.contains(x), ports.indices.contains(y) else {
                throw .badPair(x, y, ports.count)
            }
            for port in [x, y] {
                if let earlier = pairOf[port] { throw .portInTwoPairs(port, earlier, (x, y)) }
                pairOf[port] = (x, y)
            }
        }
        if configuration.mode == .mac {
            guard configuration.peerMACs.count >= ports.count else {
                throw .missingPeerMACs(have: configuration.peerMACs.count, need: ports.count)
            }
        }
        for (x, y) in pairs {
            do {
                for pool in ports[x].port.receivePools { try ports[y].port.mapForTransmit(pool) }
                for pool in ports[y].port.receivePools { try ports[x].port.mapForTransmit(pool) }
            } catch {
                throw .cannotMap(x, y, "\(error)")
            }
        }
        let mirrorOf = try Self.mirrorsByPortAndDirection(mirrors, pairOf: pairOf)
        var laneIndex = 0
        for (x, y) in pairs {
            let px = ports[x].port, py = ports[y].port
            let available = min(px.queueCount, py.queueCount)
            let queues = min(configuration.queues ?? available, available)
            let tapXToY = MirrorTap.make(received: mirrorOf[MirrorKey(port: x, sent: false)], sent: mirrorOf[MirrorKey(port: y, sent: true)])
            let tapYToX = MirrorTap.make(received: mirrorOf[MirrorKey(port: y, sent: false)], sent: mirrorOf[MirrorKey(port: x, sent: true)])
            taps += [tapXToY, tapYToX].compactMap { $0 }
            if (tapXToY != nil || tapYToX != nil) && queues > 1 { throw .mirrorNeedsOneQueue(x, y, queues) }
            for q in 0..<max(queues, 1) {
                let core = configuration.cores.isEmpty ? nil : configuration.cores[laneIndex % configuration.cores.count]
                lanes.append(ForwardLane(
                    a: px, b: py, aIndex: x, bIndex: y, queue: q,
                    rewriteAToB: rewrite(out: y), rewriteBToA: rewrite(out: x), tapAToB: tapXToY, tapBToA: tapYToX,
                    burst: configuration.burst, core: core, control: control))
                laneIndex += 1
            }
        }
    }

    /// A port and one of its directions.
    private struct MirrorKey: Hashable {
        var port: Int
        var sent: Bool
    }

    /// The mirror of each port and direction; refuses a port's direction mirrored twice and
    /// a port in no pair (nothing would reach its mirror).
    private static func mirrorsByPortAndDirection(_ mirrors: [ForwardMirror], pairOf: [Int: (Int, Int)])
        throws(ForwardError) -> [MirrorKey: ForwardMirror] {
        var mirrorOf: [MirrorKey: ForwardMirror] = [:]
        for mirror in mirrors {
            guard pairOf[mirror.portIndex] != nil else { throw .mirroredPortNotForwarded(mirror.spec.text, mirror.portIndex) }
            var keys: [MirrorKey] = []
            if mirror.spec.direction.copiesReceived { keys.append(MirrorKey(port: mirror.portIndex, sent: false)) }
            if mirror.spec.direction.copiesSent { keys.append(MirrorKey(port: mirror.portIndex, sent: true)) }
            for key in keys {
                if let earlier = mirrorOf[key] {
                    throw .mirroredTwice(earlier.spec.text, mirror.spec.text, mirror.portIndex, key.sent ? "tx" : "rx")
                }
                mirrorOf[key] = mirror
            }
        }
        return mirrorOf
    }

    private func rewrite(out index: Int) -> ForwardRewrite {
        let peer = configuration.peerMACs.indices.contains(index) ? configuration.peerMACs[index] : .broadcast
        return ForwardRewrite(mode: configuration.mode, source: ports[index].port.macAddress, destination: peer)
    }

    /// Number of polling threads.
    public var laneCount: Int { lanes.count }

    /// Totals per port index so far.
    public func totals() -> [ForwardPortTotals] {
        var t = [ForwardPortTotals](repeating: ForwardPortTotals(), count: ports.count)
        for lane in lanes {
            let pair = (lane.aIndex, lane.bIndex)
            t[pair.0].received &+= lane.aToB.received.load(ordering: .relaxed)
            t[pair.1].sent &+= lane.aToB.sent.load(ordering: .relaxed)
            t[pair.1].dropped &+= lane.aToB.dropped.load(ordering: .relaxed)
            t[pair.1].received &+= lane.bToA.received.load(ordering: .relaxed)
            t[pair.0].sent &+= lane.bToA.sent.load(ordering: .relaxed)
            t[pair.0].dropped &+= lane.bToA.dropped.load(ordering: .relaxed)
        }
        return t
    }

    /// Runs until a stop condition (`stop` requested, by default by the stop signals); `report`
    /// is called from the controller thread once per interval with the totals and port
    /// statistics. The ports must be started.
    public func run(stop: StopRequest = StopSignal.request, report: (ForwardInterval) -> Void) -> ForwardSummary {
        for lane in lanes {
            lane.preparePolling(configuration.polling, longestSleepMilliseconds: configuration.longestSleepMilliseconds,
                                stopDescriptor: stop.descriptor)
        }
        let threads = lanes.map { lane in
            let t = Thread {
                if let core = lane.core { _ = vfpmd_pin_current_thread(Int32(core)) }
                lane.run()
            }
            t.name = "vfpmd-fwd-q\(lane.queue)"
            return t
        }
        for mirror in mirrors { mirror.start() }
        let modelLoad = ModelLoadMeter(ports: ports.map(\.port))
        let start = MonotonicClock.nanoseconds()
        threads.forEach { $0.start() }

        var reason = ForwardStopReason.signal
        var lastReport = start
        var previous = (totals(), ports.map { $0.port.stats })
        // Draining: once every input is exhausted, stop when no lane holds a packet and
        // nothing arrived for `drainQuietSeconds` during which every lane polled again (a
        // thread the machine did not schedule has not looked yet).
        var quiet: (since: UInt64, received: UInt64, polls: [UInt64])?
        var lastArrival: UInt64?
        while true {
            MonotonicClock.sleep(microseconds: 2_000)
            let now = MonotonicClock.nanoseconds()
            if stop.isRequested { reason = .signal; break }
            if control.maintenance.take() { maintainPorts() }
            // The budget also reads 0 while a lane holds a claim it is still receiving into
            // (what does not arrive goes back): the count is reached once the lanes received
            // it all. What a lane still holds then leaves before it returns.
            if let limit = configuration.packetLimit, control.budgetSpent {
                let t = totals()
                let received = t.reduce(0) { $0 + $1.received }
                let sent = t.reduce(0) { $0 + $1.sent }
                if received >= limit && (sent >= limit || !lanes.contains(where: { $0.holding.load(ordering: .relaxed) != 0 })) {
                    reason = .count; break
                }
            }
            if let d = configuration.duration, Double(now - start) / 1e9 >= d { reason = .duration; break }
            if ports.allSatisfy({ $0.isInputExhausted }) {
                let received = totals().reduce(0) { $0 + $1.received }
                let polls = lanes.map { $0.polls.load(ordering: .acquiring) }
                let holding = lanes.contains { $0.holding.load(ordering: .relaxed) != 0 }
                if holding || received != quiet?.received {
                    quiet = holding ? nil : (now, received, polls)
                } else if let q = quiet, Double(now - q.since) / 1e9 >= configuration.drainQuietSeconds,
                          zip(polls, q.polls).allSatisfy({ $0 &- $1 >= 2 }) {
                    reason = .inputExhausted
                    lastArrival = q.since
                    break
                }
            }
            if Double(now - lastReport) / 1e9 >= configuration.reportInterval {
                maintainPorts()
                if ports.contains(where: \.isRemoved) { reason = .portRemoved; break }
                let current = (totals(), ports.map { $0.port.stats })
                report(ForwardInterval(
                    seconds: Double(now - lastReport) / 1e9, elapsed: Double(now - start) / 1e9,
                    names: ports.map(\.spec), totals: current.0, previousTotals: previous.0,
                    stats: current.1, previousStats: previous.1, links: ports.map { $0.port.link },
                    lanes: laneActivity()))
                previous = current
                lastReport = now
            }
        }
        control.stopLanes()
        while !lanes.allSatisfy({ $0.finished.load(ordering: .acquiring) }) {
            MonotonicClock.sleep(microseconds: 100)
        }
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        maintainPorts()
        let forwardingSeconds = lastArrival.map { Double($0 &- start) / 1e9 } ?? seconds
        return ForwardSummary(reason: reason, seconds: seconds, forwardingSeconds: forwardingSeconds, ports: totals(), portStats: ports.map { $0.port.stats },
                              filterDrops: ports.map { $0.filterDropReport() }, lanes: laneActivity(),
                              mirrors: mirrors.map { $0.finish() }, modelBusyPercent: modelLoad.busyPercent(over: forwardingSeconds))
    }

    /// Lets each port read its counters and link beside the running lanes; only when a port
    /// owes maintenance that needs its queues quiet (a re-initialisation after a PF reset) are
    /// the lanes parked while that port does it, then resumed. Once the lanes finished, every
    /// port gets its `updateStats()`.
    private func maintainPorts() {
        let allFinished = { self.lanes.allSatisfy { $0.finished.load(ordering: .acquiring) } }
        guard !allFinished() else {
            for p in ports { p.port.updateStats() }
            return
        }
        ports.updateStats(besideBurstsOf: control.pause, threads: lanes.count, allFinished: allFinished)
    }

    /// Per lane: its sleeps that ran to their time limit, no interrupt or stop having come.
    var laneSleepTimeouts: [UInt64] { lanes.map { $0.sleeper?.timeouts ?? 0 } }

    /// What each lane's datapath went through so far: its longest pause between two polls and
    /// its parks.
    public func laneActivity() -> [LaneActivity] {
        lanes.map { lane in
            let polling = lane.pollingActivity
            return LaneActivity(pair: "\(lane.aIndex):\(lane.bIndex)", queue: lane.queue,
                                longestGapMicroseconds: Double(lane.longestGapTicks.load(ordering: .relaxed)) / TSC.frequency * 1e6,
                                parks: lane.parks.load(ordering: .relaxed), polling: polling.mode.rawValue,
                                asleepSeconds: polling.asleepSeconds, wakeUps: polling.wakeUps)
        }
    }
}

/// One reporting interval.
public struct ForwardInterval: Sendable {
    /// Length of the interval in seconds.
    public var seconds: Double
    /// Seconds since the start.
    public var elapsed: Double
    /// Port names.
    public var names: [String]
    /// Forwarder totals now and at the start of the interval.
    public var totals: [ForwardPortTotals]
    public var previousTotals: [ForwardPortTotals]
    /// Port statistics now and at the start of the interval.
    public var stats: [PortStats]
    public var previousStats: [PortStats]
    /// Link per port.
    public var links: [LinkStatus]
    /// Per lane, since the start.
    public var lanes: [LaneActivity]
}

/// One lane's datapath since the start: the longest pause between two of its polls, how often
/// it was parked for port maintenance, and how it polled (the lane is what sleeps).
public struct LaneActivity: Codable, Sendable, Equatable {
    /// The port pair, as `a:b`.
    public var pair: String
    /// The queue of both ports the lane polls.
    public var queue: Int
    /// The longest time between two polls, in microseconds.
    public var longestGapMicroseconds: Double
    /// Times the lane was parked.
    public var parks: UInt64
    /// Its polling mode: busy, adaptive or interrupt (busy for a lane with a port that cannot
    /// interrupt).
    public var polling = PollingMode.busy.rawValue
    /// Seconds it slept on its ports' interrupts.
    public var asleepSeconds: Double = 0
    /// Sleeps an interrupt of its ports ended.
    public var wakeUps: UInt64 = 0

    /// The polling part, as the live table and the summary show it.
    public var pollingText: String {
        PollingActivity(mode: polling, asleepSeconds: asleepSeconds, wakeUps: wakeUps).text
    }
}

/// A forwarding setup that cannot work, in one sentence.
public enum ForwardError: Error, CustomStringConvertible {
    case needTwoPorts
    case badPair(Int, Int, Int)
    case missingPeerMACs(have: Int, need: Int)
    case cannotMap(Int, Int, String)
    case portInTwoPairs(Int, (Int, Int), (Int, Int))
    case mirrorNeedsOneQueue(Int, Int, Int)
    case mirroredTwice(String, String, Int, String)
    case mirroredPortNotForwarded(String, Int)
    case polling(PollingOptionError)

    public var description: String {
        switch self {
        case .needTwoPorts:
            return "forwarding needs at least two ports: give --port twice"
        case let .badPair(x, y, n):
            return "the pair \(x):\(y) does not name two different ports among the \(n) given (ports are numbered from 0)"
        case let .missingPeerMACs(have, need):
            return "mode mac needs a peer MAC for each of the \(need) ports (--peer-mac given \(have) times)"
        case let .portInTwoPairs(port, a, b):
            return "port \(port) is in the pairs \(a.0):\(a.1) and \(b.0):\(b.1): each port can be in one pair only (its queues have one owner); open the VF twice with more queues, or give it once"
        case let .mirrorNeedsOneQueue(x, y, queues):
            return "a --mirror of port \(x) or \(y) needs their pair forwarded on one queue (it has \(queues)): add --queues 1"
        case let .mirroredTwice(first, second, port, direction):
            return "--mirror \(first) and --mirror \(second) both copy the \(direction) frames of port \(port): give each port's direction to one mirror"
        case let .mirroredPortNotForwarded(text, port):
            return "--mirror \(text): port \(port) is in no pair, so it forwards nothing; mirror a forwarded port"
        case let .polling(error):
            return error.description
        case let .cannotMap(x, y, reason):
            return "ports \(x) and \(y) cannot send each other's packets: \(reason)"
        }
    }
}
