import CPcap
import PMDCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One frame read from a capture.
public struct PcapFrame: Equatable, Sendable {
    /// The captured bytes (at most the file's snap length).
    public var bytes: [UInt8]
    /// The frame's length on the wire (at least `bytes.count`).
    public var originalLength: Int
    /// Capture time in nanoseconds since the epoch.
    public var timestampNanoseconds: UInt64

    /// A frame.
    public init(bytes: [UInt8], originalLength: Int? = nil, timestampNanoseconds: UInt64) {
        self.bytes = bytes
        self.originalLength = originalLength ?? bytes.count
        self.timestampNanoseconds = timestampNanoseconds
    }
}

/// Reads an Ethernet capture (pcap or pcapng), with nanosecond timestamps whatever the file's
/// precision.
///
/// A classic pcap file (either byte order, microsecond or nanosecond timestamps, version 2.4)
/// that is a regular file is read by `ClassicPcapCursor`, in large chunks with the records
/// parsed in place; anything else (pcapng, other versions, pipes, devices) is read by libpcap.
/// Both read a file alike: the same frames, timestamps and error texts.
///
/// Any other link type is refused at open. Reading stops with an error naming the file and the
/// record at the first record that is cut short or malformed; every record before it is read,
/// so a capture cut off mid-write reads back up to its last whole record.
public final class PcapReader {
    /// The file's path.
    public let path: String
    /// The snap length in the file header.
    public let snapLength: Int
    /// Records read so far.
    public internal(set) var recordsRead = 0
    /// Captured bytes of the frames `read(into:from:)` returned so far.
    public internal(set) var bytesRead: UInt64 = 0
    /// Whether the end of the file was reached.
    public internal(set) var isAtEnd = false

    /// Whether `read(into:from:)` holds an error for its next call.
    public var hasPendingError: Bool { pendingError != nil }

    /// Whether libpcap reads the file (else the reader's own cursor does).
    var isReadByLibpcap: Bool { handle != nil }

    /// Whether the reader's own cursor reads the file, so that `read(into:_:)` can copy its
    /// records straight into a `RecordSlab`.
    public var readsRecordsInPlace: Bool { cursor != nil }

    /// The reader of a classic pcap file, or nil when libpcap reads it.
    var cursor: ClassicPcapCursor?
    /// The descriptor `cursor` reads (-1 when libpcap reads the file).
    private var descriptor: Int32 = -1
    /// libpcap's handle, when libpcap reads the file.
    private var handle: OpaquePointer?
    /// Keeps outputs of this process off the file while it is read.
    private var claim: CaptureFiles.InputClaim?
    /// The chunk buffer of `cursor`, or the stream buffer libpcap reads through.
    private let buffer: UnsafeMutableRawPointer
    private static let bufferBytes = 1 << 20
    var pendingError: PcapError?

    /// Opens `path`; throws when it is missing, not a capture, or not Ethernet.
    public convenience init(path: String) throws(PcapError) {
        try self.init(path: path, readsClassicPcapItself: true)
    }

