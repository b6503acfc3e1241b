import Atomics
import CShims
import Foundation
import Histogram
import PMDCore

/// What `vfpmd bench` is asked to do.
public struct BenchConfiguration: Sendable {
    /// Who sends and who measures.
    public enum Mode: String, CaseIterable, Sendable {
        /// Every port sends.
        case tx
        /// Every port measures what it receives.
        case rx
        /// Every port sends and measures (ports cabled to each other).
        case rxtx
        /// The first port sends, the last port measures (one port: it sends and measures itself).
        case loop
    }
    /// The mode.
    public var mode: Mode = .rxtx
    /// Frame sizes with FCS, cycled per packet (one entry for a fixed size; `BenchFrame.imix`).
    public var sizes: [Int] = [64]
    /// Packets per second per sending port (nil = as fast as the port takes them).
    public var packetsPerSecond: Double?
    /// Flows (UDP source ports) per sending port, spread over its queues.
    public var flows: Int = 1
    /// Queues per port; nil = all the port has.
    public var queues: Int?
    /// CPUs for the polling threads, given to the lanes in turn; lanes given one CPU share a
    /// thread (`BenchThreadPlan`).
    public var cores: [Int] = []
    /// Seconds to run (nil = until interrupted).
    public var duration: Double? = 10
    /// Record one-way latency from the stamped send times.
    public var latency = false
    /// Burst size.
    public var burst = 32
    /// Destination MAC of the frames sent out of each port (default broadcast).
    public var destinations: [MACAddress] = []
    /// How the threads wait for frames (the ports must be opened with the policy's
    /// `interruptSettings`). Only a thread that measures and does not send can sleep; a
    /// `pcap:` port keeps its threads busy with adaptive polling and is refused by interrupt.
    public var polling = PollingPolicy.busy

    /// The defaults.
    public init() {}
}

/// Results of one queue of one port.
public struct BenchQueueResult: Codable, Sendable {
    public var port: Int
    public var queue: Int
    public var txPackets: UInt64
    public var txBytes: UInt64
    public var rxPackets: UInt64
    public var rxBytes: UInt64
    public var lost: UInt64
    public var reordered: UInt64
    /// The polling mode of the queue's thread (busy for one that sends).
    public var polling = PollingMode.busy.rawValue
    /// Seconds the queue's thread slept on the port's interrupts.
    public var asleepSeconds: Double = 0
    /// Sleeps an interrupt of the port ended.
    public var wakeUps: UInt64 = 0
}

/// Rates of one port over an interval or a whole run.
public struct BenchPortRates: Codable, Sendable {
    public var name: String
    public var txMpps: Double
    public var txGbps: Double
    public var txGbpsL1: Double
    public var rxMpps: Double
    public var rxGbps: Double
    public var rxGbpsL1: Double
    /// Share of the link's line rate used by the busier direction, in percent (nil when the
    /// link speed is unknown).
    public var lineRatePercent: Double?
    public var lost: UInt64
    public var reordered: UInt64
    public var queues: [BenchQueueResult]
    /// The frames the port's PF did not deliver as of its last statistics, with advice; absent
    /// when none.
    public var filterDrops: FilterDropReport?
    /// How its queues' threads polled (the thread of a queue is what sleeps): busy when none
    /// of them sleeps.
    public var polling: String = PollingMode.busy.rawValue
    /// Seconds its queues' threads slept, summed over them.
    public var asleepSeconds: Double = 0
    /// Sleeps the port's interrupts ended, summed over its queues' threads.
    public var wakeUps: UInt64 = 0
}

/// Latency percentiles in nanoseconds.
public struct BenchLatency: Codable, Sendable {
    public var samples: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
}

