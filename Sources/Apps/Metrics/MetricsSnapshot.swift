import PMDCore
import VFDriver

/// One queue's software counters, as the driver keeps them per queue.
public struct QueueMetrics: Sendable, Equatable {
    /// The queue number.
    public var queue: Int
    /// Its receive counters.
    public var rx: RxQueueCounters
    /// Its transmit counters.
    public var tx: TxQueueCounters
    /// How the bench thread of the queue polled (the thread is what sleeps); nil for the
    /// other apps.
    public var polling: PollingActivity?
}

/// What the metrics endpoint shows of one port: its statistics and link as the app's
/// controller last read them, and its queues' counters where the port keeps them.
public struct PortMetrics: Sendable {
    /// The spec the port was opened from.
    public var spec: String
    /// The VF family (`ixgbevf`, `igbvf`), or `pcap` for a pcap port.
    public var family: String
    /// The port's counters.
    public var stats: PortStats
    /// The port's link.
    public var link: LinkStatus
    /// Per queue (a VF's queues; empty for a port without per-queue counters).
    public var queues: [QueueMetrics]

    /// A port's metrics as given.
    public init(spec: String, family: String, stats: PortStats, link: LinkStatus, queues: [QueueMetrics]) {
        self.spec = spec
        self.family = family
        self.stats = stats
        self.link = link
        self.queues = queues
    }

    /// Reads `opened` now: call it on the thread that reads the port's statistics (the
    /// controller), never beside one that may be updating them.
    public init(_ opened: OpenedPort) {
        self.init(opened, reading: PortReading(stats: opened.port.stats, link: opened.port.link))
    }

    /// `opened` with its counters and link as `reading` (a statistics thread's last reading);
    /// its queues' counters are read now (shared counters, safe beside the datapath).
    public init(_ opened: OpenedPort, reading: PortReading) {
        spec = opened.spec
        stats = reading.stats
        link = reading.link
        if let vf = opened.port as? VFPort {
            family = vf.table.family.rawValue
            queues = (0..<vf.queueCount).map { QueueMetrics(queue: $0, rx: vf.rxCounters(queue: $0), tx: vf.txCounters(queue: $0), polling: nil) }
        } else {
            family = "pcap"
            queues = []
        }
    }
}

/// Everything one scrape shows: the ports, a forwarder's lanes, a capture's counters.
public struct MetricsSnapshot: Sendable {
    /// Per port, in command-line order.
    public var ports: [PortMetrics]
    /// A forwarder's lanes (empty for the other apps).
    public var lanes: [LaneActivity]
    /// A capture's own counters (nil for the other apps).
    public var capture: CaptureCounters?

    /// A snapshot.
    public init(ports: [PortMetrics], lanes: [LaneActivity] = [], capture: CaptureCounters? = nil) {
        self.ports = ports
        self.lanes = lanes
        self.capture = capture
    }
}

/// The latest snapshot, handed from the thread that takes it (the app's controller, once per
/// report) to the thread that serves a scrape. The datapath never touches it.
public final class MetricsBoard: Sendable {
    private let latest: Locked<MetricsSnapshot>

    /// A board showing `initial` until the first `publish`.
    public init(_ initial: MetricsSnapshot) { latest = Locked(initial) }

    /// Replaces what scrapes show.
    public func publish(_ snapshot: MetricsSnapshot) { latest.withLock { $0 = snapshot } }

    /// What a scrape shows now.
    public var snapshot: MetricsSnapshot { latest.withLock { $0 } }
}
