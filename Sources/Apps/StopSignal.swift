import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The flag a SIGINT or SIGTERM sets, polled by the apps' loops (a signal handler may only
/// store to a lock-free atomic; the loop does the rest).
public enum StopSignal {
    private static let requested = Atomic<Bool>(false)

    /// Installs the handler for SIGINT and SIGTERM: the first sets the flag; a second one
    /// ends the process at once, for a loop that does not stop.
    public static func install() {
        _ = requested.load(ordering: .relaxed)
        signal(SIGINT, stopSignalHandler)
        signal(SIGTERM, stopSignalHandler)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Sets the flag (the handler, and tests).
    public static func request() { requested.store(true, ordering: .relaxed) }

    /// Clears the flag (tests).
    public static func reset() { requested.store(false, ordering: .relaxed) }

    fileprivate static func handle(_ signalNumber: Int32) {
        if requested.exchange(true, ordering: .relaxed) {
            signal(signalNumber, SIG_DFL)
            raise(signalNumber)
        }
    }
}

private func stopSignalHandler(_ signalNumber: Int32) {
    StopSignal.handle(signalNumber)
}
