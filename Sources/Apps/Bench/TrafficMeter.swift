import Atomics
import Histogram
import PMDCore

/// Counts what arrives on one queue of one port: packets, bytes, sequence gaps (loss) and
/// late arrivals (reordering) per flow, and one-way latency from the stamped send time.
/// Owned by one thread; its counters are read by the reporting thread.
final class TrafficMeter: @unchecked Sendable {
    let port: any Port
    let queue: Int
    private var batch = PacketBatch()
    /// Next sequence number expected per flow (flows are 16-bit).
    private let expected = UnsafeMutablePointer<UInt32>.allocate(capacity: 65_536)
    private let seen = UnsafeMutablePointer<Bool>.allocate(capacity: 65_536)
    private let recordLatency: Bool
    private let nanosecondsPerTick = 1e9 / TSC.frequency
    /// Latencies in nanoseconds (only with latency measurement on).
    private(set) var latency = Histogram<UInt64>(numberOfSignificantValueDigits: .three)

    let packets = UnsafeAtomic<UInt64>.create(0)
    let bytes = UnsafeAtomic<UInt64>.create(0)
    let lost = UnsafeAtomic<UInt64>.create(0)
    let reordered = UnsafeAtomic<UInt64>.create(0)
    /// Frames without a bench probe.
    let foreign = UnsafeAtomic<UInt64>.create(0)

    init(port: any Port, queue: Int, recordLatency: Bool) {
        self.port = port
        self.queue = queue
        self.recordLatency = recordLatency
        expected.initialize(repeating: 0, count: 65_536)
        seen.initialize(repeating: false, count: 65_536)
    }

    deinit {
        batch.removeAll()
        expected.deallocate()
        seen.deallocate()
        for c in [packets, bytes, lost, reordered, foreign] { c.destroy() }
    }

    /// Receives and measures one burst; returns packets received.
    func poll() -> Int {
        let n = port.receive(queue: queue, into: &batch)
        guard n > 0 else { return 0 }
        // The device wrote the frames from another CPU: ask for every probe's cache line at
        // once instead of waiting for each in turn.
        for i in 0..<batch.count { prefetch(batch[i].data + BenchFrame.probeOffset) }
        let now = TSC.now()
        var byteCount: UInt64 = 0, gaps: UInt64 = 0, late: UInt64 = 0, other: UInt64 = 0
        for i in 0..<batch.count {
            let p = batch[i]
            byteCount &+= UInt64(p.length + BenchFrame.fcs)
            guard let probe = BenchFrame.probe(p.data, length: p.length) else { other &+= 1; continue }
            let want = expected[probe.flow]
            if !seen[probe.flow] || probe.sequence == want {
                seen[probe.flow] = true
                expected[probe.flow] = probe.sequence &+ 1
            } else if Int32(bitPattern: probe.sequence &- want) > 0 {
                gaps &+= UInt64(probe.sequence &- want)
                expected[probe.flow] = probe.sequence &+ 1
            } else {
                late &+= 1
            }
            if recordLatency && now > probe.tsc {
                _ = latency.record(UInt64(Double(now &- probe.tsc) * nanosecondsPerTick))
            }
        }
        batch.removeAll()
        add(packets, UInt64(n))
        add(bytes, byteCount)
        // A late frame was counted as lost when the gap opened; it arrived after all.
        let lostNow = lost.load(ordering: .relaxed) &+ gaps
        lost.store(lostNow >= late ? lostNow &- late : 0, ordering: .relaxed)
        add(reordered, late)
        add(foreign, other)
        return n
    }

    private func add(_ c: UnsafeAtomic<UInt64>, _ n: UInt64) {
        if n > 0 { c.store(c.load(ordering: .relaxed) &+ n, ordering: .relaxed) }
    }
}
