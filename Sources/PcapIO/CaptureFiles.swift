import PMDCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The capture files this process reads, so that no output of the same run overwrites one,
/// and the exclusive lock every output file takes, so that two writers never share a file.
public enum CaptureFiles {
    /// A file as the kernel knows it (the same file under any name or link).
    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The output name that means standard output.
    public static let standardOutputName = "-"

    /// Inputs open now, counted (a file may be read twice at once).
    private static let inputs = Locked<[Identity: Int]>([:])

    static func identity(of descriptor: Int32) -> Identity? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// A file being read: an output of this process may not be it while the claim lives.
    public final class InputClaim: Sendable {
        private let identity: Identity?

        /// Claims the file open at `descriptor`.
        init(descriptor: Int32) {
            identity = CaptureFiles.identity(of: descriptor)
            if let identity { CaptureFiles.inputs.withLock { $0[identity, default: 0] += 1 } }
        }

        /// Claims the file at `path` (nothing when it cannot be opened: reading it fails anyway).
        public convenience init(path: String) {
            let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            self.init(descriptor: descriptor)
            if descriptor >= 0 { Glibc.close(descriptor) }
        }

        deinit {
            guard let identity else { return }
            CaptureFiles.inputs.withLock { counts in
                counts[identity, default: 1] -= 1
                if counts[identity] == 0 { counts[identity] = nil }
            }
        }
    }

    /// Opens `path` for writing a new capture: created with the process umask, locked
    /// exclusively (another writer, in this process or another, is refused), refused when it
    /// is a file this process reads, and only then truncated. Returns the descriptor.
    static func openOutput(_ path: String) throws(PcapError) -> Int32 {
        // `-`: standard output, as tcpdump's `-w -` (a pipe to `tcpdump -r -` or Wireshark).
        if path == standardOutputName {
            let descriptor = dup(STDOUT_FILENO)
            guard descriptor >= 0 else { throw .cannotCreate(path: path, reason: Errno(rawValue: errno).description) }
            return descriptor
        }
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw .cannotCreate(path: path, reason: Errno(rawValue: errno).description) }
        // Pipes and character devices (-w /dev/null, /dev/full) are not files to protect.
        var info = stat()
        let regular = fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        if regular {
            if let identity = identity(of: descriptor), inputs.withLock({ $0[identity] != nil }) {
                Glibc.close(descriptor)
                throw .outputIsInput(path: path)
            }
            guard lockBriefly(descriptor) else {
                let busy = errno == EWOULDBLOCK
                let reason = Errno(rawValue: errno).description
                Glibc.close(descriptor)
                throw busy ? .outputInUse(path: path) : .cannotCreate(path: path, reason: reason)
            }
            guard ftruncate(descriptor, 0) == 0 else {
                let reason = Errno(rawValue: errno).description
                Glibc.close(descriptor)
                throw .cannotCreate(path: path, reason: reason)
            }
        }
        return descriptor
    }

    /// Takes the exclusive lock of `descriptor`, waiting up to 100 ms for a holder that lets go
    /// at once: a child that another thread of this process forks holds a copy of every open
    /// descriptor until it executes its program (close-on-exec), and with it the lock of the
    /// file this process just closed. A writer that keeps the file stays refused. Sets `errno`
    /// when it fails.
    private static func lockBriefly(_ descriptor: Int32) -> Bool {
        for _ in 0..<20 {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK else { return false }
            usleep(5_000)
        }
        errno = EWOULDBLOCK
        return false
    }
}
