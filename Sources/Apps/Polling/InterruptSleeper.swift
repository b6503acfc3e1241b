import PMDCore
import VFDriver
#if canImport(Glibc)
import Glibc
#endif

/// What a port's poller did, for the live line, the summary and the metrics.
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

    /// "adaptive, 1.93 s asleep, 2 wake-ups"; "busy" alone for a port never put to sleep.
    public var text: String {
        mode == .busy ? "busy" : "\(mode), \(formatted(asleepSeconds)) s asleep, \(wakeUps) wake-up\(wakeUps == 1 ? "" : "s")"
    }
}

/// Puts a datapath thread to sleep until one of its ports' receive queues gets a frame, with
/// the driver's protocol (`VFPort.armInterrupt(queue:)`): arm every queue of every port, take
/// what the eventfds hold from before, re-check every ring, and only if all are empty wait in
/// poll(2) on every queue's eventfd and every mailbox eventfd. A mailbox interrupt is serviced
/// (the PF's messages, a reset's recovery) under the port's statistics sampler's control lock.
/// The descriptors are the ports'; the sleeper closes none.
final class InterruptSleeper {
    /// Ports able to sleep: every port of the poller, started, each in interrupt mode.
    private let ports: [VFPort]
    private let samplers: [StatisticsSampler]
    private var waiters: [pollfd]
    /// The port of each waiter, and whether it is the port's mailbox.
    private let owners: [(port: Int, mailbox: Bool)]
    /// Nanoseconds slept.
    private(set) var asleepNanoseconds: UInt64 = 0
    /// Per port: sleeps one of its interrupts ended.
    private(set) var wakeUps: [UInt64]

    /// A sleeper over `ports` (started), each with its statistics sampler; nil when one of
    /// them cannot wake the thread (not a driver port, or one without interrupts).
    init?(ports: [any Port], samplers: [StatisticsSampler]) {
        var vfPorts: [VFPort] = [], waiters: [pollfd] = [], owners: [(Int, Bool)] = []
        for (index, port) in ports.enumerated() {
            guard let vf = port as? VFPort, let fds = vf.interruptEventFDs else { return nil }
            vfPorts.append(vf)
            for fd in fds.receive {
                waiters.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                owners.append((index, false))
            }
            waiters.append(pollfd(fd: fds.mailbox, events: Int16(POLLIN), revents: 0))
            owners.append((index, true))
        }
        self.ports = vfPorts
        self.samplers = samplers
        self.waiters = waiters
        self.owners = owners
        wakeUps = Array(repeating: 0, count: ports.count)
    }

    /// Whether a port of the poller can never wake it: `--poll interrupt` refuses such a port.
    static func cannotWake(_ port: any Port) -> Bool {
        (port as? VFPort)?.configuration.interrupts == nil
    }

    /// Arms, re-checks and sleeps at most `timeoutMilliseconds`; returns false without
    /// sleeping when a ring already holds a frame.
    func sleep(timeoutMilliseconds: Int32) -> Bool {
        for port in ports {
            for queue in 0..<port.queueCount { port.armInterrupt(queue: queue) }
        }
        // A message sent before the arm says nothing now; one sent since is for a frame the
        // re-check below sees (its descriptor is written back before the message).
        for (index, waiter) in waiters.enumerated() where !owners[index].mailbox { _ = InterruptEventFDs.take(waiter.fd) }
        for port in ports {
            for queue in 0..<port.queueCount where port.hasReceivedFrame(queue: queue) { return false }
        }
        for index in waiters.indices { waiters[index].revents = 0 }
        let start = MonotonicClock.nanoseconds()
        let ready = poll(&waiters, nfds_t(waiters.count), timeoutMilliseconds)
        asleepNanoseconds &+= MonotonicClock.nanoseconds() &- start
        guard ready > 0 else { return true }
        var lastWoken = -1  // the waiters are in port order: one wake-up per port
        for (index, waiter) in waiters.enumerated() where waiter.revents != 0 {
            let (port, mailbox) = owners[index]
            if mailbox {
                samplers[port].withControl { _ = ports[port].serviceMailboxInterrupt() }
            } else {
                _ = InterruptEventFDs.take(waiter.fd)
            }
            if port != lastWoken { wakeUps[port] &+= 1 }
            lastWoken = port
        }
        return true
    }
}
