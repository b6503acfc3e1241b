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

/// Reads an Ethernet capture (pcap or pcapng) through libpcap, with nanosecond timestamps
/// whatever the file's precision.
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
    public private(set) var recordsRead = 0
    /// Whether the end of the file was reached.
    public private(set) var isAtEnd = false

    /// Whether `read(into:from:)` holds an error for its next call.
    public var hasPendingError: Bool { pendingError != nil }

    private var handle: OpaquePointer?
    /// Keeps outputs of this process off the file while it is read.
    private var claim: CaptureFiles.InputClaim?
    private let buffer: UnsafeMutableRawPointer
    private static let bufferBytes = 1 << 20
    private var pendingError: PcapError?

    /// Opens `path`; throws when it is missing, not a capture, or not Ethernet.
    public init(path: String) throws(PcapError) {
        // The stream is opened here so that it gets a large buffer and skips stdio's locks
        // (one thread reads it); libpcap then reads the header and records from it.
        guard let stream = fopen(path, "r") else {
            throw .cannotOpen(path: path, reason: Errno(rawValue: errno).description)
        }
        claim = CaptureFiles.InputClaim(descriptor: fileno(stream))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferBytes, alignment: 4096)
        setvbuf(stream, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, Self.bufferBytes)
        _ = __fsetlocking(stream, Int32(FSETLOCKING_BYCALLER))
        var errorText = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_fopen_offline_with_tstamp_precision(
            stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorText) else {
            fclose(stream)
            buffer.deallocate()
            throw .cannotOpen(path: path, reason: Self.withoutPathPrefix(errorText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path))
        }
        self.buffer = buffer
        let linkType = pcap_datalink(handle)
        guard linkType == DLT_EN10MB else {
            let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "number \(linkType)"
            pcap_close(handle)
            buffer.deallocate()
            throw .notEthernet(path: path, linkType: name)
        }
        self.path = path
        self.handle = handle
        snapLength = Int(pcap_snapshot(handle))
    }

    deinit { close() }

    /// Closes the file; later reads return nothing.
    public func close() {
        if let handle {
            pcap_close(handle)
            buffer.deallocate()
        }
        handle = nil
        claim = nil
        isAtEnd = true
    }

    private func nextRecord() throws(PcapError) -> (UnsafePointer<pcap_pkthdr>, UnsafePointer<UInt8>)? {
        guard let handle, !isAtEnd else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            recordsRead += 1
            return (UnsafePointer(header!), data!)
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
        guard let (header, data) = try nextRecord() else { return nil }
        let caplen = Int(header.pointee.caplen)
        return PcapFrame(bytes: Array(UnsafeBufferPointer(start: data, count: caplen)),
                         originalLength: Int(header.pointee.len),
                         timestampNanoseconds: Self.nanoseconds(header.pointee.ts))
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
        guard let handle, !isAtEnd, batch.adopt(pool: pool) else { return 0 }
        batch.compact()
        let room = batch.freeCapacity
        let dataRoom = pool.dataRoom
        var n = 0
        var records = recordsRead
        var failure: PcapError?
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while n < room && pool.available > 0 {
            let status = pcap_next_ex(handle, &header, &data)
            guard status == 1, let header, let data else {
                isAtEnd = true
                if status != PCAP_ERROR_BREAK {
                    failure = .malformedRecord(path: path, record: records + 1, reason: String(cString: pcap_geterr(handle)))
                }
                break
            }
            records &+= 1
            let caplen = Int(header.pointee.caplen)
            guard caplen <= dataRoom else {
                isAtEnd = true
                failure = .frameTooLarge(path: path, record: records, length: caplen, bufferSize: dataRoom)
                break
            }
            let index = pool.take()!
            pool.data(index).copyMemory(from: data, byteCount: caplen)
            let meta = pool.metadata(index)
            meta.pointee = PacketMetadata()
            meta.pointee.length = UInt32(truncatingIfNeeded: caplen)
            meta.pointee.timestamp = Self.nanoseconds(header.pointee.ts)
            meta.pointee.flags = .wallClockTimestamp
            batch.appendOwnedIndex(index)
            n &+= 1
        }
        recordsRead = records
        if let failure {
            if n == 0 { throw failure }
            pendingError = failure
        }
        return n
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
