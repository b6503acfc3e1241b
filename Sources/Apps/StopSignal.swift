import CShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request to stop: a flag the apps' loops poll, and an eventfd a sleeping datapath thread
/// waits on beside its ports' interrupts, so that a stop asked for while it sleeps wakes it at
/// once. Both are set by `request()`, which only stores to an atomic and writes to the eventfd
/// (async-signal-safe: the stop signals' handler calls it).
public final class StopRequest: Sendable {
    private let flag = Atomic<Bool>(false)
    /// The eventfd, readable once a stop was requested (never read: it stays readable).
    public let descriptor: Int32

    /// A request not made yet.
    public init() {
        descriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }

    deinit { close(descriptor) }

    /// Whether a stop was requested.
    public var isRequested: Bool { flag.load(ordering: .relaxed) }

    /// Requests the stop; returns whether it was requested already.
    @discardableResult
    public func request() -> Bool {
        let already = flag.exchange(true, ordering: .relaxed)
        var one: UInt64 = 1
        _ = write(descriptor, &one, MemoryLayout<UInt64>.size)
        return already
    }
}

/// The stop a SIGINT, SIGTERM or SIGHUP requests, polled by the apps' loops and waited on by
/// their sleeping threads (a signal handler may only store to a lock-free atomic and write a
/// descriptor; the loop does the rest: flush, close, summarise, exit 0).
/// SIGPIPE and SIGXFSZ are ignored: a write to a closed pipe fails with EPIPE, and one past
/// the file size limit (`ulimit -f`) with EFBIG, reported as the writer's error instead of
/// killing the process.
public enum StopSignal {
    /// The request the stop signals make.
    public static let request = StopRequest()

    /// The signals that ask for a stop: a terminal's interrupt, a supervisor's terminate, a
    /// closed terminal's hangup.
    static let stopSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handler for the stop signals: the first requests the stop; a second one
    /// ends the process at once, for a loop that does not stop. Ignores SIGPIPE and SIGXFSZ.
    public static func install() {
        _ = request.isRequested  // made before any handler may run
        for number in stopSignals { signal(number, stopSignalHandler) }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        // A parent may have started this process with the signals blocked; they must arrive.
        var signals = sigset_t()
        sigemptyset(&signals)
        for number in stopSignals { sigaddset(&signals, number) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { request.isRequested }

    fileprivate static func handle(_ signalNumber: Int32) {
        if request.request() {
            signal(signalNumber, SIG_DFL)
            raise(signalNumber)
        }
    }
}

private func stopSignalHandler(_ signalNumber: Int32) {
    StopSignal.handle(signalNumber)
}
