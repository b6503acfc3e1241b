#if canImport(Glibc)
import Glibc
#endif

/// A value behind a mutex, for the simulator's control-path state (settings, fault queues,
/// logs) that several threads touch. Never used per frame.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: every access to `value` holds `mutex`.
    private var value: Value
    private var mutex = pthread_mutex_t()

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Runs `body` with exclusive access to the value.
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}
