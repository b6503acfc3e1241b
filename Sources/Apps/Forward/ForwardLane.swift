import Atomics
import PMDCore

/// Counters of one direction of one lane: written by the lane's thread only, read by the
/// reporting thread (relaxed loads and stores: plain moves, no locked instruction).
struct DirectionCounters {
    var received = UnsafeAtomic<UInt64>.create(0)
    var sent = UnsafeAtomic<UInt64>.create(0)
    var dropped = UnsafeAtomic<UInt64>.create(0)

    func add(_ counter: UnsafeAtomic<UInt64>, _ n: Int) {
        counter.store(counter.load(ordering: .relaxed) &+ UInt64(n), ordering: .relaxed)
    }

    func destroy() {
        received.destroy()
        sent.destroy()
        dropped.destroy()
    }
}

/// Flags shared by the controller and every lane.
final class LaneControl: @unchecked Sendable {
    /// Set to end every lane.
    let stop = UnsafeAtomic<Bool>.create(false)
    /// Parks the lanes while a port does maintenance that needs its queues quiet.
    let pause = DatapathPause()
    /// Packets the lanes may still receive (`--count`); nil: no limit, and no atomic per burst.
    let budget: UnsafeAtomic<UInt64>?
    /// Requested with `stop`: its descriptor wakes the lanes asleep on their ports' interrupts.
    let wake = StopRequest()
    /// A lane woken by a mailbox interrupt asks the controller to maintain the ports now.
    let maintenance = MaintenanceRequest()

    /// Flags for lanes that receive at most `packetLimit` packets together (nil: no limit).
    init(packetLimit: UInt64?) {
        budget = packetLimit.map { UnsafeAtomic<UInt64>.create($0) }
    }

    /// Takes up to `wanted` packets from the budget; returns how many were granted.
    @inline(__always)
    func claim(_ wanted: Int, from budget: UnsafeAtomic<UInt64>) -> Int {
        var left = budget.load(ordering: .relaxed)
        while left > 0 {
            let take = min(left, UInt64(wanted))
            let (done, now) = budget.weakCompareExchange(expected: left, desired: left - take, ordering: .relaxed)
            if done { return Int(take) }
            left = now
        }
        return 0
    }

    /// Whether the budget is spent (always false without a limit).
    var budgetSpent: Bool { budget.map { $0.load(ordering: .relaxed) == 0 } ?? false }

    deinit {
        stop.destroy()
        budget?.destroy()
    }

    /// Ends every lane, waking those asleep.
    func stopLanes() {
        stop.store(true, ordering: .releasing)
        wake.request()
    }
}

/// One polling thread's work: both directions of one port pair on one queue.
///
/// Receive into a batch only when the previous burst has left completely: a full TX ring
/// holds packets back here, the RX ring then fills and the device counts what it cannot
/// store, as hardware does. Nothing is dropped in the lane while it runs.
///
/// With a sleeper (adaptive or interrupt polling, both ports able to interrupt), a lane that
/// holds nothing and found nothing for the idle time arms its queue's interrupt on both ports,
/// re-checks both rings and sleeps until a frame, a PF message, a stop, a pause or
/// `longestSleepMilliseconds`; the sleep counts as no pause of the datapath.
final class ForwardLane: @unchecked Sendable {
    let a: any Port
    let b: any Port
    /// Indices of `a` and `b` among the forwarder's ports.
    let aIndex: Int
    let bIndex: Int
    let queue: Int
    let rewriteAToB: ForwardRewrite
    let rewriteBToA: ForwardRewrite
    /// The mirrors each direction feeds (held by the forwarder); nil for none.
    let tapAToB: Unmanaged<MirrorTap>?
    let tapBToA: Unmanaged<MirrorTap>?
    let aToB = DirectionCounters()
    let bToA = DirectionCounters()
    /// Packets held in the lane's two batches.
    let holding = UnsafeAtomic<Int>.create(0)
    /// Loop iterations done: the controller sees that the lane polled after a moment.
    let polls = UnsafeAtomic<UInt64>.create(0)
    /// Packets per burst.
    let burst: Int
    /// CPU to pin the thread to, if any.
    let core: Int?
    let control: LaneControl
    /// Set when the thread has returned.
    let finished = UnsafeAtomic<Bool>.create(false)
    /// The longest time between two polls of the lane's queues, in TSC ticks (a pause of the
    /// datapath: a park, a preemption, a slow port call).
    let longestGapTicks = UnsafeAtomic<UInt64>.create(0)
    /// Times the lane was parked for port maintenance.
    let parks = UnsafeAtomic<UInt64>.create(0)
    /// How the lane waits for frames; set before its thread starts.
    private(set) var polling = PollingPolicy.busy
    /// The lane's sleeper: nil while it polls busily.
    private(set) var sleeper: InterruptSleeper?
    /// The longest sleep, in milliseconds: how stale the reported time asleep may be.
    private(set) var longestSleepMilliseconds: Int32 = 100

    init(a: any Port, b: any Port, aIndex: Int, bIndex: Int, queue: Int, rewriteAToB: ForwardRewrite, rewriteBToA: ForwardRewrite,
         tapAToB: MirrorTap? = nil, tapBToA: MirrorTap? = nil, burst: Int, core: Int?, control: LaneControl) {
        self.a = a
        self.b = b
        self.aIndex = aIndex
        self.bIndex = bIndex
        self.queue = queue
        self.rewriteAToB = rewriteAToB
        self.rewriteBToA = rewriteBToA
        self.tapAToB = tapAToB.map { Unmanaged.passUnretained($0) }
        self.tapBToA = tapBToA.map { Unmanaged.passUnretained($0) }
        self.burst = burst
        self.core = core
        self.control = control
    }

