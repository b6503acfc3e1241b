/// A burst of up to `PacketBatch.capacity` packets of one pool, owned as a whole.
///
/// Inside it holds raw buffer indices in an `InlineArray` (no heap, no reference counting);
/// its API moves ownership in and out. Ports receive into the free space at the back and
/// transmit from the front: `transmit` removes what it sent and leaves the rest. Dropping a
/// batch returns every packet it still holds to the pool.
@frozen
public struct PacketBatch: ~Copyable {
    /// Most packets a batch holds.
    public static let capacity = 64

    @usableFromInline var slots: InlineArray<64, UInt32>
    @usableFromInline var start: Int
    @usableFromInline var end: Int
    @usableFromInline var owner: PoolRef
    /// Most packets this batch takes in (its burst size), at most `capacity`.
    public let burst: Int
    /// The pool of every packet in the batch.
    @inlinable public var pool: PoolRef { owner }

    /// An empty batch for packets of `pool`, taking in at most `burst` packets.
    @inlinable
    public init(pool: PoolRef, burst: Int = PacketBatch.capacity) {
        precondition(burst >= 1 && burst <= Self.capacity, "burst must be 1...\(Self.capacity)")
        slots = InlineArray(repeating: 0)
        start = 0
        end = 0
        owner = pool
        self.burst = burst
    }

    /// An empty batch that takes the pool of the first packets put into it.
    @inlinable
    public init(burst: Int = PacketBatch.capacity) { self.init(pool: PoolRef.detached, burst: burst) }

    @inlinable
    deinit {
        var i = start
        while i < end {
            pool.give(slots[i])
            i &+= 1
        }
    }

    /// Packets in the batch.
    @inlinable public var count: Int { end &- start }
    /// Whether the batch holds no packet.
    @inlinable public var isEmpty: Bool { end == start }
    /// How many more packets fit (after `compact()`), up to the burst size.
    @inlinable public var freeCapacity: Int { burst &- count }

    /// A view of the `i`-th packet (0 is the front).
    @inlinable
    public subscript(i: Int) -> PacketView {
        precondition(i >= 0 && i < count, "batch index out of range")
        return PacketView(pool: pool, index: slots[start &+ i])
    }

    /// The buffer index of the `i`-th packet, for ports that hand buffers to a ring.
    @inlinable
    public func index(at i: Int) -> UInt32 { slots[start &+ i] }

    /// Calls `body` with the buffer indices of the packets, front to back, without copying
    /// the batch (reading them one by one with `index(at:)` may copy the whole batch each time).
    @inlinable
    public func withIndices<R>(_ body: (UnsafeBufferPointer<UInt32>) throws -> R) rethrows -> R {
        try slots.span.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[start..<end]))
        }
    }

    /// Calls `body` with a pointer to the buffer indices of the packets, front to back, and
    /// their count, in place (for a port that hands them to a ring; no copy of the batch).
    @inlinable
    public mutating func withIndexPointer<R>(_ body: (UnsafePointer<UInt32>, Int) throws -> R) rethrows -> R {
        let start = self.start, count = self.count
        return try withUnsafeMutablePointer(to: &slots) { all in
            try body(UnsafeRawPointer(all).assumingMemoryBound(to: UInt32.self) + start, count)
        }
    }

    /// Moves the packets to the front so that `freeCapacity` slots are free at the back.
    @inlinable
    public mutating func compact() {
        guard start > 0 else { return }
        var i = 0
        while start &+ i < end {
            slots[i] = slots[start &+ i]
            i &+= 1
        }
        end = i
        start = 0
    }

    /// Makes the batch accept packets of `newPool`; only when it is empty.
    @inlinable
    public mutating func adopt(pool newPool: PoolRef) -> Bool {
        if newPool == pool { return true }
        guard isEmpty else { return false }
        owner = newPool
        start = 0
        end = 0
        return true
    }

    /// Appends a packet of the batch's pool; hands it back when the batch is full or the
    /// packet is of another pool.
    @inlinable
    public mutating func append(_ packet: consuming Packet) -> Packet? {
        guard packet.pool == pool || adopt(pool: packet.pool) else { return packet }
        compact()
        guard end < burst else { return packet }
        slots[end] = packet.consumeIndex()
        end &+= 1
        return nil
    }

    /// Appends a raw buffer index that the caller owns and gives up (ports filling a batch
    /// from a ring). The caller has made room (`compact()`, then at most `freeCapacity`).
    @inlinable
    public mutating func appendOwnedIndex(_ index: UInt32) {
        precondition(end < Self.capacity, "batch overflow")
        slots[end] = index
        end &+= 1
    }

    /// Lets `body` write raw buffer indices that the caller owns and gives up straight into the
    /// free space at the back (ports filling a batch from a ring). `body` gets where to write and
    /// how many fit (`freeCapacity`, after `compact()`), and returns how many it wrote; that is
    /// checked once, not per index. Returns it.
    @inlinable
    public mutating func appendOwnedIndices(_ body: (UnsafeMutablePointer<UInt32>, Int) -> Int) -> Int {
        compact()
        let room = burst &- end
        let end = self.end
        let written = withUnsafeMutablePointer(to: &slots) { all in
            body(UnsafeMutableRawPointer(all).assumingMemoryBound(to: UInt32.self) + end, room)
        }
        precondition(written >= 0 && written <= room, "batch overflow")
        self.end = end &+ written
        return written
    }

    /// Removes and returns the front packet.
    @inlinable
    public mutating func popFirst() -> Packet? {
        guard start < end else { return nil }
        let index = slots[start]
        start &+= 1
        if start == end { start = 0; end = 0 }
        return Packet(pool: pool, index: index)
    }

    /// Gives up ownership of the first `n` packets: a port took their buffers (into a ring).
    @inlinable
    public mutating func removeFirstOwned(_ n: Int) {
        precondition(n >= 0 && n <= count, "cannot remove more packets than the batch holds")
        start &+= n
        if start == end { start = 0; end = 0 }
    }

    /// Returns every packet to the pool.
    @inlinable
    public mutating func removeAll() {
        while start < end {
            pool.give(slots[start])
            start &+= 1
        }
        start = 0
        end = 0
    }

    /// Calls `body` with a view of each packet, front to back, for in-place rewrites.
    @inlinable
    public func forEach(_ body: (PacketView) throws -> Void) rethrows {
        var i = start
        while i < end {
            try body(PacketView(pool: pool, index: slots[i]))
            i &+= 1
        }
    }
}

extension PoolRef {
    /// A pool of no buffers: what an empty batch holds before it adopts a real pool.
    public static let detached: PoolRef = PoolRef(storage: MempoolStorage.allocate(
        base: UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64),
        layout: MempoolLayout(capacity: 0, stride: 64, segmentSize: nil), headroom: 0, dataRoom: 64))
}
