#if canImport(Glibc)
import Glibc
#endif

/// The records of one capture file on their way to it, in a trivial value: the writer's buffer,
/// where records are assembled back to back, and the descriptor it is written to when full.
/// A burst loop copies the sink into a local, writes, and stores it back, so the per-record
/// path touches no class, no reference count and no lock.
///
/// Every record handed to `write` is, at any moment, in exactly one of three places: written
/// (whole in the file), pending (in the buffer), or dropped (a write of the file failed, so it
/// will never be in the file). A failed write leaves the file holding whole records only: a
/// record cut short is cut off the end of a regular file. From then on every record is dropped.
///
/// One path serves both formats: `format` decides the record's header, padding and trailer
/// (a pcap record header, or a pcapng Enhanced Packet Block around the frame).
@frozen
public struct PcapRecordSink {
    /// Largest number of frame bytes kept per record.
    public let snapLength: Int
    /// The layout of the records.
    public let format: CaptureFileFormat
    @usableFromInline let nanosecond: Bool
    @usableFromInline let buffer: UnsafeMutableRawPointer
    /// Bytes a record may fill the buffer up to before it is written: the buffer's capacity
    /// while the file takes writes, 0 once it failed or was closed (every record then takes
    /// the slow path).
    @usableFromInline var limit: Int
    /// Bytes in the buffer.
    @usableFromInline var fill: Int
    @usableFromInline var pending: Int
    @usableFromInline var dropped: Int
    @usableFromInline var written: Int
    /// Bytes of the file header still in the buffer (at its start) until the first write.
    @usableFromInline var headerInBuffer: Int
    @usableFromInline var fileBytes: Int64
    @usableFromInline var capturedBytesWritten: Int64
    /// Frame bytes of the pending records.
    @usableFromInline var capturedBytesPending: Int
    @usableFromInline var descriptor: Int32
    @usableFromInline let isRegularFile: Bool
    /// The error that failed a write of the file; 0 while none did.
    @usableFromInline var errorNumber: Int32
    /// pcapng: one bit per interface ID whose frames are outbound (see `PcapngDescription`).
    @usableFromInline let outboundInterfaces: UInt64

    /// Records whole in the file.
    public var recordsWritten: Int { written }
    /// Records in the buffer, not yet written.
    public var recordsPending: Int { pending }
    /// Records that will never be in the file: a write of it failed.
    public var recordsDropped: Int { dropped }
    /// Bytes of the file once the buffer is written (what `-C` measures).
    public var size: Int64 { fileBytes + Int64(fill) }
    /// Frame bytes kept in the records written and pending (record headers and the file header
    /// not counted).
    public var capturedBytes: Int64 { capturedBytesWritten + Int64(capturedBytesPending) }
    /// The error number of the write that failed, if one did.
    public var failure: Int32? { errorNumber == 0 ? nil : errorNumber }