    deinit {
        aToB.destroy()
        bToA.destroy()
        holding.destroy()
        polls.destroy()
        finished.destroy()
        longestGapTicks.destroy()
        parks.destroy()
    }

    /// Before the thread starts, with both ports started: polls by `policy`, sleeping at most
    /// `longestSleepMilliseconds` at a time; a port that cannot interrupt leaves the lane busy.
    func preparePolling(_ policy: PollingPolicy, longestSleepMilliseconds: Int32, stopDescriptor: Int32) {
        polling = policy
        self.longestSleepMilliseconds = longestSleepMilliseconds
        guard policy.mode != .busy else { return }
        sleeper = InterruptSleeper(ports: [a, b], queue: queue, mailbox: .handOver(control.maintenance),
                                   wakeDescriptors: [stopDescriptor, control.wake.descriptor, control.pause.wakeDescriptor])
    }

    /// The lane's polling so far: busy without a sleeper.
    var pollingActivity: PollingActivity {
        sleeper?.activity(mode: polling.mode) ?? PollingActivity(mode: .busy)
    }

    /// The thread body.
    func run() {
        var ab = PacketBatch(burst: burst)
        var ba = PacketBatch(burst: burst)
        var lastPoll = TSC.now()
        var longestGap: UInt64 = 0
        let sleeper = self.sleeper
        var idle = IdleTracker(polling)
        while !control.stop.load(ordering: .relaxed) {
            if control.pause.isRequested {
                parks.wrappingIncrement(ordering: .relaxed)
                control.pause.park(unless: control.stop)
            }
            let received = pump(from: a, to: b, &ab, rewriteAToB, tapAToB, aToB)
                &+ pump(from: b, to: a, &ba, rewriteBToA, tapBToA, bToA)
            let held = ab.count &+ ba.count
            holding.store(held, ordering: .relaxed)
            polls.store(polls.load(ordering: .relaxed) &+ 1, ordering: .releasing)
            var now = TSC.now()
            if _slowPath(now &- lastPoll > longestGap) {
                longestGap = now &- lastPoll
                longestGapTicks.store(longestGap, ordering: .relaxed)
            }
            if let sleeper {
                if received != 0 || held != 0 {
                    idle.busy()
                } else if idle.idle(at: now) {
                    _ = sleeper.sleep(timeoutMilliseconds: longestSleepMilliseconds)
                    idle.busy()
                    now = TSC.now()
                }
            }
            lastPoll = now
        }
        // What the lane holds at the stop is sent if the ports take it within 100 ms; only
        // what they refuse that long is counted as dropped.
        let deadline = MonotonicClock.nanoseconds() &+ 100_000_000
        while !(ab.isEmpty && ba.isEmpty) && MonotonicClock.nanoseconds() < deadline {
            if !ab.isEmpty { aToB.add(aToB.sent, b.transmit(queue: queue, &ab)) }
            if !ba.isEmpty { bToA.add(bToA.sent, a.transmit(queue: queue, &ba)) }
        }
        aToB.add(aToB.dropped, ab.count)
        bToA.add(bToA.dropped, ba.count)
        ab.removeAll()
        ba.removeAll()
        holding.store(0, ordering: .relaxed)
        finished.store(true, ordering: .releasing)
    }

    /// Moves one burst from `source` to `destination`; a fresh burst goes through `tap`'s
    /// mirrors, if any, around its rewrite. Returns the packets received.
    @inline(__always)
    private func pump(from source: any Port, to destination: any Port, _ batch: inout PacketBatch,
                      _ rewrite: ForwardRewrite, _ tap: Unmanaged<MirrorTap>?, _ counters: DirectionCounters) -> Int {
        var received = 0
        if batch.isEmpty {
            if let budget = control.budget {
                received = receiveWithinBudget(from: source, into: &batch, budget)
            } else {
                received = source.receive(queue: queue, into: &batch)
            }
            guard received > 0 else { return 0 }
            counters.add(counters.received, received)
            if _slowPath(tap != nil) {
                tap.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.pass(batch, through: rewrite) }
            } else {
                rewrite.apply(to: batch)
            }
        }
        let sent = destination.transmit(queue: queue, &batch)
        if sent > 0 { counters.add(counters.sent, sent) }
        return received
    }

    /// Receives at most what the budget grants (a smaller batch when fewer than a burst are
    /// left), and gives back what did not arrive.
    private func receiveWithinBudget(from source: any Port, into batch: inout PacketBatch,
                                     _ budget: UnsafeAtomic<UInt64>) -> Int {
        let granted = control.claim(batch.burst, from: budget)
        guard granted > 0 else { return 0 }
        let received: Int
        if granted < batch.burst {
            var smaller = PacketBatch(burst: granted)
            received = source.receive(queue: queue, into: &smaller)
            swap(&batch, &smaller)
        } else {
            received = source.receive(queue: queue, into: &batch)
        }
        if received < granted { budget.wrappingIncrement(by: UInt64(granted - received), ordering: .relaxed) }
        return received
    }
}
