import Atomics
import PMDCore
import VFDriver
#if canImport(Glibc)
import Glibc
#endif

/// What a port's (or a lane's) poller did, for the live line, the summary and the metrics.
public struct PollingActivity: Equatable, Sendable {
    /// The mode the port was polled in: `busy` for a port that cannot wake its poller by an
    /// interrupt (a `pcap:` port), or for every port of an adaptive poller that has one such.
    public var mode: PollingMode
    /// Seconds the poller slept waiting for the port's (and its fellow ports') interrupts.
    public var asleepSeconds: Double = 0
    /// Sleeps that an interrupt of this port ended (a frame, or a message of its PF).
    public var wakeUps: UInt64 = 0

    /// Activity of a port polled in `mode`, nothing slept yet.
    public init(mode: PollingMode) { self.mode = mode }

    /// The activity a report states as the mode's name (busy when it names none), the seconds
    /// asleep and the wake-ups.
    public init(mode name: String, asleepSeconds: Double, wakeUps: UInt64) {
        mode = PollingMode(rawValue: name) ?? .busy
        self.asleepSeconds = asleepSeconds
        self.wakeUps = wakeUps
    }

    /// "adaptive, 1.93 s asleep, 2 wake-ups"; "busy" alone for a port never put to sleep.
    public var text: String {
        mode == .busy ? "busy" : "\(mode), \(formatted(asleepSeconds)) s asleep, \(wakeUps) wake-up\(wakeUps == 1 ? "" : "s")"
    }
}

/// How a sleeper's thread has a port's mailbox interrupt handled (the PF's messages, a reset's
/// recovery), which must not run beside another thread in the port's control path.
enum MailboxHandling {
    /// On the sleeping thread, under each port's statistics sampler's control lock: a capture,
    /// whose one receive thread runs every burst of its ports.
    case service([StatisticsSampler])
    /// By the controller thread, asked through the request: forward and bench, whose ports'
    /// other queues may be in bursts on other threads, and whose controller reads the ports.
    case handOver(MaintenanceRequest)
}

/// A datapath thread's request that the controller maintain the ports now (a mailbox
/// interrupt came), instead of at its next report.
final class MaintenanceRequest: @unchecked Sendable {
    private let flag = UnsafeAtomic<Bool>.create(false)

    deinit { flag.destroy() }

    /// Asks for the maintenance.
    func raise() { flag.store(true, ordering: .releasing) }

    /// Whether it was asked for since the last call.
    func take() -> Bool { flag.exchange(false, ordering: .acquiring) }
}

/// Puts a datapath thread to sleep until one of its receive queues gets a frame, with the
/// driver's protocol (`VFPort.armInterrupt(queue:)`): arm every queue the thread polls, take
/// what the eventfds hold from before, re-check every ring, and only if all are empty wait in
/// poll(2) on every such queue's eventfd, every port's mailbox eventfd and the wake descriptors
/// (a stop request's: never read here, a stop keeps every sleeper awake). A mailbox interrupt is
/// handled as `MailboxHandling` says. The descriptors are the ports' and the caller's; the
/// sleeper closes none. Its counters are written by its thread only and may be read by any.
final class InterruptSleeper: @unchecked Sendable {
    /// The queues the thread polls: (index of the port among the sleeper's ports, port, queue).
    private let queues: [(owner: Int, port: VFPort, queue: Int)]
    private let mailbox: MailboxHandling
    private let mailboxPorts: [VFPort]
    private var waiters: [pollfd]
    /// The port of each waiter and what the waiter is; the wake descriptors come last.
    private let owners: [(port: Int, kind: WaiterKind)]
    // Made at the end of `init`, after every way it returns nil (a failed initialiser runs
    // no deinit, so counters made before would never be destroyed).
    private let asleep: UnsafeAtomic<UInt64>
    private let timeoutCount: UnsafeAtomic<UInt64>
    private let wakeUpCounts: [UnsafeAtomic<UInt64>]

    private enum WaiterKind { case queue, mailbox, wake }

    /// A sleeper over `ports` (started), polling queue `queue` of each (nil: every queue of
    /// each), with their mailbox interrupts handled as `mailbox` says and `wakeDescriptors`
    /// ending a sleep too; nil when one of them cannot wake the thread (not a driver port, or
    /// one without interrupts).
    convenience init?(ports: [any Port], queue: Int? = nil, mailbox: MailboxHandling, wakeDescriptors: [Int32] = []) {
        self.init(ports: ports, queuesOfPort: ports.map { _ in queue.map { [$0] } }, mailbox: mailbox,
                  wakeDescriptors: wakeDescriptors)
    }