    /// A sink writing to `descriptor` through the `capacity`-byte `buffer`, which starts with
    /// `header` (the file header, or a pcapng file's first blocks). The buffer must hold the
    /// header and one record of `snapLength` bytes.
    init(descriptor: Int32, isRegularFile: Bool, buffer: UnsafeMutableRawPointer, capacity: Int,
         snapLength: Int, precision: TimestampPrecision, format: CaptureFileFormat, header: [UInt8],
         outboundInterfaces: UInt64 = 0) {
        precondition(capacity >= header.count + Self.largestRecordBytes(snapLength: snapLength, format: format),
                     "the buffer must hold the file header and a whole record")
        self.descriptor = descriptor
        self.isRegularFile = isRegularFile
        self.buffer = buffer
        self.snapLength = snapLength
        self.format = format
        nanosecond = precision == .nanosecond
        limit = capacity
        header.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: header.count) }
        fill = header.count
        headerInBuffer = header.count
        pending = 0
        dropped = 0
        written = 0
        fileBytes = 0
        capturedBytesWritten = 0
        capturedBytesPending = 0
        errorNumber = 0
        self.outboundInterfaces = outboundInterfaces
    }

    /// Bytes of the record of a frame of `snapLength` bytes or more.
    static func largestRecordBytes(snapLength: Int, format: CaptureFileFormat) -> Int {
        format == .pcap ? PcapFileFormat.recordHeaderBytes + snapLength : PcapngFormat.packetBlockBytes(captured: snapLength)
    }

    /// Appends one record: the first `snapLength` bytes of the `length`-byte frame at `data`,
    /// stamped `wallNanoseconds` after the epoch. Writes the buffer to the file first when the
    /// record does not fit; counts the record dropped when the file failed.
    @inlinable
    public mutating func write(_ data: UnsafeRawPointer, length: Int, wallNanoseconds: UInt64) {
        let captured = length < snapLength ? length : snapLength
        guard let bytes = startRecord(captured: captured, originalLength: length, wallNanoseconds: wallNanoseconds,
                                      interface: 0) else {
            return
        }
        bytes.copyMemory(from: data, byteCount: captured)
    }

    /// Appends one record of a frame already cut to the snap length: the `captured` bytes at
    /// `data` of a frame of `originalLength` bytes on the wire, captured on interface
    /// `interface` (a pcapng file's interface ID; a pcap file has one).
    @inlinable
    public mutating func write(_ data: UnsafeRawPointer, captured: Int, originalLength: Int, wallNanoseconds: UInt64,
                               interface: UInt32) {
        guard let bytes = startRecord(captured: captured, originalLength: originalLength, wallNanoseconds: wallNanoseconds,
                                      interface: interface) else { return }
        bytes.copyMemory(from: data, byteCount: captured)
    }

    /// Appends one record of the `length`-byte frame at `data` with `tag` put back after its
    /// addresses: the record's original length counts the tag, and the snap length cuts the
    /// frame with its tag. The frame's buffer is only read, and only within its `length` bytes
    /// (the addresses, then the rest after the tag). A frame too short to hold addresses is
    /// written as it is.
    @inlinable
    public mutating func write(_ data: UnsafeRawPointer, length: Int, restoring tag: RestoredVLANTag,
                               wallNanoseconds: UInt64) {
        guard RestoredVLANTag.fits(frameLength: length) else {
            write(data, length: length, wallNanoseconds: wallNanoseconds)
            return
        }
        let addresses = RestoredVLANTag.addressesLength
        let restoredLength = length &+ RestoredVLANTag.length
        let captured = restoredLength < snapLength ? restoredLength : snapLength
        guard let bytes = startRecord(captured: captured, originalLength: restoredLength,
                                      wallNanoseconds: wallNanoseconds, interface: 0) else { return }
        // The addresses and the tag, as far as the snap length keeps them; then the rest of
        // the frame (captured ≤ length + 4: it ends within the frame's bytes).
        var prefix: (UInt64, UInt64) = (0, 0)
        let framePrefix = addresses &+ RestoredVLANTag.length
        withUnsafeMutableBytes(of: &prefix) { raw in
            raw.baseAddress!.copyMemory(from: data, byteCount: addresses)
            raw.storeBytes(of: tag.bytes, toByteOffset: addresses, as: UInt32.self)
            bytes.copyMemory(from: raw.baseAddress!, byteCount: captured < framePrefix ? captured : framePrefix)
        }
        if captured > framePrefix {
            (bytes + framePrefix).copyMemory(from: data + addresses, byteCount: captured &- framePrefix)
        }
    }

    /// Makes room for a record of `captured` frame bytes (writing the buffer out when it does
    /// not fit), writes its header and counts it pending; returns where its `captured` bytes
    /// go, or nil when the file failed (the record is counted dropped).
    @inlinable
    mutating func startRecord(captured: Int, originalLength: Int, wallNanoseconds: UInt64,
                              interface: UInt32) -> UnsafeMutableRawPointer? {
        let pcapng = format == .pcapng
        let recordBytes = pcapng ? PcapngFormat.packetBlockBytes(captured: captured) : PcapFileFormat.recordHeaderBytes &+ captured
        // The buffer holds a whole record once the check passes or `makeRoom` emptied it.
        if fill &+ recordBytes > limit && !makeRoom() {
            dropped &+= 1
            return nil
        }
        let record = buffer + fill
        fill &+= recordBytes
        pending &+= 1
        capturedBytesPending &+= captured
        if pcapng {
            PcapngFormat.storePacketBlock(at: record, blockBytes: recordBytes, captured: captured, originalLength: originalLength,
                                          units: nanosecond ? wallNanoseconds : wallNanoseconds / 1000, interface: interface,
                                          flags: PcapngFormat.directionFlags(interface: interface,
                                                                             outboundInterfaces: outboundInterfaces))
            return record + PcapngFormat.packetHeaderBytes
        }
        PcapFileFormat.storeRecordHeader(at: record, wallNanoseconds: wallNanoseconds, nanosecond: nanosecond,
                                         captured: captured, originalLength: originalLength)
        return record + PcapFileFormat.recordHeaderBytes
    }

    /// Appends a pcapng file's Interface Statistics Block for interface `interface` (no
    /// record: the counts stay); does nothing for a pcap file or one that failed.
    mutating func appendStatistics(_ statistics: InterfaceStatistics, interface: UInt32) {
        guard format == .pcapng else { return }
        let blockBytes = PcapngFormat.statisticsBlockBytes
        if fill &+ blockBytes > limit && !makeRoom() { return }
        PcapngFormat.storeStatisticsBlock(at: buffer + fill, statistics, interface: interface,
                                          precision: nanosecond ? .nanosecond : .microsecond)
        fill &+= blockBytes
    }

    /// Writes the buffer out so that any record fits; false when the file failed or is closed.
    @usableFromInline @inline(never)
    mutating func makeRoom() -> Bool {
        guard errorNumber == 0, descriptor >= 0 else { return false }
        drain()
        return errorNumber == 0
    }

    /// Writes the buffer to the file. On a failure, keeps the whole records that reached the
    /// file, cuts a partial one off a regular file, counts the rest dropped and keeps the error.
    mutating func drain() {
        guard fill > 0, errorNumber == 0, descriptor >= 0 else { return }
        let (sent, error) = OutputWrites.writeAll(descriptor, buffer, count: fill)
        if error == 0 {
            fileBytes += Int64(fill)
            written += pending
            capturedBytesWritten += Int64(capturedBytesPending)
        } else {
            keepWholeRecords(sent: sent, error: error)
        }
        fill = 0
        pending = 0
        capturedBytesPending = 0
        headerInBuffer = 0
    }

    /// The accounting of a write that stopped with `error` after `sent` bytes of the buffer.
    private mutating func keepWholeRecords(sent: Int, error: Int32) {
        // A file header cut short keeps nothing: an empty file rather than an unreadable one.
        guard sent >= headerInBuffer else {
            keepWholeRecords(of: buffer, count: pending, sent: 0, error: error)
            if sent > 0 && isRegularFile { OutputWrites.cutOff(descriptor, bytes: sent) }
            return
        }
        fileBytes += Int64(headerInBuffer)
        keepWholeRecords(of: buffer + headerInBuffer, count: pending, sent: sent - headerInBuffer, error: error)
    }

    /// The accounting of a write of `count` records laid out at `records` that stopped with
    /// `error` after `sent` of their bytes: the whole records are written, a partial one is cut
    /// off a regular file, the rest are dropped, and the file takes no more writes.
    private mutating func keepWholeRecords(of records: UnsafeRawPointer, count: Int, sent: Int, error: Int32) {
        let whole = format == .pcapng ? PcapngFormat.wholeBlocks(in: records, length: sent)
            : PcapFileFormat.wholeRecords(in: records, length: sent)
        if whole.bytes < sent && isRegularFile { OutputWrites.cutOff(descriptor, bytes: sent - whole.bytes) }
        fileBytes += Int64(whole.bytes)
        written += whole.count
        dropped += count - whole.count
        capturedBytesWritten += Int64(whole.captured)
        errorNumber = error
        limit = 0
    }

    /// Writes `count` records already laid out as the file's (`bytes` bytes at `records`,
    /// holding `captured` frame bytes) straight from where they lie, after what the buffer
    /// holds: no copy. A failed write is accounted as `drain` accounts it (whole records
    /// written, a partial one cut off, the rest dropped); once the file failed or was closed,
    /// the records are dropped.
    mutating func writeRecords(_ records: UnsafeRawPointer, bytes: Int, count: Int, captured: Int) {
        drain()
        guard errorNumber == 0, limit > 0, descriptor >= 0 else {
            dropped += count
            return
        }
        let (sent, error) = OutputWrites.writeAll(descriptor, records, count: bytes)
        if error == 0 {
            fileBytes += Int64(bytes)
            written += count
            capturedBytesWritten += Int64(captured)
        } else {
            keepWholeRecords(of: records, count: count, sent: sent, error: error)
        }
    }

    /// Writes what is buffered and closes the descriptor; later records are dropped. Returns
    /// the error of the close itself (0 when none).
    mutating func close() -> Int32 {
        drain()
        limit = 0
        guard descriptor >= 0 else { return 0 }
        let closed = Glibc.close(descriptor) == 0 || errno == EINTR
        descriptor = -1
        return closed ? 0 : errno
    }
}