/// A report (one per interval, and the summary).
public struct BenchReport: Codable, Sendable {
    public var elapsed: Double
    public var final: Bool
    public var ports: [BenchPortRates]
    /// One-way latency per measuring port (summary only, with latency on).
    public var latency: [String: BenchLatency]?
    /// With simulated ports (summary only): the share of the run, in percent, that the
    /// simulator's engine thread spent in passes that did work. Below 100 the model kept up:
    /// the rates measure the driver and the bench.
    public var modelBusyPercent: Double?
}

/// The traffic benchmark: a generator and/or a meter per (port, queue), a lane; one thread per
/// lane, or per CPU of `cores` for the lanes given it.
public final class Bench: @unchecked Sendable {
    private let ports: [OpenedPort]
    private let configuration: BenchConfiguration
    private var generators: [[TrafficGenerator?]] = []
    private var meters: [[TrafficMeter?]] = []
    private let stop = UnsafeAtomic<Bool>.create(false)
    /// Requested with `stop`: its descriptor wakes the threads asleep on their ports' interrupts.
    private let wake = StopRequest()
    private let stopSending = UnsafeAtomic<Bool>.create(false)
    /// Parks the threads while a port does maintenance that needs its queues quiet.
    private let pause = DatapathPause()
    /// A thread woken by a mailbox interrupt asks the controller to maintain the ports now.
    private let maintenance = MaintenanceRequest()
    /// Per port and queue: the sleeper of the queue's thread, when every lane of that thread
    /// measures only (it may sleep), with the port's index among the sleeper's ports and
    /// whether this queue's results carry the thread's sleeps for the port (one queue per port
    /// and thread does: a port's sums count each sleep once).
    private var sleepers: [[LaneSleeper?]] = []
    /// Polling threads of the last `run` (its lanes, per `BenchThreadPlan`).
    public private(set) var threadCount = 0

    private struct LaneSleeper {
        let sleeper: InterruptSleeper
        let portIndex: Int
        let carries: Bool
    }

    /// One port's queue the bench sends and/or measures on. Its generator and meter are
    /// reached unretained: the bench holds them (`generators`, `meters`) past the end of every
    /// thread, and a thread polls them without reference counting at every burst.
    private struct Lane {
        let port: Int
        let queue: Int
        let generator: Unmanaged<TrafficGenerator>?
        let meter: Unmanaged<TrafficMeter>?
    }
    /// The longest sleep of a thread, in milliseconds (its reported time asleep waits for it).
    static let longestSleepMilliseconds: Int32 = 100

    /// Sets up generators and meters per the mode.
    public init(ports: [OpenedPort], configuration: BenchConfiguration) throws {
        precondition(!ports.isEmpty)
        // Every stored property is set before the first throw, so a refusal runs `deinit`
        // (which destroys the atomics) instead of leaking them.
        self.ports = ports
        self.configuration = configuration
        if configuration.polling.mode == .interrupt, let port = ports.first(where: { InterruptSleeper.cannotWake($0.port) }) {
            throw PollingOptionError.cannotInterrupt(port: port.spec, waking: "its bench thread")
        }
        let last = ports.count - 1
        for (i, opened) in ports.enumerated() {
            let port = opened.port
            let queues = max(1, min(configuration.queues ?? port.queueCount, port.queueCount))
            let sends: Bool, measures: Bool
            switch configuration.mode {
            case .tx: (sends, measures) = (true, false)
            case .rx: (sends, measures) = (false, true)
            case .rxtx: (sends, measures) = (true, true)
            case .loop: (sends, measures) = (i == 0, i == last)
            }
            let destination = configuration.destinations.indices.contains(i) ? configuration.destinations[i] : .broadcast
            let perQueueRate = configuration.packetsPerSecond.map { $0 / Double(queues) }
            generators.append(try (0..<queues).map { q in
                sends ? try TrafficGenerator(
                    port: port, queue: q, queues: queues, flowCount: configuration.flows,
                    sizes: configuration.sizes, packetsPerSecond: perQueueRate, burst: configuration.burst,
                    source: port.macAddress, destination: destination) : nil
            })
            meters.append((0..<queues).map { q in
                measures ? TrafficMeter(port: port, queue: q, recordLatency: configuration.latency) : nil
            })
        }
    }

