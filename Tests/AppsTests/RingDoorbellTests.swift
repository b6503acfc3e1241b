import Foundation
import PMDCore
import PcapIO
import Testing
@testable import Apps

/// The doorbell between a capture ring's producer and its sleeping consumer: a publish always
/// wakes a consumer that sleeps (the sleeps below would otherwise last 30 s each), and a
/// consumer never sleeps past work published before it said it sleeps.
@Suite("Capture ring doorbell")
struct RingDoorbellTests {
    /// Publishes one slab holding one record into `ring`.
    func publishOne(_ ring: CaptureRing) {
        let frame = [UInt8](repeating: 0xab, count: 60)
        let slab = ring.openSlab()!
        _ = frame.withUnsafeBytes {
            slab.pointee.append($0.baseAddress!, length: 60, restoring: nil, snapLength: 65535, wallNanoseconds: 1,
                                interface: 0, filteredBefore: 0, droppedBefore: 0)
        }
        ring.publish()
    }

    @Test("a consumer asleep on the doorbell wakes at the publish, not at its 30 s timeout, every time of 20")
    func publishWakesSleeper() {
        let ring = CaptureRing(slotCount: 4, slotBytes: 4096)
        let sleeping = ConditionFlag()
        let taken = ConditionFlag()
        let consumer = Thread {
            for _ in 0..<20 {
                while ring.nextPublished().slab == nil {
                    sleeping.raise()
                    ring.doorbell.sleep(timeoutMilliseconds: 30_000) { ring.consumerHasWork }
                }
                ring.release()
                taken.raise()
            }
        }
        let started = MonotonicClock.nanoseconds()
        consumer.start()
        for _ in 0..<20 {
            sleeping.waitAndLower()
            usleep(2_000)                         // most often it is in poll(2) by now
            publishOne(ring)
            taken.waitAndLower()
        }
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        #expect(seconds < 25, "20 wake-ups took \(seconds) s: at least one waited for its timeout")
    }

    @Test("work published before the consumer said it sleeps: the sleep returns at once")
    func publishedBeforeSleep() {
        let ring = CaptureRing(slotCount: 4, slotBytes: 4096)
        publishOne(ring)
        let started = MonotonicClock.nanoseconds()
        ring.doorbell.sleep(timeoutMilliseconds: 30_000) { ring.consumerHasWork }
        #expect(Double(MonotonicClock.nanoseconds() - started) / 1e9 < 25)
        #expect(ring.nextPublished().slab != nil)
        ring.finish()
        ring.release()
        ring.doorbell.sleep(timeoutMilliseconds: 30_000) { ring.consumerHasWork }
        #expect(ring.nextPublished().isFinished)
    }
}

/// A flag one thread raises and another waits for.
private final class ConditionFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var raised = false

    func raise() {
        condition.lock()
        raised = true
        condition.signal()
        condition.unlock()
    }

    func waitAndLower() {
        condition.lock()
        while !raised { condition.wait() }
        raised = false
        condition.unlock()
    }
}
