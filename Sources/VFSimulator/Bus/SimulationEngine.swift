import Foundation
import PMDCore
import Synchronization

/// Runs the device model of one or more simulated VFs.
///
/// - `.stepped`: nothing runs on its own. `delay(microseconds:)` of any of its VFs (what a
///   driver calls while it waits) and `advance(microseconds:)` run the model for that much
///   simulated time in the caller's thread; `step()` processes everything pending once without
///   moving time. Deterministic: for tests and instruction counts.
/// - `.threaded`: after `start()` the model runs in its own thread on the monotonic clock
///   (one thread serves every VF of the engine); `delay` just sleeps.
public final class SimulationEngine: @unchecked Sendable {
    // @unchecked: `functions` and its version, `polled`, `simulatedTime` and the VFs' device state
    // belong to the thread that runs the model (the engine thread, or the stepping caller); the
    // registry of VFs is behind a lock, the flags and counters are atomics, `threadAlive` is
    // behind `handshake`.

    /// How the model is driven.
    public enum Mode: Sendable {
        /// From the caller's thread, in simulated time.
        case stepped
        /// From the engine's own thread, in real time.
        case threaded
    }

    /// The mode chosen at creation.
    public let mode: Mode
    /// Simulated time after a step with control work (mailbox, reset, queue changes) (ns).
    /// Steps that only moved frames count as idle: an endless source does not make a long
    /// `delay` take long.
    public var busyStep: UInt64 = 1000
    /// Simulated time after any other step (ns).
    public var idleStep: UInt64 = 50_000
    @exclusivity(unchecked) private var lastPassHadControlWork = false

    // The engine does not keep its VFs alive between passes: it holds them weakly, and a VF
    // leaving (deinit) waits until the engine thread is out of any pass that may still use it.
    // A pass holds the VFs it polls until it has ended: when the pass's reference is the last
    // one, the VF goes away on the engine's thread after the pass, never inside its own poll
    // (where the poll would go on reading what is freed).
    // An entry is a class: a pass loads its weak reference in place (a struct holding one
    // would be copied, with two runtime calls for the weak reference, per VF and pass).
    private final class Entry: @unchecked Sendable {
        // @unchecked: the weak reference is the runtime's to make thread-safe; `id` is constant.
        weak var vf: SimulatedVF?
        let id: ObjectIdentifier

        init(vf: SimulatedVF, id: ObjectIdentifier) {
            self.vf = vf
            self.id = id
        }
    }
    private let registry = Locked<[Entry]>([])
    private let registryVersion = Atomic<Int>(0)
    // The pass's own state, used by one thread at a time (the engine's, or the one stepping
    // it): no dynamic exclusivity check at every pass.
    /// The registry as of `functionsVersion`.
    @exclusivity(unchecked) private var functions: [Entry] = []
    @exclusivity(unchecked) private var functionsVersion = -1
    /// The VFs the current pass polls, each retained until the pass ends (room for every entry
    /// of `functions`, reallocated only when the registry grows).
    @exclusivity(unchecked) private var polled = UnsafeMutablePointer<Unmanaged<SimulatedVF>>.allocate(capacity: 1)
    @exclusivity(unchecked) private var polledCapacity = 1
    /// The engine thread's `pthread_self()` while it runs, 0 otherwise: a VF that goes away on
    /// that thread (a pass held its last reference) has no pass to wait for.
    private let engineThread = Atomic<UInt>(0)
    @exclusivity(unchecked) private var simulatedTime: UInt64 = 0
    private let running = Atomic<Bool>(false)
    private let names = Atomic<Int>(0)
    /// Odd while a pass runs; a pass reads the registry after making it odd, so whoever
    /// changed the registry and then reads an even value knows no pass uses the old one.
    private let passEpoch = Atomic<UInt64>(0)
    /// Threads waiting in `waitForCurrentPass`: the engine thread wakes them after a pass.
    private let passWaiters = Atomic<Int>(0)
    /// Serialises `start` and `stop`: one engine thread at most, and a start waits for a stop
    /// under way.
    private let lifecycle = NSLock()
    /// Wakes those waiting for the end of a pass or of the engine thread.
    private let handshake = NSCondition()
    /// Whether an engine thread exists (it may be finishing its last pass).
    private var threadAlive = false
    /// Passes over every VF completed, in either mode.
    private let passes = Atomic<UInt64>(0)
    /// `busyNanoseconds`, written by the engine thread only.
    private let busyTime = Atomic<UInt64>(0)

