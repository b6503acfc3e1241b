import PMDCore
#if canImport(Glibc)
import Glibc
#endif

/// What `RotatingPcapWriter.write(_:stamper:filter:maxRecords:)` did with a burst.
public struct BurstWriteResult: Sendable {
    /// Packets looked at, from the front: each one written or filtered out.
    public var examined = 0
    /// Packets handed to the file (`RotatingPcapWriter.recordsWritten` says which reached it).
    public var written = 0
    /// Packets the filter did not match.
    public var filteredOut = 0
    /// The error that stopped the burst: a file could not be opened (the packets from
    /// `examined` on were not looked at) or written (the packets handed to it are dropped).
    public var error: PcapError?
}

/// When a capture moves on to a new file, as tcpdump's `-C` and `-G` do.
public struct RotationPolicy: Sendable, Equatable {
    /// `-C`: a new file once the current one holds more than this many bytes (tcpdump counts
    /// millions of bytes); nil for no limit.
    public var maxFileBytes: Int64?
    /// `-G`: a new file every this many seconds, named by the strftime pattern; nil for none.
    public var secondsPerFile: Int?

    /// A policy; both nil writes one file.
    public init(maxFileBytes: Int64? = nil, secondsPerFile: Int? = nil) {
        self.maxFileBytes = maxFileBytes
        self.secondsPerFile = secondsPerFile
    }

    /// One file, never rotated.
    public static let none = RotationPolicy()
}

/// A capture written to one file or a rotating series of files, named as tcpdump names them.
///
/// - No rotation: the file is `name`.
/// - `-C` (size): `name`, then `name1`, `name2`, ...; the size is checked before each record,
///   so a file exceeds the limit by at most one record.
/// - `-G` (time): `name` is an strftime pattern expanded with the local time at which each
///   file is opened; a new file starts once `secondsPerFile` have passed.
/// - Both: a time rotation starts again at `name` (expanded); size rotations within the
///   interval append 1, 2, ... to the expanded name.
///
/// Unlike tcpdump, a time rotation never truncates a file this capture already wrote: if the
/// expanded name did not change, the capture stays in the current file.
///
/// pcapng files each start with their own Section Header Block and Interface Description
/// Block, and end with an Interface Statistics Block holding the capture's totals from its
/// start to that file's end (`statistics`), so the last file's block has the whole capture's.
public final class RotatingPcapWriter {
    /// The name or strftime pattern given by the user.
    public let pattern: String
    /// Snap length of every file.
    public let snapLength: Int
    /// Timestamp precision of every file.
    public let precision: TimestampPrecision
    /// The rotation policy.
    public let rotation: RotationPolicy
    /// What pcapng files say about the capture; nil for pcap files.
    public let pcapng: PcapngDescription?
    /// The counts the next Interface Statistics Block gives (pcapng): the writer counts the
    /// frames its bursts examined (`received`) and handed to the files (`acceptedByFilter`)
    /// and the records dropped; the caller sets `droppedByRing`, and `received` when it got
    /// frames it did not hand over.
    public var statistics = InterfaceStatistics()
    /// The files written, in order.
    public private(set) var files: [String] = []
    /// Records whole in the files.
    public var recordsWritten: Int { earlierRecordsWritten + current.recordsWritten }
    /// Records that will never be in a file: a write of the file failed.
    public var recordsDropped: Int { earlierRecordsDropped + current.recordsDropped }
    /// Records in the current file's buffer, not yet written.
    public var recordsPending: Int { current.recordsPending }

    @usableFromInline var current: PcapFileWriter
    private var sizeIndex = 0
    private var earlierRecordsWritten = 0
    private var earlierRecordsDropped = 0
    private var intervalStartSeconds: Int
    private let bufferBytes: Int