    deinit {
        stop.destroy()
        stopSending.destroy()
    }

    /// Runs until the duration ends or `stop` is requested (by default by the stop signals);
    /// `report` gets each interval's report on the controller thread; returns the summary. The
    /// ports must be started.
    public func run(stop stopRequest: StopRequest = StopSignal.request, report: (BenchReport) -> Void) -> BenchReport {
        let lanes = ports.indices.flatMap { i in
            generators[i].indices.compactMap { q -> Lane? in
                let generator = generators[i][q], meter = meters[i][q]
                guard generator != nil || meter != nil else { return nil }
                return Lane(port: i, queue: q, generator: generator.map { .passUnretained($0) }, meter: meter.map { .passUnretained($0) })
            }
        }
        let plan = BenchThreadPlan(laneCount: lanes.count, cores: configuration.cores)
        let policy = configuration.polling
        threadCount = plan.threads.count
        sleepers = ports.indices.map { i in generators[i].map { _ in nil } }
        var threads: [Thread] = []
        var finished: [UnsafeAtomic<Bool>] = []
        // Threads with a generator that saw `stopSending` (they send nothing after it).
        let sendersStopped = UnsafeAtomic<Int>.create(0)
        var senders = 0
        for (t, planned) in plan.threads.enumerated() {
            let mine = planned.lanes.map { lanes[$0] }
            let sleeper = makeSleeper(for: mine, waking: stopRequest)
            let done = UnsafeAtomic<Bool>.create(false)
            finished.append(done)
            let core = planned.core
            let stop = self.stop, stopSending = self.stopSending, pause = self.pause
            let sends = mine.contains { $0.generator != nil }
            if sends { senders += 1 }
            let thread = Thread {
                if let core { _ = vfpmd_pin_current_thread(Int32(core)) }
                // After a run of empty polls (a paced generator waiting for its next
                // slot, a meter with nothing to read) the thread yields its CPU: with more
                // polling threads than CPUs (or a simulated device's engine thread beside
                // them) a thread that only spins would keep the others from running.
                // A thread that only measures sleeps on its queues' interrupts instead, with
                // adaptive or interrupt polling.
                var idlePolls = 0
                var idle = IdleTracker(policy)
                var sending = sends
                while !stop.load(ordering: .relaxed) {
                    if pause.isRequested { pause.park(unless: stop) }
                    var work = 0
                    if sending && stopSending.load(ordering: .acquiring) {
                        sending = false
                        sendersStopped.wrappingIncrement(ordering: .releasing)
                    }
                    for lane in mine {
                        if sending, let generator = lane.generator { work &+= generator._withUnsafeGuaranteedRef { $0.poll() } }
                        if let meter = lane.meter { work &+= meter._withUnsafeGuaranteedRef { $0.poll() } }
                    }
                    if work > 0 {
                        idlePolls = 0
                        idle.busy()
                    } else if let sleeper {
                        if idle.idle(at: TSC.now()) {
                            _ = sleeper.sleep(timeoutMilliseconds: Self.longestSleepMilliseconds)
                            idle.busy()
                        }
                    } else {
                        idlePolls &+= 1
                        if idlePolls >= 256 { sched_yield(); idlePolls = 0 }
                    }
                }
                done.store(true, ordering: .releasing)
            }
            thread.name = planned.lanes.count == 1 ? "vfpmd-bench-\(mine[0].port)-\(mine[0].queue)" : "vfpmd-bench-t\(t)"
            threads.append(thread)
        }
        let modelLoad = ModelLoadMeter(ports: ports.map(\.port))
        let start = MonotonicClock.nanoseconds()
        threads.forEach { $0.start() }
        var previous = snapshot()
        var last = start
        while true {
            MonotonicClock.sleep(microseconds: 5_000)
            let now = MonotonicClock.nanoseconds()
            if stopRequest.isRequested { break }
            if let d = configuration.duration, Double(now - start) / 1e9 >= d { break }
            if maintenance.take() {
                ports.updateStats(besideBurstsOf: pause, threads: threads.count,
                                  allFinished: { finished.allSatisfy { $0.load(ordering: .acquiring) } })
            }
            if now - last >= 1_000_000_000 {
                let current = snapshot()
                report(makeReport(current, since: previous, seconds: Double(now - last) / 1e9,
                                  elapsed: Double(now - start) / 1e9, final: false))
                ports.updateStats(besideBurstsOf: pause, threads: threads.count,
                                  allFinished: { finished.allSatisfy { $0.load(ordering: .acquiring) } })
                previous = current
                last = now
            }
        }
        // Stop sending first, wait until every sender saw it (a sender in the middle of a burst
        // still sends it), and let the meters take in what is still on its way (not a loss).
        stopSending.store(true, ordering: .releasing)
        let sendersDeadline = MonotonicClock.nanoseconds() + 1_000_000_000
        while sendersStopped.load(ordering: .acquiring) < senders && MonotonicClock.nanoseconds() < sendersDeadline
            && !finished.allSatisfy({ $0.load(ordering: .acquiring) }) {
            MonotonicClock.sleep(microseconds: 100)
        }
        var settled = snapshot()
        var quietIntervals = 0
        let drainDeadline = MonotonicClock.nanoseconds() + 1_000_000_000
        while quietIntervals < 3 && MonotonicClock.nanoseconds() < drainDeadline {
            MonotonicClock.sleep(microseconds: 20_000)
            let now = snapshot()
            quietIntervals = now.map(\.rxPackets) == settled.map(\.rxPackets) ? quietIntervals + 1 : 0
            settled = now
        }
        stop.store(true, ordering: .releasing)
        wake.request()
        while !finished.allSatisfy({ $0.load(ordering: .acquiring) }) { MonotonicClock.sleep(microseconds: 100) }
        finished.forEach { $0.destroy() }
        sendersStopped.destroy()
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
        for p in ports { p.port.updateStats() }
        var summary = makeReport(snapshot(), since: nil, seconds: elapsed, elapsed: elapsed, final: true)
        if configuration.latency { summary.latency = latencies() }
        summary.modelBusyPercent = modelLoad.busyPercent(over: elapsed)
        return summary
    }

