import CShims
import PMDCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a ring's consumer sleeps until its producer publishes (or a sampling thread until it is
/// told to stop), instead of waking thousands of times a second to find nothing: the consumer says it is about to sleep, looks at the ring
/// once more, and only then waits in poll(2) on an eventfd; the producer, after each publish,
/// writes the eventfd only when the consumer said so. A fence on each side orders the say
/// and the look against the publish and the check (the store-load pattern that needs
/// sequential consistency), so a publish is never missed. While both sides are busy the
/// producer's cost per publish is the fence and one load: no system call.
final class RingDoorbell: @unchecked Sendable {
    private let fd: Int32
    private let consumerAsleep = Atomic<Bool>(false)

    /// A doorbell with its eventfd; without one (descriptor limit reached), the consumer's
    /// sleeps are plain timed naps.
    init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The producer's side, after it published: wakes the consumer if it sleeps.
    @inline(__always)
    func ring() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        guard _slowPath(consumerAsleep.load(ordering: .relaxed)) else { return }
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// The consumer's side: sleeps up to `timeoutMilliseconds` unless `hasWork()`, asked after
    /// the consumer said it sleeps, finds something to do.
    func sleep(timeoutMilliseconds: Int32, unless hasWork: () -> Bool) {
        guard fd >= 0 else {
            if !hasWork() { MonotonicClock.sleep(microseconds: Int(timeoutMilliseconds) * 1000) }
            return
        }
        consumerAsleep.store(true, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if !hasWork() {
            var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&waiter, 1, timeoutMilliseconds)
        }
        consumerAsleep.store(false, ordering: .relaxed)
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
    }
}
