import CPcap
import PMDCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One pcap file being written through libpcap: a dead Ethernet handle with the chosen
/// timestamp precision and snap length, and a dumper on a stdio stream with a large buffer.
///
/// Records go to the stream's buffer and reach the file a buffer at a time; `flush()` pushes
/// them out, `close()` flushes and closes. The file is created with mode 0666 less the
/// process umask, as `fopen` does. Used by one thread at a time.
public final class PcapFileWriter {
    /// Bytes of the pcap file header.
    public static let fileHeaderBytes: Int64 = 24
    /// Bytes of a record header.
    public static let recordHeaderBytes: Int64 = 16
    /// Default size of the stdio buffer in front of the file.
    public static let defaultBufferBytes = 4 << 20

    /// The file's path.
    public let path: String
    /// Largest number of frame bytes kept per record.
    public let snapLength: Int
    /// Timestamp precision of the file.
    public let precision: TimestampPrecision
    /// Bytes of the file so far, counting what is still in the buffer.
    public var bytesWritten: Int64 { sink.bytesWritten }
    /// Records written so far.
    public var recordCount: Int { sink.recordCount }

    /// The hot-path state: a burst loop copies it into a local, writes, and stores it back.
    public var sink: PcapRecordSink
    private let dumper: OpaquePointer
    private let handle: OpaquePointer
    private let stream: UnsafeMutablePointer<FILE>
    private let buffer: UnsafeMutableRawPointer
    private var isClosed = false

    /// Creates (or truncates) `path` and writes the pcap file header. The file is locked
    /// exclusively while open; a file this process reads is refused (`CaptureFiles`).
    public init(
        path: String, snapLength: Int = 262_144, precision: TimestampPrecision = .nanosecond,
        bufferBytes: Int = PcapFileWriter.defaultBufferBytes
    ) throws(PcapError) {
        precondition(snapLength > 0, "snap length must be positive")
        guard let handle = pcap_open_dead_with_tstamp_precision(
            DLT_EN10MB, Int32(clamping: snapLength), UInt32(precision.libpcapValue)) else {
            throw .cannotCreate(path: path, reason: "libpcap could not make an Ethernet handle")
        }
        let descriptor: Int32
        do { descriptor = try CaptureFiles.openOutput(path) } catch {
            pcap_close(handle)
            throw error
        }
        guard let stream = fdopen(descriptor, "w") else {
            let reason = Errno(rawValue: errno).description
            Glibc.close(descriptor)
            pcap_close(handle)
            throw .cannotCreate(path: path, reason: reason)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 4096)
        setvbuf(stream, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, bufferBytes)
        // One thread writes this stream: stdio need not lock it on every fwrite.
        _ = __fsetlocking(stream, Int32(FSETLOCKING_BYCALLER))
        guard let dumper = pcap_dump_fopen(handle, stream) else {
            let reason = String(cString: pcap_geterr(handle))
            fclose(stream)
            pcap_close(handle)
            buffer.deallocate()
            throw .cannotCreate(path: path, reason: reason)
        }
        self.path = path
        self.snapLength = snapLength
        self.precision = precision
        self.handle = handle
        self.stream = stream
        self.buffer = buffer
        self.dumper = dumper
        sink = PcapRecordSink(dumper: dumper, stream: stream, snapLength: snapLength, precision: precision)
    }

    deinit {
        if !isClosed { try? close() }
    }

    /// Appends one record: the first `snapLength` bytes of the `length`-byte frame at `data`,
    /// stamped `wallNanoseconds` after the epoch.
    public func write(_ data: UnsafeRawPointer, length: Int, wallNanoseconds: UInt64) {
        sink.write(data, length: length, wallNanoseconds: wallNanoseconds)
    }

    /// Writes every packet of `batch` (front to back) stamped by `stamper`; returns how many.
    /// A packet asking for `.insertVLAN` is written with its `vlanTCI` as an 802.1Q tag after
    /// its addresses, as a device inserting the tag on transmit would send it.
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

    /// Whether the stream saw a write error (disk full, I/O error) since it was opened.
    public var hasFailed: Bool { ferror(stream) != 0 }

    /// Pushes buffered records to the file.
    public func flush() throws(PcapError) {
        guard !isClosed else { return }
        if pcap_dump_flush(dumper) != 0 || ferror(stream) != 0 {
            throw .writeFailed(path: path, reason: Errno(rawValue: errno).description)
        }
    }