    /// A sleeper over `ports` (started, each once), polling the queues `queuesOfPort` lists for
    /// each (nil: every queue of the port), otherwise as `init(ports:queue:mailbox:wakeDescriptors:)`.
    init?(ports: [any Port], queuesOfPort: [[Int]?], mailbox: MailboxHandling, wakeDescriptors: [Int32] = []) {
        precondition(queuesOfPort.count == ports.count, "one queue list per port")
        var queues: [(Int, VFPort, Int)] = [], vfPorts: [VFPort] = []
        var waiters: [pollfd] = [], owners: [(Int, WaiterKind)] = []
        for (index, port) in ports.enumerated() {
            guard let vf = port as? VFPort, let fds = vf.interruptEventFDs else { return nil }
            vfPorts.append(vf)
            for q in queuesOfPort[index] ?? Array(fds.receive.indices) where fds.receive.indices.contains(q) {
                queues.append((index, vf, q))
                waiters.append(pollfd(fd: fds.receive[q], events: Int16(POLLIN), revents: 0))
                owners.append((index, .queue))
            }
            waiters.append(pollfd(fd: fds.mailbox, events: Int16(POLLIN), revents: 0))
            owners.append((index, .mailbox))
        }
        for fd in wakeDescriptors {
            waiters.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            owners.append((-1, .wake))
        }
        self.queues = queues
        self.mailbox = mailbox
        mailboxPorts = vfPorts
        self.waiters = waiters
        self.owners = owners
        asleep = UnsafeAtomic<UInt64>.create(0)
        timeoutCount = UnsafeAtomic<UInt64>.create(0)
        wakeUpCounts = ports.map { _ in UnsafeAtomic<UInt64>.create(0) }
    }

    deinit {
        asleep.destroy()
        timeoutCount.destroy()
        for count in wakeUpCounts { count.destroy() }
    }

    /// Whether a port of the poller can never wake it: `--poll interrupt` refuses such a port.
    static func cannotWake(_ port: any Port) -> Bool {
        (port as? VFPort)?.configuration.interrupts == nil
    }

    /// Nanoseconds slept so far.
    var asleepNanoseconds: UInt64 { asleep.load(ordering: .relaxed) }
    /// Sleeps that ended at their timeout, no interrupt or wake descriptor having come.
    var timeouts: UInt64 { timeoutCount.load(ordering: .relaxed) }
    /// Sleeps that an interrupt of port `index` (among the sleeper's ports) ended.
    func wakeUps(port index: Int) -> UInt64 { wakeUpCounts[index].load(ordering: .relaxed) }
    /// Sleeps that an interrupt of any of its ports ended.
    var wakeUps: UInt64 { wakeUpCounts.reduce(0) { $0 &+ $1.load(ordering: .relaxed) } }

    /// What the thread's sleeps amount to for a poller in `mode`.
    func activity(mode: PollingMode) -> PollingActivity {
        var activity = PollingActivity(mode: mode)
        activity.asleepSeconds = Double(asleepNanoseconds) / 1e9
        activity.wakeUps = wakeUps
        return activity
    }

    /// What the thread's sleeps amount to for port `index` (among the sleeper's ports) of a
    /// poller in `mode`: the thread's time asleep, the wake-ups that port's interrupts made.
    func activity(mode: PollingMode, port index: Int) -> PollingActivity {
        var activity = activity(mode: mode)
        activity.wakeUps = wakeUps(port: index)
        return activity
    }

    /// Arms, re-checks and sleeps at most `timeoutMilliseconds` (-1: until woken); returns
    /// false without sleeping when a ring already holds a frame.
    func sleep(timeoutMilliseconds: Int32) -> Bool {
        for entry in queues { entry.port.armInterrupt(queue: entry.queue) }
        // A message sent before the arm says nothing now; one sent since is for a frame the
        // re-check below sees (its descriptor is written back before the message).
        for (index, waiter) in waiters.enumerated() where owners[index].kind == .queue { _ = InterruptEventFDs.take(waiter.fd) }
        for entry in queues where entry.port.hasReceivedFrame(queue: entry.queue) { return false }
        for index in waiters.indices { waiters[index].revents = 0 }
        let start = MonotonicClock.nanoseconds()
        let ready = poll(&waiters, nfds_t(waiters.count), timeoutMilliseconds)
        add(asleep, MonotonicClock.nanoseconds() &- start)
        guard ready > 0 else {
            if ready == 0 { add(timeoutCount, 1) }
            return true
        }
        var lastWoken = -1  // the waiters are in port order: one wake-up per port
        for (index, waiter) in waiters.enumerated() where waiter.revents != 0 {
            let (port, kind) = owners[index]
            switch kind {
            case .wake: continue
            case .queue: _ = InterruptEventFDs.take(waiter.fd)
            case .mailbox:
                switch mailbox {
                case .service(let samplers): samplers[port].withControl { _ = mailboxPorts[port].serviceMailboxInterrupt() }
                case .handOver(let request):
                    _ = InterruptEventFDs.take(waiter.fd)
                    request.raise()
                }
            }
            if port != lastWoken { add(wakeUpCounts[port], 1) }
            lastWoken = port
        }
        return true
    }

    /// Adds to a counter only this thread writes.
    private func add(_ counter: UnsafeAtomic<UInt64>, _ value: UInt64) {
        counter.store(counter.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }
}
