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
        // A parent may have started this process with the signals blocked; they must arrive.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

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
