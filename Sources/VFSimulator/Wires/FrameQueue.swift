import CShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A bounded frame queue between two engine threads: single producer, single consumer, slots
/// of fixed size, positions published with acquire/release. It is both a sink (the sending
/// side) and a source (the receiving side). A frame that does not fit (queue full, longer than
/// a slot) is dropped and counted. Building block of cables and switches.
public final class FrameQueue: FrameSource, FrameSink, @unchecked Sendable {
    // @unchecked: one producer thread and one consumer thread at a time (a switch serialises its
    // producers with a lock); the positions are atomics, each slot is owned by one side at a time.

    /// Slots in the queue.
    public let capacity: Int
    /// Largest frame a slot holds.
    public let slotSize: Int
    private let lengths: UnsafeMutablePointer<Int>
    private let timestamps: UnsafeMutablePointer<UInt64>
    private let slots: UnsafeMutableRawPointer
    private let written = Atomic<Int>(0)
    private let read = Atomic<Int>(0)
    private let dropCount = Atomic<UInt64>(0)
    private let finished = Atomic<Bool>(false)

    /// A queue of `capacity` frames of at most `slotSize` bytes (default: 9728-byte jumbo).
    public init(capacity: Int = 1024, slotSize: Int = 9728) {
        precondition(capacity > 0 && slotSize >= 64)
        self.capacity = capacity
        self.slotSize = slotSize
        lengths = .allocate(capacity: capacity)
        timestamps = .allocate(capacity: capacity)
        slots = .allocate(byteCount: capacity * slotSize, alignment: 64)
    }

    deinit {
        lengths.deallocate()
        timestamps.deallocate()
        slots.deallocate()
    }

    /// Frames waiting.
    public var count: Int { written.load(ordering: .acquiring) - read.load(ordering: .acquiring) }
    /// Frames refused (queue full or frame longer than a slot).
    public var drops: UInt64 { dropCount.load(ordering: .relaxed) }

    /// Marks the producing side as finished: once drained, the queue is exhausted.
    public func finish() { finished.store(true, ordering: .releasing) }
    /// Whether the producer finished and every frame was taken.
    public var isExhausted: Bool { finished.load(ordering: .acquiring) && count == 0 }

    /// Enqueues one frame; false (and counted) when it does not fit.
    @inlinable @discardableResult
    public func enqueue(_ frame: FrameRef) -> Bool { enqueue(frame.data, length: frame.length, timestamp: frame.timestamp) }

    /// Enqueues `length` bytes at `data`; false (and counted) when they do not fit.
    @discardableResult
    public func enqueue(_ data: UnsafeRawPointer, length: Int, timestamp: UInt64) -> Bool {
        let w = written.load(ordering: .relaxed)
        guard length <= slotSize, w - read.load(ordering: .acquiring) < capacity else {
            dropCount.add(1, ordering: .relaxed)
            return false
        }
        let i = w % capacity
        memcpy(slots + i * slotSize, data, length)
        lengths[i] = length
        timestamps[i] = timestamp
        written.store(w + 1, ordering: .releasing)
        return true
    }

    /// Enqueues the batch's frames in order with one acquire load of the consumer's position
    /// and one release store of the producer's: what does not fit is dropped and counted.
    public func push(_ batch: FrameBatch, now: UInt64) -> Int {
        let start = written.load(ordering: .relaxed)
        let room = capacity &- (start &- read.load(ordering: .acquiring))
        var w = start
        var slot = start % capacity
        var refused: UInt64 = 0
        // The batch's frames and count in locals: no reload of the batch per frame.
        let frames = batch.refs, n = batch.count
        var i = 0
        while i < n {
            let frame = frames[i]
            i &+= 1
            guard frame.length <= slotSize, w &- start < room else {
                refused &+= 1
                continue
            }
            memcpy(slots + slot &* slotSize, frame.data, frame.length)
            lengths[slot] = frame.length
            timestamps[slot] = frame.timestamp
            w &+= 1
            slot = slot &+ 1 == capacity ? 0 : slot &+ 1
        }
        if w != start { written.store(w, ordering: .releasing) }
        if refused != 0 { dropCount.add(refused, ordering: .relaxed) }
        return w &- start
    }

    /// Frames taken by the last `pull` are released at the start of the next one, so the
    /// references it handed out stay valid in between.
    // The consumer's alone: no dynamic exclusivity check at each pull.
    @exclusivity(unchecked) private var pendingRelease = 0

    public func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int {
        var r = read.load(ordering: .relaxed)
        if pendingRelease > 0 {
            r += pendingRelease
            read.store(r, ordering: .releasing)
            pendingRelease = 0
        }
        let available = written.load(ordering: .acquiring) - r
        let start = batch.count
        let n = min(available, limit, batch.capacity - start)
        guard n > 0 else { return 0 }
        // The batch's frames in a local and its count stored once: no reload of the batch per frame.
        let frames = batch.refs
        var i = r % capacity
        for k in 0..<n {
            frames[start &+ k] = FrameRef(data: slots + i &* slotSize, length: lengths[i], timestamp: timestamps[i])
            i = i &+ 1 == capacity ? 0 : i &+ 1
        }
        batch.storedCount = start &+ n
        pendingRelease = n
        return n
    }
}
