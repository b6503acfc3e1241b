#if canImport(Glibc)
import Glibc
#endif

/// The system calls that put a writer's buffer into its output: whole writes that survive
/// signals, short writes and a non-blocking descriptor, and the cut that drops a partial
/// record from the end of a regular file.
enum OutputWrites {
    /// Writes the `count` bytes at `bytes` to `descriptor`, retrying after an interrupted or
    /// short write, and waiting for room on a non-blocking pipe. Returns how many bytes were
    /// written and the error that stopped the rest (0 when every byte was written).
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawPointer, count: Int) -> (written: Int, error: Int32) {
        var done = 0
        while done < count {
            let n = write(descriptor, bytes + done, count - done)
            if n > 0 {
                done += n
                continue
            }
            // A write of a non-empty buffer that makes no progress and reports nothing.
            if n == 0 { return (done, EIO) }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK, waitUntilWritable(descriptor) { continue }
            return (done, error)
        }
        return (done, 0)
    }

    /// Waits until a non-blocking `descriptor` takes bytes again; false when it cannot be waited on.
    private static func waitUntilWritable(_ descriptor: Int32) -> Bool {
        var request = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        while true {
            if poll(&request, 1, -1) >= 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// Cuts the last `bytes` bytes written off the regular file open at `descriptor` (its
    /// offset is just past them, also in append mode); false when the file could not be shortened.
    @discardableResult
    static func cutOff(_ descriptor: Int32, bytes: Int) -> Bool {
        let end = lseek(descriptor, 0, SEEK_CUR)
        guard end >= off_t(bytes) else { return false }
        return ftruncate(descriptor, end - off_t(bytes)) == 0
    }
}