    /// Opens the first file. `wallNanoseconds` is the time used to expand the pattern.
    public init(
        pattern: String, snapLength: Int = 262_144, precision: TimestampPrecision = .nanosecond,
        rotation: RotationPolicy = .none, pcapng: PcapngDescription? = nil, wallNanoseconds: UInt64,
        bufferBytes: Int = PcapFileWriter.defaultBufferBytes
    ) throws(PcapError) {
        if pattern == CaptureFiles.standardOutputName && (rotation.secondsPerFile != nil || rotation.maxFileBytes != nil) {
            throw .badRotation("-w - writes one stream to standard output: -C and -G need file names")
        }
        if let seconds = rotation.secondsPerFile {
            guard seconds > 0 else { throw .badRotation("-G needs a positive number of seconds, not \(seconds)") }
            guard pattern.contains("%") else {
                throw .badRotation("-G \(seconds) needs a strftime time pattern in the file name "
                    + "(for example 'capture-%Y%m%d-%H%M%S.pcap'); without one every rotation would overwrite the last file")
            }
        }
        if let bytes = rotation.maxFileBytes, bytes <= 0 {
            throw .badRotation("-C needs a positive size in millions of bytes")
        }
        self.pattern = pattern
        self.snapLength = snapLength
        self.precision = precision
        self.rotation = rotation
        self.pcapng = pcapng
        self.bufferBytes = bufferBytes
        statistics.startNanoseconds = wallNanoseconds
        intervalStartSeconds = Int(wallNanoseconds / 1_000_000_000)
        let name = Self.fileName(pattern: pattern, expandTime: rotation.secondsPerFile != nil,
                                 seconds: intervalStartSeconds, index: 0)
        current = try PcapFileWriter(path: name, snapLength: snapLength, precision: precision, pcapng: pcapng,
                                     bufferBytes: bufferBytes)
        files.append(name)
    }

    /// The file being written now.
    public var currentPath: String { current.path }

    /// Called once per burst with the burst's wall-clock time: starts a new file when the
    /// `-G` interval has passed.
    @inlinable
    public func beginBurst(wallNanoseconds: UInt64) throws(PcapError) {
        if rotation.secondsPerFile != nil { try rotateByTimeIfDue(wallNanoseconds: wallNanoseconds) }
    }

    /// Appends one record (see `PcapFileWriter.write`); starts a new file first when `-C` says so.
    public func write(_ data: UnsafeRawPointer, length: Int, wallNanoseconds: UInt64) throws(PcapError) {
        if let limit = rotation.maxFileBytes, current.size > limit { try rotateBySize() }
        statistics.received &+= 1
        statistics.acceptedByFilter &+= 1
        current.write(data, length: length, wallNanoseconds: wallNanoseconds)
        if let failure = current.failure { throw failure }
    }