    /// The sleeper of a thread serving `lanes`, when the polling policy lets threads sleep and
    /// every lane only measures (a sending thread stays busy); recorded in `sleepers` per lane.
    private func makeSleeper(for lanes: [Lane], waking stopRequest: StopRequest) -> InterruptSleeper? {
        guard configuration.polling.mode != .busy, lanes.allSatisfy({ $0.generator == nil && $0.meter != nil }) else { return nil }
        var portsInOrder: [Int] = []
        var queuesOfPort: [Int: [Int]] = [:]
        for lane in lanes {
            if queuesOfPort[lane.port] == nil { portsInOrder.append(lane.port) }
            queuesOfPort[lane.port, default: []].append(lane.queue)
        }
        guard let sleeper = InterruptSleeper(
            ports: portsInOrder.map { ports[$0].port }, queuesOfPort: portsInOrder.map { queuesOfPort[$0] },
            mailbox: .handOver(maintenance), wakeDescriptors: [stopRequest.descriptor, wake.descriptor, pause.wakeDescriptor])
        else { return nil }
        for lane in lanes {
            let index = portsInOrder.firstIndex(of: lane.port)!
            sleepers[lane.port][lane.queue] = LaneSleeper(
                sleeper: sleeper, portIndex: index, carries: queuesOfPort[lane.port]!.first == lane.queue)
        }
        return sleeper
    }

