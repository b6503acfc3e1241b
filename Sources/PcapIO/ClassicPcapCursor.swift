#if canImport(Glibc)
import Glibc
#endif

/// Reads the records of a classic pcap file (`ClassicPcapLayout`) from its descriptor in large
/// read(2) chunks and parses them where they lie in the chunk: no call, copy, allocation or
/// reference count per record. A trivial struct over a buffer the reader owns; the caller
/// keeps it in a local while it loops, so no exclusivity check runs per record.
///
/// read(2) rather than a mapping: a file that shrinks while it is read ends early (a truncated
/// record, as libpcap reports it) instead of killing the process with SIGBUS, and on tmpfs it
/// costs one copy of the file per chunk, into a buffer that stays in the cache.
struct ClassicPcapCursor {
    /// One record, valid until the next call to `next()`.
    struct Record {
        /// The captured bytes.
        var data: UnsafeRawPointer
        /// How many captured bytes (at most the snap length: libpcap drops what a record holds
        /// beyond it).
        var capturedLength: Int
        /// The frame's length on the wire.
        var originalLength: Int
        /// Capture time in nanoseconds since the epoch (a time before 1970 reads as 0; in a file
        /// of the other byte order, as in libpcap, the seconds and fraction are unsigned).
        var timestampNanoseconds: UInt64
    }

    /// What `next()` found.
    enum Step {
        /// A whole record.
        case record(Record)
        /// The file ended after a whole record (or its header).
        case end
        /// The next record is cut short, claims too many bytes, or could not be read.
        case failure(ClassicPcapRecordFailure)
    }

    /// Bytes asked of one read(2): small enough that they are still in the cache when the
    /// records are copied out of them, large enough that the call costs little per record.
    static let readBytes = 128 << 10

    /// The smallest buffer: the largest record fits whole.
    static let minimumCapacity = ClassicPcapLayout.recordHeaderBytes + ClassicPcapLayout.maximumCapturedLength

    /// What the file header says.
    let layout: ClassicPcapLayout
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    /// Offset of the next record in `buffer`.
    private var position: Int
    /// Bytes of the file in `buffer`.
    private var end: Int
    /// Whether read(2) returned the end of the file.
    private var atEndOfFile: Bool

    /// Reads the file header from `descriptor` into `buffer` (`capacity` bytes, at least
    /// `minimumCapacity`); nil when the file does not start with one this reader takes.
    /// Leaves the descriptor's offset where the read left it.
    init?(descriptor: Int32, buffer: UnsafeMutableRawPointer, capacity: Int) {
        precondition(capacity >= Self.minimumCapacity, "the buffer must hold the largest record")
        var filled = 0
        var ended = false
        while filled < ClassicPcapLayout.fileHeaderBytes && !ended {
            let got = Self.read(descriptor, into: buffer + filled, count: capacity &- filled)
            guard got >= 0 else { return nil }
            filled &+= got
            ended = got == 0
        }
        guard filled >= ClassicPcapLayout.fileHeaderBytes, let layout = ClassicPcapLayout(fileHeader: buffer) else { return nil }
        self.layout = layout
        self.descriptor = descriptor
        self.buffer = buffer
        self.capacity = capacity
        position = ClassicPcapLayout.fileHeaderBytes
        end = filled
        atEndOfFile = ended
    }

    /// The next record, the end of the file, or why the next record cannot be read (after the
    /// end, or a record that is cut or too long, it keeps returning the same).
    @inline(__always)
    mutating func next() -> Step {
        while true {
            let available = end &- position
            if available >= ClassicPcapLayout.recordHeaderBytes {
                let header = UnsafeRawPointer(buffer + position)
                let captured = field(header, 8)
                guard captured <= ClassicPcapLayout.maximumCapturedLength else {
                    return .failure(.capturedLengthTooLarge(length: captured, snapLength: layout.snapLength))
                }
                let recordBytes = ClassicPcapLayout.recordHeaderBytes &+ Int(captured)
                if available >= recordBytes {
                    position &+= recordBytes
                    return .record(record(at: header, captured: Int(captured)))
                }
            }
            if atEndOfFile {
                guard let failure = truncation(available: available) else { return .end }
                return .failure(failure)
            }
            if let failure = fill() { return .failure(failure) }
        }
    }

    @inline(__always)
    private func field(_ header: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        let value = header.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return layout.swapped ? value.byteSwapped : value
    }

    @inline(__always)
    private func record(at header: UnsafeRawPointer, captured: Int) -> Record {
        // As libpcap reads them: signed 32-bit in a file of the host's byte order, unsigned in
        // one of the other (its swap yields an unsigned value).
        let seconds = signed(field(header, 0))
        let fraction = signed(field(header, 4)) &* (layout.nanosecond ? 1 : 1000)
        let nanoseconds = UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, fraction))
        return Record(data: header + ClassicPcapLayout.recordHeaderBytes,
                      capturedLength: min(captured, layout.snapLength),
                      originalLength: Int(field(header, 12)),
                      timestampNanoseconds: nanoseconds)
    }

    @inline(__always)
    private func signed(_ value: UInt32) -> Int64 {
        layout.swapped ? Int64(value) : Int64(Int32(bitPattern: value))
    }

    /// What is wrong with the `available` bytes left at the end of the file (nil: none left).
    private func truncation(available: Int) -> ClassicPcapRecordFailure? {
        guard available > 0 else { return nil }
        guard available >= ClassicPcapLayout.recordHeaderBytes else { return .truncatedHeader(got: available) }
        let captured = Int(field(UnsafeRawPointer(buffer + position), 8))
        let got = available &- ClassicPcapLayout.recordHeaderBytes
        // libpcap reads a record longer than the snap length in two steps, and names the step
        // that came short.
        let wanted = captured > layout.snapLength && got < layout.snapLength ? layout.snapLength : captured
        return .truncatedData(wanted: wanted, got: got)
    }

    /// Moves the unread bytes to the front of the buffer and reads more behind them.
    @inline(never)
    private mutating func fill() -> ClassicPcapRecordFailure? {
        let left = end &- position
        if position > 0 {
            if left > 0 { buffer.copyMemory(from: buffer + position, byteCount: left) }
            position = 0
            end = left
        }
        let got = Self.read(descriptor, into: buffer + end, count: min(capacity &- end, Self.readBytes))
        guard got >= 0 else { return .readFailed(errno: errno) }
        end &+= got
        atEndOfFile = got == 0
        return nil
    }

    /// read(2), again when a signal interrupts it: the bytes read (0 at the end of the file),
    /// or -1 with `errno` set.
    private static func read(_ descriptor: Int32, into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        while true {
            let got = Glibc.read(descriptor, destination, count)
            if got >= 0 || errno != EINTR { return got }
        }
    }
}
