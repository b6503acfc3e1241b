#if canImport(Glibc)
import Glibc
#endif

/// One frame on a wire: bytes without the 4-byte CRC, and when it was seen.
@frozen
public struct FrameRef {
    /// First byte (destination MAC).
    public var data: UnsafeRawPointer
    /// Bytes, without CRC.
    public var length: Int
    /// Nanoseconds: engine time when produced, or the capture time of a recorded frame.
    public var timestamp: UInt64

    /// A frame of `length` bytes at `data`.
    @inlinable
    public init(data: UnsafeRawPointer, length: Int, timestamp: UInt64) {
        self.data = data
        self.length = length
        self.timestamp = timestamp
    }

    /// The bytes as an array (tests).
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: data, count: length)) }
}

/// A burst of frames moving along a wire, allocated once and reused: the hot path neither
/// allocates nor counts references per frame.
///
/// A frame is either a reference to memory its producer keeps valid until its next call
/// (`append(_:)`, zero copy), or bytes in the batch's own arena (`slot(_:)` + `commitSlot`).
public final class FrameBatch: @unchecked Sendable {
    // @unchecked: a batch is used by one thread at a time (the engine step that owns it).

    /// Frames a batch holds by default (one engine burst).
    public static let defaultCapacity = 64
    /// Largest frame a batch slot holds by default (16 KiB: the largest TX gather).
    public static let defaultSlotSize = 16 * 1024

    /// Most frames.
    public let capacity: Int
    /// Bytes per arena slot.
    public let slotSize: Int
    /// Frames in the batch.
    @inlinable public var count: Int { storedCount }
    // One thread at a time uses a batch: no dynamic exclusivity check at each access.
    @exclusivity(unchecked) @usableFromInline var storedCount = 0
    @usableFromInline let refs: UnsafeMutablePointer<FrameRef>
    @usableFromInline let arena: UnsafeMutableRawPointer

    /// An empty batch of `capacity` frames with arena slots of `slotSize` bytes.
    public init(capacity: Int = FrameBatch.defaultCapacity, slotSize: Int = FrameBatch.defaultSlotSize) {
        precondition(capacity > 0 && slotSize >= 64)
        self.capacity = capacity
        self.slotSize = slotSize
        refs = .allocate(capacity: capacity)
        arena = .allocate(byteCount: capacity * slotSize, alignment: 64)
    }

    deinit {
        refs.deallocate()
        arena.deallocate()
    }

    /// Whether the batch is full.
    @inlinable public var isFull: Bool { count >= capacity }

    /// Empties the batch.
    @inlinable public func removeAll() { storedCount = 0 }

    /// The `i`-th frame.
    @inlinable
    public subscript(i: Int) -> FrameRef { refs[i] }

    /// Appends a reference to a frame (no copy); false when full.
    @inlinable @inline(__always) @discardableResult
    public func append(_ frame: FrameRef) -> Bool {
        guard count < capacity else { return false }
        refs[count] = frame
        storedCount &+= 1
        return true
    }

    /// The arena slot the next frame would use: write up to `slotSize` bytes, then `commitSlot`.
    @inlinable
    public var nextSlot: UnsafeMutableRawPointer { arena + count &* slotSize }

    /// Appends the frame written into `nextSlot`; false when full.
    @inlinable @inline(__always) @discardableResult
    public func commitSlot(length: Int, timestamp: UInt64) -> Bool {
        guard count < capacity, length <= slotSize else { return false }
        refs[count] = FrameRef(data: nextSlot, length: length, timestamp: timestamp)
        storedCount &+= 1
        return true
    }

    /// Copies `length` bytes into the next slot and appends them; false when full or too long.
    @inlinable @discardableResult
    public func appendCopy(_ data: UnsafeRawPointer, length: Int, timestamp: UInt64) -> Bool {
        guard count < capacity, length <= slotSize else { return false }
        memcpy(nextSlot, data, length)
        return commitSlot(length: length, timestamp: timestamp)
    }

    /// Copies `bytes` into the next slot and appends them (tests and control paths).
    @discardableResult
    public func appendCopy(_ bytes: [UInt8], timestamp: UInt64 = 0) -> Bool {
        bytes.withUnsafeBytes { appendCopy($0.baseAddress!, length: bytes.count, timestamp: timestamp) }
    }
}

/// Where a VF's received frames come from. Called once per engine burst from the engine's
/// thread; implementations do their per-frame work without allocating.
///
/// A finite source (a file, a counted generator) reports `isExhausted` once it has produced
/// its last frame; a paced source (a file with its own timing, a rate-limited generator)
/// returns only frames whose time has come at `now`.
public protocol FrameSource: AnyObject, Sendable {
    /// Appends up to `limit` frames due at `now` (engine nanoseconds) to `batch`; returns how
    /// many. Referenced bytes stay valid until the next call.
    func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int
    /// Whether no frame will ever come again.
    var isExhausted: Bool { get }
}

/// Where a VF's transmitted frames go. Called once per engine burst.
public protocol FrameSink: AnyObject, Sendable {
    /// Takes the frames of `batch` (copying what it keeps: the batch is reused); returns how
    /// many it accepted. A sink counts the frames it refused in its own `drops`.
    @discardableResult
    func push(_ batch: FrameBatch, now: UInt64) -> Int
    /// Frames refused so far (full queue, too large, no destination).
    var drops: UInt64 { get }
}