    /// An engine with no VFs yet.
    public init(mode: Mode = .stepped) { self.mode = mode }

    deinit {
        stop()
        polled.deallocate()
    }

    /// Engine time in nanoseconds: simulated (stepped) or monotonic (threaded).
    public var now: UInt64 { mode == .stepped ? simulatedTime : MonotonicClock.nanoseconds() }

    /// How many VFs this engine runs.
    public var attachedCount: Int { registry.withLock { $0.count } }

    func attach(_ vf: SimulatedVF) {
        registry.withLock { $0.append(Entry(vf: vf, id: ObjectIdentifier(vf))) }
        registryVersion.add(1, ordering: .releasing)
    }

    /// Stops running `vf` (it keeps its state); the engine thread, running or stopping, has
    /// finished with it when this returns. Called on the engine's own thread (a VF whose last
    /// reference a pass held), it returns at once: that pass has ended.
    public func detach(_ vf: SimulatedVF) {
        let id = ObjectIdentifier(vf)
        registry.withLock { $0.removeAll { $0.id == id } }
        registryVersion.add(1, ordering: .sequentiallyConsistent)
        waitForCurrentPass()
    }

    /// Returns once the engine thread is out of the pass it was in, if any: what was changed
    /// before the call (the registry of VFs, the IOMMU table) is what every later pass sees.
    /// Returns at once in stepped mode (the stepping thread is the one that calls it).
    func waitForCurrentPass() {
        guard mode == .threaded, engineThread.load(ordering: .relaxed) != pthread_self() else { return }
        let epoch = passEpoch.load(ordering: .sequentiallyConsistent)
        guard epoch & 1 == 1 else { return }
        handshake.lock()
        passWaiters.add(1, ordering: .sequentiallyConsistent)
        while passEpoch.load(ordering: .sequentiallyConsistent) == epoch { handshake.wait() }
        passWaiters.subtract(1, ordering: .relaxed)
        handshake.unlock()
    }

    func nextAddress(for family: SimulatedFamily) -> String {
        let n = names.add(1, ordering: .relaxed).oldValue
        return "sim:\(family.deviceIDName)-\(n)"
    }

    // MARK: - Stepped mode

    /// Processes everything pending once (mailbox, resets, queues, one burst per direction
    /// per VF) without moving simulated time; true when anything happened. Stepped mode only.
    @discardableResult
    public func step() -> Bool {
        precondition(mode == .stepped, "step() drives a stepped engine; a threaded engine runs by itself")
        return runOnce(now: simulatedTime)
    }

    /// Runs the model for `microseconds` of simulated time (stepped mode).
    public func advance(microseconds: Int) {
        precondition(mode == .stepped, "advance() drives a stepped engine")
        let end = simulatedTime &+ UInt64(max(0, microseconds)) &* 1000
        repeat {
            runOnce(now: simulatedTime)
            simulatedTime = min(end, simulatedTime &+ (lastPassHadControlWork ? busyStep : idleStep))
        } while simulatedTime < end
        runOnce(now: simulatedTime)
    }

    /// What a VF's `delay(microseconds:)` does: step the model, or sleep and then make sure
    /// the engine thread ran at least two passes meanwhile (a busy machine may not have run it
    /// at all: the device's time would not have passed), waiting at most a second for them.
    func delay(microseconds: Int) {
        if mode == .stepped {
            advance(microseconds: microseconds)
            return
        }
        let before = passes.load(ordering: .acquiring)
        MonotonicClock.sleep(microseconds: microseconds)
        let deadline = MonotonicClock.nanoseconds() + 1_000_000_000
        while running.load(ordering: .acquiring) && passes.load(ordering: .acquiring) &- before < 2
            && MonotonicClock.nanoseconds() < deadline {
            MonotonicClock.sleep(microseconds: 10)
        }
    }

    /// Makes sure `vf` applied its control changes up to `version` (a synchronous reset).
    func settle(_ vf: SimulatedVF, version: UInt64) {
        if mode == .stepped {
            step()
            return
        }
        let deadline = MonotonicClock.nanoseconds() + 1_000_000_000
        while vf.appliedVersion.load(ordering: .acquiring) < version && running.load(ordering: .acquiring)
            && MonotonicClock.nanoseconds() < deadline {
            MonotonicClock.sleep(microseconds: 10)
        }
    }

    // MARK: - Threaded mode

