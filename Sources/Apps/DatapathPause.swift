import Atomics
import CShims
import PMDCore
import VFDriver
#if canImport(Glibc)
import Glibc
#endif

/// Parks the datapath threads while the controller does maintenance that needs the queues
/// quiet (a port re-initialising itself after a PF reset): a thread looks at `isRequested`
/// once per loop (one load) and calls `park(unless:)` when it is set. Statistics never need
/// it: ports read them beside the bursts (`Port.updateStatsBesideBursts`). A thread asleep on
/// its ports' interrupts waits on `wakeDescriptor` too: readable while a pause is requested, it
/// wakes the thread to park at once.
final class DatapathPause: @unchecked Sendable {
    private let requested = UnsafeAtomic<Bool>.create(false)
    private let parked = UnsafeAtomic<Int>.create(0)
    /// An eventfd, readable while a pause is requested.
    let wakeDescriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))

    deinit {
        requested.destroy()
        parked.destroy()
        close(wakeDescriptor)
    }

    /// Whether the controller asks the threads to park.
    @inline(__always) var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// A datapath thread: waits while the pause lasts or until `stop` is set.
    func park(unless stop: UnsafeAtomic<Bool>) {
        parked.wrappingIncrement(ordering: .acquiringAndReleasing)
        while requested.load(ordering: .acquiring) && !stop.load(ordering: .relaxed) {
            MonotonicClock.sleep(microseconds: 20)
        }
        parked.wrappingDecrement(ordering: .acquiringAndReleasing)
    }

    /// The controller: asks the `threads` datapath threads to park, waits until they all
    /// did (or `allFinished` says none runs any more), runs `maintenance`, and resumes them.
    func whileParked(threads: Int, allFinished: () -> Bool, _ maintenance: () -> Void) {
        requested.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
        while parked.load(ordering: .acquiring) < threads && !allFinished() {
            MonotonicClock.sleep(microseconds: 20)
        }
        maintenance()
        // Quiet again before the threads go on: none of them would sleep.
        _ = InterruptEventFDs.take(wakeDescriptor)
        requested.store(false, ordering: .releasing)
    }
}

extension Array where Element == OpenedPort {
    /// Reads every port's statistics beside the running datapath, and gives the ports that
    /// owe maintenance their `updateStats()` inside `pause` (only then are threads parked).
    func updateStats(besideBurstsOf pause: DatapathPause, threads: Int, allFinished: () -> Bool) {
        let owing = filter { $0.port.updateStatsBesideBursts() }
        guard !owing.isEmpty else { return }
        pause.whileParked(threads: threads, allFinished: allFinished) {
            for p in owing { p.port.updateStats() }
        }
    }
}
