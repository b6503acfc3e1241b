import PMDCore

/// When an adaptive (or interrupt-mode) datapath thread sleeps: after its polls found nothing
/// for the policy's idle time, measured in TSC ticks it reads anyway. One comparison a poll.
struct IdleTracker {
    /// Ticks without a frame before sleeping (0: at the first empty poll).
    private let sleepAfterTicks: UInt64
    /// When the current run of empty polls began; `.max` while frames come.
    private var idleSince = UInt64.max

    /// The tracker of `policy`.
    init(_ policy: PollingPolicy) {
        sleepAfterTicks = UInt64(Double(policy.sleepAfterMicroseconds) * TSC.frequency / 1e6)
    }

    /// A poll found frames (or the thread slept): the idle time starts again.
    @inline(__always) mutating func busy() { idleSince = .max }

    /// A poll at TSC `now` found nothing: whether the thread has been idle long enough to sleep.
    @inline(__always) mutating func idle(at now: UInt64) -> Bool {
        if idleSince == .max { idleSince = now }
        return now &- idleSince >= sleepAfterTicks
    }
}
