import PMDCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A source of frames held in memory: a list given by a test, or the frames of a file read by
/// an adapter. Plays them once, `loops` times, or forever; as fast as the VF takes them or
/// paced by their timestamps (relative to the first frame, starting when first asked).
public final class MemorySource: FrameSource, @unchecked Sendable {
    // @unchecked: pulled by one engine thread; the counters read by others are atomics.

    /// How many times the list plays; nil: forever.
    public let loops: Int?
    /// Whether frames come at their timestamps' pace.
    public let paced: Bool
    private let storage: UnsafeMutableRawPointer
    private let offsets: [Int]
    private let lengths: [Int]
    private let timestamps: [UInt64]
    private let loopDuration: UInt64
    // Pulled by one thread at a time: no dynamic exclusivity check at each pull.
    @exclusivity(unchecked) private var index = 0
    @exclusivity(unchecked) private var loop = 0
    @exclusivity(unchecked) private var origin: UInt64?
    private let produced = Atomic<Int>(0)
    private let done = Atomic<Bool>(false)

    /// Frames (bytes without CRC) with optional capture timestamps in nanoseconds.
    public init(frames: [[UInt8]], timestamps: [UInt64]? = nil, loops: Int? = 1, paced: Bool = false) {
        precondition(timestamps == nil || timestamps!.count == frames.count, "one timestamp per frame")
        let total = frames.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, total), alignment: 64)
        var offsets = [Int]()
        var at = 0
        for f in frames {
            offsets.append(at)
            if !f.isEmpty { f.withUnsafeBytes { _ = memcpy(storage + at, $0.baseAddress!, f.count) } }
            at += f.count
        }
        self.storage = storage
        self.offsets = offsets
        lengths = frames.map(\.count)
        self.timestamps = timestamps ?? Array(repeating: 0, count: frames.count)
        let span = (self.timestamps.last ?? 0) &- (self.timestamps.first ?? 0)
        loopDuration = span &+ 1000
        self.loops = loops
        self.paced = paced
        if frames.isEmpty || loops == 0 { done.store(true, ordering: .relaxed) }
    }

    deinit { storage.deallocate() }

    /// Frames handed out so far.
    public var framesProduced: Int { produced.load(ordering: .relaxed) }
    /// Whether every loop was played.
    public var isExhausted: Bool { done.load(ordering: .acquiring) }

    public func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int {
        guard !done.load(ordering: .relaxed) else { return 0 }
        if origin == nil { origin = now }
        var n = 0
        while n < limit && !batch.isFull {
            if paced {
                let due = origin! &+ (timestamps[index] &- timestamps[0]) &+ UInt64(loop) &* loopDuration
                if due > now { break }
            }
            batch.append(FrameRef(data: storage + offsets[index], length: lengths[index], timestamp: timestamps[index]))
            n += 1
            index += 1
            if index == offsets.count {
                index = 0
                loop += 1
                if let loops, loop >= loops {
                    done.store(true, ordering: .releasing)
                    break
                }
            }
        }
        produced.add(n, ordering: .relaxed)
        return n
    }
}

/// A sink that keeps copies of the frames it receives, for tests.
public final class MemorySink: FrameSink, @unchecked Sendable {
    // @unchecked: the frame list is behind a lock.

    /// A frame as received.
    public struct Frame: Sendable, Equatable {
        /// Bytes without CRC.
        public var bytes: [UInt8]
        /// Engine time it was sent.
        public var timestamp: UInt64
    }

    /// Frames kept at most; later frames are dropped and counted.
    public let capacity: Int
    private let kept = Locked<[Frame]>([])
    private let dropCount = Atomic<UInt64>(0)

    /// A sink that keeps up to `capacity` frames.
    public init(capacity: Int = 100_000) { self.capacity = capacity }

    /// The frames received, oldest first.
    public var frames: [Frame] { kept.withLock { $0 } }
    /// How many frames are kept.
    public var count: Int { kept.withLock { $0.count } }
    /// Frames refused because the sink was full.
    public var drops: UInt64 { dropCount.load(ordering: .relaxed) }

    public func push(_ batch: FrameBatch, now: UInt64) -> Int {
        kept.withLock { list in
            var accepted = 0
            for i in 0..<batch.count {
                guard list.count < capacity else {
                    dropCount.add(1, ordering: .relaxed)
                    continue
                }
                list.append(Frame(bytes: batch[i].bytes, timestamp: batch[i].timestamp))
                accepted += 1
            }
            return accepted
        }
    }
}