    /// Flushes and closes the file; later calls do nothing.
    public func close() throws(PcapError) {
        guard !isClosed else { return }
        isClosed = true
        let flushed = pcap_dump_flush(dumper) == 0 && ferror(stream) == 0
        let flushErrno = errno
        // pcap_dump_close closes the stream.
        pcap_dump_close(dumper)
        pcap_close(handle)
        buffer.deallocate()
        if !flushed {
            throw .writeFailed(path: path, reason: Errno(rawValue: flushErrno).description)
        }
    }
}

/// What writing a record needs, in a trivial value: the libpcap dumper and its stream, the
/// snap length, the precision, and the running size of the file. Copied into a local for a
/// burst so the per-frame path touches no class and no reference count.
@frozen
public struct PcapRecordSink {
    @usableFromInline let dumperUser: UnsafeMutablePointer<UInt8>
    /// The stream libpcap's dumper writes to: records with a restored tag are written to it
    /// piece by piece, in the format of `pcap_dump`.
    @usableFromInline let stream: UnsafeMutablePointer<FILE>
    /// Largest number of frame bytes kept per record.
    public let snapLength: Int
    @usableFromInline let nanosecond: Bool
    /// Bytes of the file so far, counting what is still in the stdio buffer.
    public var bytesWritten: Int64
    /// Records written so far.
    public var recordCount: Int

    init(dumper: OpaquePointer, stream: UnsafeMutablePointer<FILE>, snapLength: Int, precision: TimestampPrecision) {
        dumperUser = UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self)
        self.stream = stream
        self.snapLength = snapLength
        nanosecond = precision == .nanosecond
        bytesWritten = PcapFileWriter.fileHeaderBytes
        recordCount = 0
    }

    /// Appends one record: the first `snapLength` bytes of the `length`-byte frame at `data`,
    /// stamped `wallNanoseconds` after the epoch.
    @inlinable
    public mutating func write(_ data: UnsafeRawPointer, length: Int, wallNanoseconds: UInt64) {
        let captured = length < snapLength ? length : snapLength
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(wallNanoseconds / 1_000_000_000)
        let fraction = Int(wallNanoseconds % 1_000_000_000)
        header.ts.tv_usec = nanosecond ? fraction : fraction / 1000
        header.caplen = UInt32(truncatingIfNeeded: captured)
        header.len = UInt32(truncatingIfNeeded: length)
        pcap_dump(dumperUser, &header, data.assumingMemoryBound(to: UInt8.self))
        bytesWritten &+= 16 &+ Int64(captured)
        recordCount &+= 1
    }

    /// Appends one record of the `length`-byte frame at `data` with `tag` put back after its
    /// addresses: the record's original length counts the tag, and the snap length cuts the
    /// frame with its tag. The record is written in pieces (header, addresses and tag from a
    /// local, then the rest of the frame from `data`): the frame's buffer is only read, and
    /// only within its `length` bytes. A frame too short to hold addresses is written as it is.
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
        let fraction = wallNanoseconds % 1_000_000_000
        // The record header as `pcap_dump` writes it (32-bit seconds and fraction, captured
        // and original lengths, host byte order), then the addresses and the tag.
        var prefix: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
            UInt32(truncatingIfNeeded: wallNanoseconds / 1_000_000_000),
            UInt32(truncatingIfNeeded: nanosecond ? fraction : fraction / 1000),
            UInt32(truncatingIfNeeded: captured), UInt32(truncatingIfNeeded: restoredLength), 0, 0, 0, 0)
        let headerBytes = 16
        let framePrefix = addresses &+ RestoredVLANTag.length
        let stream = self.stream
        withUnsafeMutableBytes(of: &prefix) { raw in
            let base = raw.baseAddress!
            (base + headerBytes).copyMemory(from: data, byteCount: addresses)
            raw.storeBytes(of: tag.bytes, toByteOffset: headerBytes &+ addresses, as: UInt32.self)
            _ = fwrite(base, 1, headerBytes &+ (captured < framePrefix ? captured : framePrefix), stream)
        }
        // captured ≤ length + 4, so the rest ends within the frame's `length` bytes.
        if captured > framePrefix { _ = fwrite(data + addresses, 1, captured &- framePrefix, stream) }
        bytesWritten &+= Int64(headerBytes) &+ Int64(captured)
        recordCount &+= 1
    }
}