    /// Starts the engine thread (threaded mode); does nothing when it runs already. A stop
    /// under way on another thread completes first. The thread keeps the engine alive: call
    /// `stop()` when done.
    public func start() {
        precondition(mode == .threaded, "start() runs a threaded engine")
        lifecycle.withLock {
            guard !running.load(ordering: .acquiring) else { return }
            running.store(true, ordering: .releasing)
            handshake.withLock { threadAlive = true }
            let thread = Thread { [self] in threadMain() }
            thread.name = "vfpmd-sim"
            thread.start()
        }
    }

    /// Stops the engine thread and returns once it has left its last pass and ended.
    public func stop() {
        lifecycle.withLock {
            guard running.load(ordering: .acquiring) else { return }
            running.store(false, ordering: .releasing)
            handshake.withLock {
                while threadAlive { handshake.wait() }
            }
        }
    }

    /// Passes over every VF the engine has completed (the engine thread's, or, stepped, the
    /// steps'): one more than a value read earlier means every VF was polled once in between,
    /// whatever the engine read then.
    public var passCount: UInt64 { passes.load(ordering: .acquiring) }

    /// Whether the engine thread runs.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Nanoseconds the engine thread spent in passes that did work (moved a frame, raised an
    /// interrupt, did control work), on the monotonic clock: what the model cost its CPU.
    /// Passes that found nothing to do, and the waits after them, are not counted. 0 for a
    /// stepped engine.
    public var busyNanoseconds: UInt64 { busyTime.load(ordering: .relaxed) }

    private func threadMain() {
        engineThread.store(pthread_self(), ordering: .relaxed)
        var idle = 0
        var passStart: UInt64 = 0
        var previousPassBusy = false
        while running.load(ordering: .relaxed) {
            let now = MonotonicClock.nanoseconds()
            // A busy pass is followed at once by the next one: the time between their starts is
            // the busy pass's.
            if previousPassBusy { busyTime.store(busyTime.load(ordering: .relaxed) &+ (now &- passStart), ordering: .relaxed) }
            passStart = now
            let busy = runOnce(now: now)
            previousPassBusy = busy
            if busy {
                idle = 0
            } else {
                idle &+= 1
                if idle > 512 { MonotonicClock.sleep(microseconds: 20) } else { cpuRelax() }
            }
        }
        engineThread.store(0, ordering: .relaxed)
        handshake.withLock {
            threadAlive = false
            handshake.broadcast()
        }
    }

    // MARK: - One pass

    @discardableResult
    private func runOnce(now: UInt64) -> Bool {
        passEpoch.add(1, ordering: .sequentiallyConsistent)
        let version = registryVersion.load(ordering: .sequentiallyConsistent)
        if version != functionsVersion {
            functions = registry.withLock { $0 }
            functionsVersion = version
            if functions.count > polledCapacity {
                polled.deallocate()
                polledCapacity = functions.count
                polled = .allocate(capacity: polledCapacity)
            }
        }
        var work = false
        var control = false
        var held = 0
        for entry in functions {
            guard let vf = entry.vf else { continue }  // going away: its deinit waits for this pass
            polled[held] = Unmanaged.passRetained(vf)
            held &+= 1
            let (c, d) = vf.poll(now: now)
            control = control || c
            work = work || c || d
        }
        lastPassHadControlWork = control
        passes.add(1, ordering: .releasing)
        endPass()
        for k in 0..<held { polled[k].release() }
        return work
    }

    /// Leaves the pass, waking whoever waits for its end.
    private func endPass() {
        passEpoch.add(1, ordering: .sequentiallyConsistent)
        if passWaiters.load(ordering: .sequentiallyConsistent) > 0 {
            handshake.withLock { handshake.broadcast() }
        }
    }
}

extension SimulatedVF {
    /// One engine pass over this VF: control, then one receive and one transmit burst, then
    /// the MSI-X messages due. Returns whether control work and whether data work happened.
    func poll(now: UInt64) -> (control: Bool, data: Bool) {
        let control = controlPoll(now: now)
        if removed { return (control, false) }
        let received = receive(now: now)
        let sent = transmit(now: now)
        let signalled = msix.armed && sendInterrupts(now: now)
        return (control, received || sent || signalled)
    }
}

extension SimulatedFamily {
    /// Short name for simulator addresses.
    var deviceIDName: String {
        switch self {
        case .ixgbe82599: "82599vf"
        case .ixgbeX550: "x550vf"
        case .igb82576: "82576vf"
        }
    }
}
