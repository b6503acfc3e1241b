import PMDCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One capture file being written, pcap or pcapng: Ethernet link type, the chosen timestamp
/// precision and snap length, records assembled in a page-aligned buffer of the writer's own and written to the
/// file with large `write(2)` calls when the buffer is full, at `flush()` and at `close()`.
///
/// The counters tell what reached the file (`recordsWritten`), what is on its way
/// (`recordsPending`) and what never will (`recordsDropped`: a write failed; the file then
/// ends with its last whole record). The file is created with mode 0666 less the process
/// umask and locked exclusively while open (`CaptureFiles`); `-` is standard output. Used by
/// one thread at a time.
public final class PcapFileWriter {
    /// Default size of the buffer in front of the file.
    public static let defaultBufferBytes = 1 << 20

    /// The file's path (`-` for standard output).
    public let path: String
    /// Largest number of frame bytes kept per record.
    public let snapLength: Int
    /// Timestamp precision of the file.
    public let precision: TimestampPrecision
    /// The layout of the file.
    public var format: CaptureFileFormat { sink.format }

    /// The hot-path state: a burst loop copies it into a local, writes, and stores it back.
    /// (No dynamic exclusivity check: accesses never overlap, the writer has one thread.)
    @exclusivity(unchecked) public var sink: PcapRecordSink
    private let buffer: UnsafeMutableRawPointer
    private var isClosed = false

    /// Records whole in the file.
    public var recordsWritten: Int { sink.recordsWritten }
    /// Records in the buffer, not yet written.
    public var recordsPending: Int { sink.recordsPending }
    /// Records that will never be in the file: a write of it failed.
    public var recordsDropped: Int { sink.recordsDropped }
    /// Bytes of the file once the buffer is written.
    public var size: Int64 { sink.size }
    /// Whether the output is a regular file (not a pipe, a FIFO or a device).
    public var isRegularFile: Bool { sink.isRegularFile }
    /// Whether a write of the file failed.
    public var hasFailed: Bool { sink.failure != nil }
    /// The failed write, as the error that names the file and the reason.
    public var failure: PcapError? { sink.failure.map { writeError($0) } }

    /// Creates (or truncates) `path` and puts the file header in the buffer: a pcap file
    /// header, or for a pcapng file (`description` given) its Section Header Block and its
    /// Interface Description Block. The file is locked exclusively while open; a file this
    /// process reads is refused (`CaptureFiles`). The buffer is at least `bufferBytes`, and
    /// always holds one whole record.
    public init(
        path: String, snapLength: Int = 262_144, precision: TimestampPrecision = .nanosecond,
        pcapng description: PcapngDescription? = nil, bufferBytes: Int = PcapFileWriter.defaultBufferBytes
    ) throws(PcapError) {
        precondition(snapLength > 0, "snap length must be positive")
        let descriptor = try CaptureFiles.openOutput(path)
        var info = stat()
        let isRegularFile = fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        let pageBytes = 4096
        let format: CaptureFileFormat = description == nil ? .pcap : .pcapng
        let header = description.map { PcapngFormat.fileHeader($0, snapLength: snapLength, precision: precision) }
            ?? PcapFileFormat.fileHeader(snapLength: snapLength, precision: precision)
        let least = header.count + PcapRecordSink.largestRecordBytes(snapLength: snapLength, format: format)
        let capacity = (max(bufferBytes, least) + pageBytes - 1) / pageBytes * pageBytes
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: pageBytes)
        self.path = path
        self.snapLength = snapLength
        self.precision = precision
        sink = PcapRecordSink(descriptor: descriptor, isRegularFile: isRegularFile, buffer: buffer,
                              capacity: capacity, snapLength: snapLength, precision: precision,
                              format: format, header: header, outboundInterfaces: description?.outboundInterfaces ?? 0)
    }

    deinit {
        if !isClosed { try? close() }
    }

    /// Appends one record: the first `snapLength` bytes of the `length`-byte frame at `data`,
    /// stamped `wallNanoseconds` after the epoch.
    @inlinable
    public func write(_ data: UnsafeRawPointer, length: Int, wallNanoseconds: UInt64) {
        sink.write(data, length: length, wallNanoseconds: wallNanoseconds)
    }

    /// Writes every packet of `batch` (front to back) stamped by `stamper`; returns how many
    /// were handed to the file (see `hasFailed` for whether they reach it).
    @discardableResult
    public func write(_ batch: borrowing PacketBatch, stamper: WallClockStamper) -> Int {
        var local = sink
        let insertVLAN = PacketFlags.insertVLAN.rawValue
        let count = batch.count
        var i = 0
        while i < count {
            let packet = batch[i]
            let record = packet.metadata
            let time = stamper.wallNanoseconds(of: record)
            if _slowPath(record.pointee.flags.rawValue & insertVLAN != 0) {
                local.write(packet.data, length: packet.length, restoring: RestoredVLANTag(tci: record.pointee.vlanTCI),
                            wallNanoseconds: time)
            } else {
                local.write(packet.data, length: packet.length, wallNanoseconds: time)
            }
            i &+= 1
        }
        sink = local
        return count
    }

    /// Writes the buffered records to the file; throws when a write of the file failed (now
    /// or before).
    public func flush() throws(PcapError) {
        sink.drain()
        if let error = sink.failure { throw writeError(error) }
    }

    /// Writes the buffered records and closes the file; throws when a write of the file failed
    /// (now or before) or the close did. A pcapng file ends with an Interface Statistics Block
    /// per element of `statistics`, the counters of the interfaces in order (none when empty).
    /// Later calls do nothing; later records are dropped.
    public func close(statistics: [InterfaceStatistics] = []) throws(PcapError) {
        guard !isClosed else { return }
        isClosed = true
        for (interface, counters) in statistics.enumerated() {
            sink.appendStatistics(counters, interface: UInt32(interface))
        }
        let closeError = sink.close()
        buffer.deallocate()
        if let error = sink.failure { throw writeError(error) }
        if closeError != 0 { throw writeError(closeError) }
    }

    private func writeError(_ number: Int32) -> PcapError {
        .writeFailed(path: path, reason: Errno(rawValue: number).description)
    }
}
