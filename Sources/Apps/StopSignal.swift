import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The flag a SIGINT, SIGTERM or SIGHUP sets, polled by the apps' loops (a signal handler may
/// only store to a lock-free atomic; the loop does the rest: flush, close, summarise, exit 0).
/// SIGPIPE and SIGXFSZ are ignored: a write to a closed pipe fails with EPIPE, and one past
/// the file size limit (`ulimit -f`) with EFBIG, reported as the writer's error instead of
/// killing the process.
public enum StopSignal {
    private static let requested = Atomic<Bool>(false)

    /// The signals that ask for a stop: a terminal's interrupt, a supervisor's terminate, a
    /// closed terminal's hangup.
    static let stopSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handler for the stop signals: the first sets the flag; a second one ends
    /// the process at once, for a loop that does not stop. Ignores SIGPIPE and SIGXFSZ.
    public static func install() {
        _ = requested.load(ordering: .relaxed)
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
