import Atomics
import Foundation
import PMDCore
import Synchronization

/// Reads a port's statistics on a thread of its own, beside the one thread that runs the
/// port's bursts (a capture): every interval it calls `updateStatsBesideBursts()` and keeps a
/// copy of the port's counters, so the datapath thread never waits on a register or a link's
/// settle reads. When the port owes maintenance (a re-initialisation after a PF reset) it says
/// so, and the datapath thread calls `maintain()` between two bursts, where its queues are
/// quiet by construction. The two never enter the port's control path at once.
/// A port's counters and link as a statistics reader last saw them.
public struct PortReading: Sendable {
    /// The port's counters.
    public var stats: PortStats
    /// The port's link.
    public var link: LinkStatus
}

final class StatisticsSampler: @unchecked Sendable {
    private let port: any PMDCore.Port
    private let intervalMicroseconds: Int
    /// Held while either thread is in the port's control path.
    private let control = Locked(())
    private let latest: Locked<PortReading>
    private let owes = UnsafeAtomic<Bool>.create(false)
    private let stopRequested = UnsafeAtomic<Bool>.create(false)
    private let stopped = UnsafeAtomic<Bool>.create(false)
    /// Ends the sampling thread's wait for the next interval when a stop is asked for, so an
    /// idle sampler wakes once an interval (not 200 times a second) and still stops at once.
    private let stopBell = RingDoorbell()

    /// A sampler of `port` (started, its statistics read once already) every `interval` seconds.
    init(port: any PMDCore.Port, interval: Double) {
        self.port = port
        intervalMicroseconds = max(1_000, Int(interval * 1e6))
        latest = Locked(PortReading(stats: port.stats, link: port.link))
    }

    deinit {
        owes.destroy()
        stopRequested.destroy()
        stopped.destroy()
    }

    /// Starts the sampling thread.
    func start() {
        let thread = Thread { [self] in
            while !stopRequested.load(ordering: .relaxed) {
                let due = MonotonicClock.nanoseconds() &+ UInt64(intervalMicroseconds) &* 1000
                while !stopRequested.load(ordering: .relaxed) {
                    let now = MonotonicClock.nanoseconds()
                    guard now < due else { break }
                    let milliseconds = Int32(clamping: (due &- now + 999_999) / 1_000_000)
                    stopBell.sleep(timeoutMilliseconds: milliseconds) { stopRequested.load(ordering: .acquiring) }
                }
                if stopRequested.load(ordering: .relaxed) { break }
                let reading = control.withLock { _ in
                    port.updateStatsBesideBursts() ? nil : PortReading(stats: port.stats, link: port.link)
                }
                if let reading {
                    latest.withLock { $0 = reading }
                } else {
                    owes.store(true, ordering: .releasing)
                }
            }
            stopped.store(true, ordering: .releasing)
        }
        thread.name = "vfpmd-stats"
        thread.start()
    }

    /// Runs `body` (the port's control path: a mailbox interrupt's service) from the datapath
    /// thread, never beside the sampling thread's reading.
    func withControl(_ body: () -> Void) { control.withLock { _ in body() } }

    /// Whether the port owes maintenance: the datapath thread asks once per round (one load).
    @inline(__always) var owesMaintenance: Bool { owes.load(ordering: .acquiring) }

    /// From the datapath thread, between bursts: the port's maintenance and a fresh reading.
    func maintain() {
        let reading = control.withLock { _ in
            port.updateStats()
            return PortReading(stats: port.stats, link: port.link)
        }
        owes.store(false, ordering: .releasing)
        latest.withLock { $0 = reading }
    }

    /// The counters as last read.
    var stats: PortStats { latest.withLock { $0.stats } }
    /// The counters and link as last read.
    var reading: PortReading { latest.withLock { $0 } }

    /// Stops the sampling thread and waits until it left the port alone.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        stopBell.ring()
        while !stopped.load(ordering: .acquiring) { MonotonicClock.sleep(microseconds: 100) }
    }
}