    private func snapshot() -> [BenchQueueResult] {
        var out: [BenchQueueResult] = []
        for i in ports.indices {
            for q in generators[i].indices {
                let g = generators[i][q], m = meters[i][q]
                let polling = sleepers.isEmpty ? nil : sleepers[i][q].map { lane in
                    lane.carries ? lane.sleeper.activity(mode: configuration.polling.mode, port: lane.portIndex)
                        : PollingActivity(mode: configuration.polling.mode)
                }
                out.append(BenchQueueResult(
                    port: i, queue: q,
                    txPackets: g?.sentPackets.load(ordering: .relaxed) ?? 0,
                    txBytes: g?.sentBytes.load(ordering: .relaxed) ?? 0,
                    rxPackets: m?.packets.load(ordering: .relaxed) ?? 0,
                    rxBytes: m?.bytes.load(ordering: .relaxed) ?? 0,
                    lost: m?.lost.load(ordering: .relaxed) ?? 0,
                    reordered: m?.reordered.load(ordering: .relaxed) ?? 0,
                    polling: (polling?.mode ?? .busy).rawValue, asleepSeconds: polling?.asleepSeconds ?? 0,
                    wakeUps: polling?.wakeUps ?? 0))
            }
        }
        return out
    }

    private func makeReport(_ now: [BenchQueueResult], since before: [BenchQueueResult]?, seconds: Double,
                            elapsed: Double, final: Bool) -> BenchReport {
        let secs = max(seconds, 1e-9)
        let rates = ports.indices.map { i -> BenchPortRates in
            let queues = now.filter { $0.port == i }
            let old = before?.filter { $0.port == i }
            func sum(_ key: KeyPath<BenchQueueResult, UInt64>, _ list: [BenchQueueResult]?) -> UInt64 {
                (list ?? []).reduce(0) { $0 &+ $1[keyPath: key] }
            }
            let txp = sum(\.txPackets, queues) &- sum(\.txPackets, old)
            let txb = sum(\.txBytes, queues) &- sum(\.txBytes, old)
            let rxp = sum(\.rxPackets, queues) &- sum(\.rxPackets, old)
            let rxb = sum(\.rxBytes, queues) &- sum(\.rxBytes, old)
            let l1 = Double(BenchFrame.layer1Overhead * 8)
            let txL1 = (Double(txb) * 8 + Double(txp) * l1) / secs / 1e9
            let rxL1 = (Double(rxb) * 8 + Double(rxp) * l1) / secs / 1e9
            let speed = ports[i].port.link.speedMbps
            return BenchPortRates(
                name: ports[i].spec,
                txMpps: Double(txp) / secs / 1e6, txGbps: Double(txb) * 8 / secs / 1e9, txGbpsL1: txL1,
                rxMpps: Double(rxp) / secs / 1e6, rxGbps: Double(rxb) * 8 / secs / 1e9, rxGbpsL1: rxL1,
                lineRatePercent: speed > 0 ? max(txL1, rxL1) * 1000 / Double(speed) * 100 : nil,
                lost: sum(\.lost, queues), reordered: sum(\.reordered, queues), queues: queues,
                filterDrops: ports[i].filterDropReport(),
                polling: queues.first { $0.polling != PollingMode.busy.rawValue }?.polling ?? PollingMode.busy.rawValue,
                asleepSeconds: queues.reduce(0) { $0 + $1.asleepSeconds }, wakeUps: sum(\.wakeUps, queues))
        }
        return BenchReport(elapsed: elapsed, final: final, ports: rates, latency: nil)
    }

    private func latencies() -> [String: BenchLatency] {
        var out: [String: BenchLatency] = [:]
        for i in ports.indices {
            var merged = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
            var any = false
            for m in meters[i] {
                guard let m else { continue }
                any = true
                merged.add(m.latency)
            }
            guard any else { continue }
            out[ports[i].spec] = BenchLatency(
                samples: merged.totalCount, p50: merged.valueAtPercentile(50), p99: merged.valueAtPercentile(99),
                p999: merged.valueAtPercentile(99.9), max: merged.max)
        }
        return out
    }
}