    /// Writes the packets of `batch` from its front: each one `filter` matches (all without a
    /// filter), stamped by `stamper`, until `maxRecords` were written. The `-C` check is made
    /// before each record. Returns how far it got, and the error of a file that could not be
    /// opened or written.
    ///
    /// A packet whose VLAN tag the port stripped (`.vlanStripped`) is filtered and written as
    /// it was on the wire: its `vlanTCI` goes back after the addresses as an 802.1Q tag.
    public func write(
        _ batch: borrowing PacketBatch, stamper: WallClockStamper, filter: PacketFilter?, maxRecords: Int
    ) -> BurstWriteResult {
        var result = BurstWriteResult()
        let limit = rotation.maxFileBytes ?? Int64.max
        let strippedTagStatus = batch.pool.strippedTagStatus
        let count = batch.count
        var sink = current.sink
        var i = 0
        while i < count && result.written < maxRecords {
            let packet = batch[i]
            i &+= 1
            let record = packet.metadata
            let tag: RestoredVLANTag? = _slowPath(record.pointee.tagStripped(strippedTagStatus: strippedTagStatus))
                ? RestoredVLANTag(tci: record.pointee.vlanTCI) : nil
            if let filter {
                let matched = if let tag {
                    filter.matches(packet.data, length: packet.length, restoring: tag)
                } else {
                    filter.matches(packet.data, length: packet.length)
                }
                if !matched {
                    result.filteredOut &+= 1
                    continue
                }
            }
            if sink.size > limit {
                current.sink = sink
                // The file's statistics count the packets before this one.
                let (examinedBefore, acceptedBefore) = (UInt64(i &- 1), UInt64(result.written))
                statistics.received &+= examinedBefore
                statistics.acceptedByFilter &+= acceptedBefore
                defer {
                    statistics.received &-= examinedBefore
                    statistics.acceptedByFilter &-= acceptedBefore
                }
                do throws(PcapError) { try rotateBySize() } catch {
                    result.error = error
                    i &-= 1
                    break
                }
                sink = current.sink
            }
            let time = stamper.wallNanoseconds(of: record)
            if let tag {
                sink.write(packet.data, length: packet.length, restoring: tag, wallNanoseconds: time)
            } else {
                sink.write(packet.data, length: packet.length, wallNanoseconds: time)
            }
            result.written &+= 1
        }
        current.sink = sink
        result.examined = i
        statistics.received &+= UInt64(i)
        statistics.acceptedByFilter &+= UInt64(result.written)
        if result.error == nil { result.error = current.failure }
        return result
    }

    /// Writes the buffered records of the current file to it.
    public func flush() throws(PcapError) { try current.flush() }

    /// Writes the buffered records of the current file and closes it (a pcapng file after its
    /// Interface Statistics Block).
    public func close() throws(PcapError) { try current.close(statistics: closingStatistics()) }

    /// The statistics a pcapng file is closed with now; nil for pcap.
    private func closingStatistics() -> InterfaceStatistics? {
        guard pcapng != nil else { return nil }
        var block = statistics
        block.endNanoseconds = MonotonicClock.wallNanoseconds()
        block.droppedByWriter = UInt64(recordsDropped)
        return block
    }

    @usableFromInline
    func rotateByTimeIfDue(wallNanoseconds: UInt64) throws(PcapError) {
        guard let period = rotation.secondsPerFile else { return }
        let now = Int(wallNanoseconds / 1_000_000_000)
        guard now - intervalStartSeconds >= period else { return }
        let name = Self.fileName(pattern: pattern, expandTime: true, seconds: now, index: 0)
        intervalStartSeconds = now
        guard !files.contains(name) else { return }
        try open(name)
        sizeIndex = 0
    }

    @usableFromInline
    func rotateBySize() throws(PcapError) {
        sizeIndex += 1
        let name = Self.fileName(pattern: pattern, expandTime: rotation.secondsPerFile != nil,
                                 seconds: intervalStartSeconds, index: sizeIndex)
        try open(name)
    }

    /// Closes the current file (its records reach it before the next file exists) and opens `name`.
    private func open(_ name: String) throws(PcapError) {
        try current.close(statistics: closingStatistics())
        let next = try PcapFileWriter(path: name, snapLength: snapLength, precision: precision, pcapng: pcapng,
                                      bufferBytes: bufferBytes)
        earlierRecordsWritten += current.recordsWritten
        earlierRecordsDropped += current.recordsDropped
        current = next
        files.append(name)
    }

    /// The name tcpdump gives file `index` of the interval starting at `seconds`: the pattern
    /// (strftime-expanded in local time when rotating by time) followed by the index unless it is 0.
    public static func fileName(pattern: String, expandTime: Bool, seconds: Int, index: Int) -> String {
        var base = pattern
        if expandTime {
            var time = time_t(seconds)
            var parts = tm()
            localtime_r(&time, &parts)
            var out = [CChar](repeating: 0, count: 4096)
            let n = strftime(&out, out.count, pattern, &parts)
            if n > 0 { base = String(decoding: out[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return index == 0 ? base : base + String(index)
    }
}
