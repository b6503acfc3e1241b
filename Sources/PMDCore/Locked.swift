#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, for control-path state that several threads touch (never
/// per frame). A pthread mutex rather than the standard library's `Mutex`: the thread sanitizer
/// sees its lock and unlock, so what it guards is never reported as a race.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: every access to `value` holds `mutex`.
    private var value: Value
    private var mutex = pthread_mutex_t()

    /// `value`, behind its own mutex.
    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Runs `body` with exclusive access to the value.
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}
