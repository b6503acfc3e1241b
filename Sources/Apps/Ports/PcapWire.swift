import PMDCore
import PcapIO
import Synchronization
import VFSimulator

/// A simulated wire fed from a pcap file: every frame of the file, `loop` times, as fast as the
/// VF takes them; then exhausted. Frames shorter than 60 bytes are padded with zeros to 60, as
/// the sending NIC pads them on real Ethernet (a capture taken at the sender shows them short). With `credit` set, the far end honours flow control (802.3x
/// PAUSE): it sends only as many frames as the VF has free receive descriptors, so a replay
/// loses nothing to a slower receiver. The file is read once, at open (a malformed one fails there,
/// naming the record), into one block of memory that the frames reference without copying.
public final class PcapFrameSource: FrameSource, @unchecked Sendable {
    // @unchecked: `pull` runs on the engine's thread only; the progress counters are atomics.

    /// Shortest frame on the wire (without FCS).
    public static let minimumFrame = 60
    /// The file.
    public let path: String
    /// Frames in the file.
    public let framesPerPass: Int
    /// Passes over the file.
    public let loop: Int
    private let arena: UnsafeMutableRawPointer
    private let offsets: [Int]
    private let lengths: [Int]
    private let timestamps: [UInt64]
    private var next = 0
    private var pass = 0
    private let delivered = Atomic<Int>(0)
    /// The file stays an input of the run while it plays: no output may overwrite it.
    private let claim: CaptureFiles.InputClaim
    /// Frames the receiver can take now (flow control); nil sends regardless.
    public var credit: (@Sendable () -> Int)?

    /// Reads every frame of `path`.
    public init(path: String, loop: Int = 1) throws(PcapError) {
        precondition(loop >= 1)
        let reader = try PcapReader(path: path)
        defer { reader.close() }
        claim = CaptureFiles.InputClaim(path: path)
        let frames = try reader.readAll()
        self.path = path
        self.loop = loop
        framesPerPass = frames.count
        var offsets: [Int] = [], lengths: [Int] = [], stamps: [UInt64] = []
        var total = 0
        for f in frames {
            offsets.append(total)
            lengths.append(max(f.bytes.count, Self.minimumFrame))
            stamps.append(f.timestampNanoseconds)
            total += (max(f.bytes.count, Self.minimumFrame) + 63) & ~63
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: max(total, 64), alignment: 64)
        block.initializeMemory(as: UInt8.self, repeating: 0, count: max(total, 64))
        for (i, f) in frames.enumerated() {
            f.bytes.withUnsafeBytes { (block + offsets[i]).copyMemory(from: $0.baseAddress!, byteCount: f.bytes.count) }
        }
        arena = block
        self.offsets = offsets
        self.lengths = lengths
        timestamps = stamps
    }

    deinit { arena.deallocate() }

    /// Frames handed to the VF so far.
    public var framesDelivered: Int { delivered.load(ordering: .acquiring) }
    /// Frames the source will hand over in all; nil when it plays without end.
    public var totalFrames: Int? {
        let (total, overflow) = framesPerPass.multipliedReportingOverflow(by: loop)
        return overflow ? nil : total
    }

    public var isExhausted: Bool { totalFrames.map { framesDelivered >= $0 } ?? false }

    public func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int {
        guard framesPerPass > 0 else { return 0 }
        let allowed = credit.map { min(limit, $0()) } ?? limit
        var n = 0
        while n < allowed, pass < loop, !batch.isFull {
            batch.append(FrameRef(data: arena + offsets[next], length: lengths[next], timestamp: timestamps[next]))
            n += 1
            next += 1
            if next == framesPerPass { next = 0; pass += 1 }
        }
        if n > 0 { delivered.add(n, ordering: .releasing) }
        return n
    }
}

/// A simulated wire that writes what the VF transmits to a pcap file (nanosecond timestamps:
/// the time the frame left the VF). Closed by `close()`, which writes what is buffered.
///
/// Its counters say what reached the file: `framesWritten` frames are whole in it, `drops`
/// never will be (a write of the file failed; the file ends with its last whole record).
public final class PcapFrameSink: FrameSink, @unchecked Sendable {
    // @unchecked: `push` runs on the engine's thread; `close` after the VF was detached; the
    // counters other threads read are atomics.

    private let writer: PcapFileWriter
    /// The file.
    public var path: String { writer.path }
    private let written = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)
    private let firstFailure = Locked<PcapError?>(nil)

    /// Creates (or truncates) `path`.
    public init(path: String) throws(PcapError) {
        writer = try PcapFileWriter(path: path)
    }

    /// Frames whole in the file.
    public var framesWritten: UInt64 { written.load(ordering: .acquiring) }
    /// Frames that will never be in the file: a write of it failed.
    public var drops: UInt64 { dropped.load(ordering: .acquiring) }
    /// The error of the write (or the close) of the file that failed, naming the file.
    public var failure: PcapError? { firstFailure.withLock { $0 } }

    /// Writes the frames (the buffer reaches the file when full); accepts none once the file failed.
    public func push(_ batch: FrameBatch, now: UInt64) -> Int {
        let accepted = writer.hasFailed ? 0 : batch.count
        let wall = MonotonicClock.wallNanoseconds()
        var sink = writer.sink
        for i in 0..<batch.count {
            let f = batch[i]
            sink.write(f.data, length: f.length, wallNanoseconds: wall)
        }
        writer.sink = sink
        publishCounters()
        return accepted
    }

    /// Writes what is buffered and closes the file; a failure is kept in `failure`.
    public func close() {
        do throws(PcapError) { try writer.close() } catch { keep(error) }
        publishCounters()
    }

    private func publishCounters() {
        written.store(UInt64(writer.recordsWritten), ordering: .releasing)
        dropped.store(UInt64(writer.recordsDropped), ordering: .releasing)
        if let error = writer.failure { keep(error) }
    }

    private func keep(_ error: PcapError) {
        firstFailure.withLock { kept in kept = kept ?? error }
    }
}
