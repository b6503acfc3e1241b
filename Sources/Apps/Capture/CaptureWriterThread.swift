import Foundation
import PMDCore
import PcapIO
import Synchronization

/// The thread that writes a capture's files: it takes the slabs of the ring in order and
/// writes their records (`RotatingPcapWriter.write(_:)`), so the receive thread never waits on
/// a `write(2)`. Whenever it has caught up with the ring it writes the buffered records out:
/// at once when the output streams (a pipe or a FIFO, for a reader that shows packets live),
/// else once per flush interval. It goes on taking slabs after a file failed (their records are counted
/// lost), so the ring never stays full; `hasFailed` tells the receive thread to stop.
final class CaptureWriterThread: @unchecked Sendable {
    private let ring: CaptureRing
    private let writer: RotatingPcapWriter
    private let flushIntervalNanoseconds: UInt64
    private let flushesWhenCaughtUp: Bool
    private let failed = Atomic<Bool>(false)
    private let exited = Atomic<Bool>(false)

    /// A thread writing the slabs of `ring` with `writer`; `streams` flushes whenever it caught up.
    init(ring: CaptureRing, writer: RotatingPcapWriter, flushIntervalSeconds: Double, streams: Bool) {
        self.ring = ring
        self.writer = writer
        flushIntervalNanoseconds = UInt64(max(0, flushIntervalSeconds) * 1e9)
        flushesWhenCaughtUp = streams
    }

    /// Whether a file could not be opened or written (the writer's `failure` says why).
    var hasFailed: Bool { failed.load(ordering: .relaxed) }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            run()
            exited.store(true, ordering: .releasing)
        }
        thread.name = "vfpmd-writer"
        thread.start()
    }

    /// Publishes the ring's last slab and waits until the thread wrote everything and left
    /// the writer alone (the caller then closes it).
    func finish() {
        ring.finish()
        while !exited.load(ordering: .acquiring) { MonotonicClock.sleep(microseconds: 200) }
    }

    /// Naps of 50 µs with nothing published before the thread sleeps until the ring's doorbell
    /// (about 10 ms of quiet: a busy capture never pays the doorbell's wake-up, an idle one
    /// costs no CPU).
    private static let napsBeforeSleeping = 200

    private func run() {
        var lastFlush = MonotonicClock.nanoseconds()
        var quietNaps = 0
        while true {
            let next = ring.nextPublished()
            if let slab = next.slab {
                writer.write(slab.pointee)
                ring.release()
                if writer.failure != nil { failed.store(true, ordering: .relaxed) }
                quietNaps = 0
                continue
            }
            let now = MonotonicClock.nanoseconds()
            if writer.recordsPending > 0 && writer.failure == nil
                && (flushesWhenCaughtUp || now &- lastFlush >= flushIntervalNanoseconds) {
                lastFlush = now
                do throws(PcapError) { try writer.flush() } catch { failed.store(true, ordering: .relaxed) }
            }
            if next.isFinished { return }
            if quietNaps < Self.napsBeforeSleeping {
                quietNaps += 1
                MonotonicClock.sleep(microseconds: 50)
            } else {
                // Until the next slab, or the next flush of what is buffered.
                let flushAt = lastFlush &+ flushIntervalNanoseconds
                let buffered = writer.recordsPending > 0 && writer.failure == nil
                let timeout = buffered ? Int32(clamping: (flushAt &- min(now, flushAt)) / 1_000_000 + 1) : 1000
                ring.doorbell.sleep(timeoutMilliseconds: timeout) { ring.consumerHasWork }
            }
        }
    }
}
