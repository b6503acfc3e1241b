import PMDCore
#if canImport(Glibc)
import Glibc
#endif

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
/// pcapng files each start with their own Section Header Block and all the Interface
/// Description Blocks, and end with an Interface Statistics Block per interface holding the
/// capture's totals from its start to that file's end (`statistics`), so the last file's
/// blocks have the whole capture's.
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
    /// The counts the next Interface Statistics Blocks give (pcapng), one per interface: the
    /// writer counts the records it was handed and the frames the slabs say were filtered out
    /// or dropped before them; the caller sets `droppedByRing`, and the totals at the end.
    public var statistics: [InterfaceStatistics]
    /// The first error: a file that could not be opened or written. Records handed over after
    /// it are lost (`recordsLost`).
    public private(set) var failure: PcapError?
    /// The files written, in order.
    public private(set) var files: [String] = []
    /// Records whole in the files.
    public var recordsWritten: Int { earlierRecordsWritten + current.recordsWritten }
    /// Records that will never be in a file: a write of the file failed.
    public var recordsDropped: Int { earlierRecordsDropped + current.recordsDropped }
    /// Records in the current file's buffer, not yet written.
    public var recordsPending: Int { current.recordsPending }
    /// Records of slabs never handed to a file: the next file could not be opened, or a
    /// file had failed before them.
    public private(set) var recordsLost = 0

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
        var start = InterfaceStatistics()
        start.startNanoseconds = wallNanoseconds
        statistics = Array(repeating: start, count: pcapng?.interfaces.count ?? 1)
        intervalStartSeconds = Int(wallNanoseconds / 1_000_000_000)
        let name = Self.fileName(pattern: pattern, expandTime: rotation.secondsPerFile != nil,
                                 seconds: intervalStartSeconds, index: 0)
        current = try PcapFileWriter(path: name, snapLength: snapLength, precision: precision, pcapng: pcapng,
                                     bufferBytes: bufferBytes)
        files.append(name)
    }

    /// Whether the output is a stream read as it comes (a pipe, a FIFO, a device; `-w -`
    /// into a pipe) rather than a regular file.
    public var streams: Bool { !current.isRegularFile }

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
        statistics[0].received &+= 1
        statistics[0].acceptedByFilter &+= 1
        current.write(data, length: length, wallNanoseconds: wallNanoseconds)
        if let failure = current.failure { throw failure }
    }

    /// Writes the records of `slab`, front to back, each to the file (with its interface
    /// ID) and into its interface's statistics. The `-G` check is made once, with the slab's
    /// time; the `-C` check before each record. Once a file could not be opened or written
    /// (`failure`), the records are counted lost or dropped, never written.
    ///
    /// A slab of pcap file records (`holdsPcapRecords`: pcap files with no `-C`) is written
    /// as it lies, with one `write(2)` and no copy; its records count in no interface's
    /// statistics (a pcap file has none: the caller sets the totals).
    public func write(_ slab: RecordSlab) {
        var error = failure
        if error == nil {
            do throws(PcapError) { try beginBurst(wallNanoseconds: slab.wallNanoseconds) } catch let opening { error = opening }
        }
        if slab.holdsPcapRecords {
            if error == nil && current.format == .pcap && rotation.maxFileBytes == nil {
                current.sink.writeRecords(slab.base, bytes: slab.bytes, count: slab.count, captured: slab.pcapCapturedBytes)
            } else {
                recordsLost &+= slab.count
            }
            failure = error ?? current.failure
            return
        }
        let limit = rotation.maxFileBytes ?? Int64.max
        var sink = current.sink
        var lost = 0
        statistics.withUnsafeMutableBufferPointer { counters in
            slab.forEach { data, captured, originalLength, time, interface, filteredBefore, droppedBefore in
                let index = Int(interface) < counters.count ? Int(interface) : 0
                if _slowPath(error != nil) {
                    lost &+= 1
                } else {
                    if _slowPath(sink.size > limit) {
                        current.sink = sink
                        do throws(PcapError) {
                            try rotateBySize(closingWith: Array(counters))
                        } catch let opening {
                            error = opening
                        }
                        sink = current.sink
                    }
                    if error == nil {
                        sink.write(data, captured: captured, originalLength: originalLength, wallNanoseconds: time,
                                   interface: interface)
                    } else {
                        lost &+= 1
                    }
                }
                counters[index].received &+= 1 &+ filteredBefore &+ droppedBefore
                counters[index].acceptedByFilter &+= 1 &+ droppedBefore
                counters[index].droppedByWriter &+= droppedBefore
            }
        }
        current.sink = sink
        recordsLost &+= lost
        failure = error ?? current.failure
    }

    /// Writes the buffered records of the current file to it.
    public func flush() throws(PcapError) {
        do throws(PcapError) { try current.flush() } catch {
            failure = failure ?? error
            throw error
        }
    }

    /// Writes the buffered records of the current file and closes it (a pcapng file after its
    /// Interface Statistics Block).
    public func close() throws(PcapError) { try current.close(statistics: closingStatistics()) }

    /// The statistics a pcapng file is closed with now, one per interface; none for pcap.
    private func closingStatistics(_ counters: [InterfaceStatistics]? = nil) -> [InterfaceStatistics] {
        guard pcapng != nil else { return [] }
        let end = MonotonicClock.wallNanoseconds()
        return (counters ?? statistics).map { interface in
            var block = interface
            block.endNanoseconds = end
            return block
        }
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

    /// Starts the next `-C` file; the current one is closed with `counters` (the statistics
    /// as they are when nil).
    @usableFromInline
    func rotateBySize(closingWith counters: [InterfaceStatistics]? = nil) throws(PcapError) {
        sizeIndex += 1
        let name = Self.fileName(pattern: pattern, expandTime: rotation.secondsPerFile != nil,
                                 seconds: intervalStartSeconds, index: sizeIndex)
        try open(name, closingWith: counters)
    }

    /// Closes the current file (its records reach it before the next file exists) with the
    /// statistics `counters` (as they are when nil) and opens `name`.
    private func open(_ name: String, closingWith counters: [InterfaceStatistics]? = nil) throws(PcapError) {
        try current.close(statistics: closingStatistics(counters))
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