    /// Opens `path`, reading a classic pcap file itself or (`readsClassicPcapItself` false, so
    /// that tests can compare the two) through libpcap.
    init(path: String, readsClassicPcapItself: Bool) throws(PcapError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .cannotOpen(path: path, reason: Errno(rawValue: errno).description)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferBytes, alignment: 4096)
        self.buffer = buffer
        self.path = path
        claim = CaptureFiles.InputClaim(descriptor: descriptor)
        var info = stat()
        let regular = fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        if regular && readsClassicPcapItself,
           let cursor = ClassicPcapCursor(descriptor: descriptor, buffer: buffer, capacity: Self.bufferBytes) {
            self.cursor = cursor
            self.descriptor = descriptor
            snapLength = cursor.layout.snapLength
            return
        }
        // Not one for the cursor: libpcap reads it from the start.
        if regular { lseek(descriptor, 0, SEEK_SET) }
        do throws(PcapError) {
            let (handle, snapLength) = try Self.openWithLibpcap(descriptor: descriptor, buffer: buffer, path: path)
            self.handle = handle
            self.snapLength = snapLength
        } catch {
            buffer.deallocate()
            claim = nil
            throw error
        }
    }

    /// Hands `descriptor` to libpcap through a stream with a large buffer that skips stdio's
    /// locks (one thread reads it); the stream owns the descriptor from then on.
    private static func openWithLibpcap(descriptor: Int32, buffer: UnsafeMutableRawPointer, path: String)
        throws(PcapError) -> (OpaquePointer, Int) {
        guard let stream = fdopen(descriptor, "r") else {
            let reason = Errno(rawValue: errno).description
            Glibc.close(descriptor)
            throw .cannotOpen(path: path, reason: reason)
        }
        setvbuf(stream, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, bufferBytes)
        _ = __fsetlocking(stream, Int32(FSETLOCKING_BYCALLER))
        var errorText = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_fopen_offline_with_tstamp_precision(
            stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorText) else {
            fclose(stream)
            throw .cannotOpen(path: path, reason: withoutPathPrefix(errorText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path))
        }
        let linkType = pcap_datalink(handle)
        guard linkType == DLT_EN10MB else {
            let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "number \(linkType)"
            pcap_close(handle)
            throw .notEthernet(path: path, linkType: name)
        }
        return (handle, Int(pcap_snapshot(handle)))
    }

    deinit { close() }

    /// Closes the file; later reads return nothing.
    public func close() {
        if let handle {
            pcap_close(handle)
            buffer.deallocate()
        } else if cursor != nil {
            Glibc.close(descriptor)
            buffer.deallocate()
        }
        handle = nil
        cursor = nil
        descriptor = -1
        claim = nil
        isAtEnd = true
    }

    /// The next record: its bytes, lengths and timestamp, nil at the end of the file.
    private func nextRecord() throws(PcapError) -> ClassicPcapCursor.Record? {
        guard !isAtEnd else { return nil }
        if var cursor {
            let step = cursor.next()
            self.cursor = cursor
            switch step {
            case let .record(record):
                recordsRead += 1
                return record
            case .end:
                isAtEnd = true
                return nil
            case let .failure(failure):
                isAtEnd = true
                throw .malformedRecord(path: path, record: recordsRead + 1, reason: failure.reason)
            }
        }
        guard let handle else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            recordsRead += 1
            return ClassicPcapCursor.Record(
                data: UnsafeRawPointer(data!), capturedLength: Int(header!.pointee.caplen),
                originalLength: Int(header!.pointee.len), timestampNanoseconds: Self.nanoseconds(header!.pointee.ts))
        case PCAP_ERROR_BREAK:
            isAtEnd = true
            return nil
        default:
            isAtEnd = true
            throw .malformedRecord(path: path, record: recordsRead + 1, reason: String(cString: pcap_geterr(handle)))
        }
    }

    /// The next frame, or nil at the end of the file.
    public func next() throws(PcapError) -> PcapFrame? {
        guard let record = try nextRecord() else { return nil }
        return PcapFrame(bytes: Array(UnsafeRawBufferPointer(start: record.data, count: record.capturedLength)),
                         originalLength: record.originalLength,
                         timestampNanoseconds: record.timestampNanoseconds)
    }

    /// Every remaining frame.
    public func readAll() throws(PcapError) -> [PcapFrame] {
        var frames: [PcapFrame] = []
        while let frame = try next() { frames.append(frame) }
        return frames
    }

    /// Reads up to `batch.freeCapacity` frames into fresh buffers of `pool` at the back of
    /// `batch`: bytes copied, length and wall-clock timestamp set (`.wallClockTimestamp`).
    /// Returns how many it read (0 at the end of the file or when the pool is empty); throws
    /// at a malformed record or a frame larger than the pool's buffers. Frames read before an
    /// error are returned first; the error comes with the next call.
    public func read(into batch: inout PacketBatch, from pool: PoolRef) throws(PcapError) -> Int {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        guard !isAtEnd, batch.adopt(pool: pool) else { return 0 }
        batch.compact()
        let room = min(batch.freeCapacity, pool.available)
        let records = recordsRead
        var n = 0
        var bytes: UInt64 = 0
        var failure: PcapError?
        if var cursor {
            n = Self.read(from: &cursor, into: &batch, from: pool, count: room, bytes: &bytes, failure: &failure, path: path, recordsBefore: records)
            self.cursor = cursor
        } else if let handle {
            n = Self.read(from: handle, into: &batch, from: pool, count: room, bytes: &bytes, failure: &failure, path: path, recordsBefore: records)
        }
        recordsRead = records &+ n
        bytesRead &+= bytes
        if let failure {
            isAtEnd = true
            if n == 0 { throw failure }
            pendingError = failure
        } else if n < room {
            isAtEnd = true
        }
        return n
    }

    /// Reads up to `count` records from `cursor` into `batch`, adding their captured bytes to
    /// `bytes`; sets `failure` at a bad record or a frame too large for the pool, and stops
    /// there or at the end of the file.
    private static func read(
        from cursor: inout ClassicPcapCursor, into batch: inout PacketBatch, from pool: PoolRef, count: Int,
        bytes: inout UInt64, failure: inout PcapError?, path: String, recordsBefore: Int
    ) -> Int {
        let dataRoom = pool.dataRoom
        var total: UInt64 = 0
        // The buffers for the whole burst are taken at once, straight into the batch's slots.
        let n = batch.appendOwnedIndices { slots, room in
            let taken = pool.take(into: slots, count: min(room, count))
            var n = 0
            reading: while n < taken {
                switch cursor.next() {
                case let .record(record):
                    guard record.capturedLength <= dataRoom else {
                        failure = .frameTooLarge(path: path, record: recordsBefore &+ n &+ 1, length: record.capturedLength, bufferSize: dataRoom)
                        break reading
                    }
                    fill(slots[n], of: pool, with: record.data, length: record.capturedLength, timestamp: record.timestampNanoseconds)
                    total &+= UInt64(record.capturedLength)
                    n &+= 1
                case .end:
                    break reading
                case let .failure(reason):
                    failure = .malformedRecord(path: path, record: recordsBefore &+ n &+ 1, reason: reason.reason)
                    break reading
                }
            }
            // Buffers left over go back as they were taken (the last taken back first).
            var i = taken
            while i > n {
                i &-= 1
                pool.give(slots[i])
            }
            return n
        }
        bytes = total
        return n
    }

    /// Reads up to `count` records through libpcap into `batch`, as the cursor's reader does.
    private static func read(
        from handle: OpaquePointer, into batch: inout PacketBatch, from pool: PoolRef, count: Int,
        bytes: inout UInt64, failure: inout PcapError?, path: String, recordsBefore: Int
    ) -> Int {
        let dataRoom = pool.dataRoom
        var n = 0
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while n < count {
            let status = pcap_next_ex(handle, &header, &data)
            guard status == 1, let header, let data else {
                if status != PCAP_ERROR_BREAK {
                    failure = .malformedRecord(path: path, record: recordsBefore &+ n &+ 1, reason: String(cString: pcap_geterr(handle)))
                }
                return n
            }
            let length = Int(header.pointee.caplen)
            guard length <= dataRoom else {
                failure = .frameTooLarge(path: path, record: recordsBefore &+ n &+ 1, length: length, bufferSize: dataRoom)
                return n
            }
            let index = pool.take()!
            fill(index, of: pool, with: UnsafeRawPointer(data), length: length, timestamp: nanoseconds(header.pointee.ts))
            batch.appendOwnedIndex(index)
            bytes &+= UInt64(length)
            n &+= 1
        }
        return n
    }

    /// Copies a frame of `length` bytes (at most the pool's data room: the caller checked)
    /// into buffer `index` of `pool` and sets its length and wall-clock timestamp.
    @inline(__always)
    private static func fill(_ index: UInt32, of pool: PoolRef, with data: UnsafeRawPointer, length: Int, timestamp: UInt64) {
        pool.data(index).copyMemory(from: data, byteCount: length)
        let meta = pool.metadata(index)
        meta.pointee = PacketMetadata()
        meta.pointee.length = UInt32(truncatingIfNeeded: length)
        meta.pointee.timestamp = timestamp
        meta.pointee.flags = .wallClockTimestamp
    }

    /// Nanoseconds since the epoch of a timestamp read with nanosecond precision. A file may
    /// hold any 32 bits there: a time before 1970 (negative) reads as 0.
    @inlinable
    static func nanoseconds(_ ts: timeval) -> UInt64 {
        UInt64(max(0, ts.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, ts.tv_usec))
    }

    private static func withoutPathPrefix(_ text: String, path: String) -> String {
        let prefix = path + ": "
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }
}
